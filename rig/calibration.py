"""Placeholder: replaced by the rig-check work (calibration file in the data directory)."""


def apply_calibration(config):
    return config
