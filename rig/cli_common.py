"""What the ``stairrig`` commands share: loading the configuration, and where the data directory is.

``rig.cli`` (replay, simulate, demo, run), ``rig.cli_history`` (sessions,
athletes, history) and ``rig.cli_status`` (status) all import this module;
it imports none of them.
"""

from __future__ import annotations

import os

DEFAULT_DATA_DIR = "/var/lib/stairrig"


def load_config_or_exit(path: str | None):
    """The configuration at ``path`` (the packaged example when None); a bad one ends the command
    with its one-line message (exit status 1)."""
    from rig.config import ConfigError, example_config_path, load_config
    try:
        return load_config(path or example_config_path())
    except ConfigError as exc:
        raise SystemExit(f"stairrig: {exc}") from None


def data_dir_from_args(args) -> str:
    """``--data-dir``, else the ``data_dir`` of ``--config``, else ``$STAIRRIG_DATA_DIR``, else
    ``/var/lib/stairrig``."""
    if args.data_dir:
        return os.path.abspath(args.data_dir)
    if args.config:
        return load_config_or_exit(args.config).data_dir
    return os.environ.get("STAIRRIG_DATA_DIR", DEFAULT_DATA_DIR)
