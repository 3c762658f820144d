"""A real Home Assistant for the tests: its venvs (versions.py, provision.py) and a harness (instance.py)."""
