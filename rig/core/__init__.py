"""The pure detection core: no hardware, network, storage or clock in here."""

from rig.core.detector import Detector

__all__ = ["Detector"]
