"""The rig trace format, version 1 (``docs/trace-format.md``): read and write."""

from rig.trace.header import TraceHeader, TraceError
from rig.trace.reader import read_trace, TraceFile
from rig.trace.writer import TraceWriter

__all__ = ["TraceHeader", "TraceError", "read_trace", "TraceFile", "TraceWriter"]
