"""The hardware seam: gpiozero devices that hand timestamped samples to the engine."""
