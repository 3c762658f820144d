"""Outputs: bus subscribers that turn the engine's events into files, rows and messages."""
