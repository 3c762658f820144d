"""stairrig: instrumented stair training on a Raspberry Pi."""

__version__ = "0.1.0"
