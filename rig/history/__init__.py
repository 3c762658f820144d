"""The training history: athletes and sessions in SQLite, exports, backup, retention.

See ``store.py`` for the store (its athletes in ``athletes.py``, its sessions
in ``sessions.py``, what goes into rows in ``rows.py``, opening the file in
``opening.py``), ``writer.py`` for its one writer thread,
``schema.py`` for the versioned schema, ``export.py`` for exports, backup and
restore, and ``retention.py`` for pruning raw traces.
"""

from rig.history.export import (
    CSV_COLUMNS,
    backup,
    export_history_json,
    export_session_json,
    export_sessions_csv,
    export_trace,
    restore,
)
from rig.history.retention import prune_traces, traces_size
from rig.history.schema import APPLICATION_ID, FILENAME, SCHEMA_VERSION
from rig.history.store import HistoryStore, summary_columns
from rig.history.writer import HistoryUnavailable

__all__ = [
    "APPLICATION_ID", "CSV_COLUMNS", "FILENAME", "SCHEMA_VERSION",
    "HistoryStore", "HistoryUnavailable",
    "backup", "restore", "export_history_json", "export_session_json", "export_sessions_csv", "export_trace",
    "prune_traces", "traces_size", "summary_columns",
]
