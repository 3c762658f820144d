"""The engine's feeding: the queue's edges and commands and the ADC's scans, merged by time,
put on the trace's grid and fed to the run's detector and the session's (issue 12).

A mixin of ``rig.engine.Engine`` (its one job, apart from the engine's loop and commands):
it uses the engine's detector, sessions, ``_last_t``, ``_values``, ``_out``, ``_scans`` and
``_do_command``.
"""

from __future__ import annotations

import logging

from rig.trace.resolution import force_on_grid, time_on_grid

log = logging.getLogger("rig.engine")

COMMAND = object()
"""The first item of a command in the engine's queue: ``(COMMAND, name, kwargs, future)``."""


class FeedMixin:
    def _take_scans(self) -> list:
        """The force samples the ADC sampler handed over, as ``(t, channel, newtons)`` in time order."""
        scans = self._scans
        out = []
        while scans:
            t, readings = scans.popleft()
            for channel, value in readings:
                out.append((t, channel, value))
        return out

    def _feed(self, batch: list, scans: list = ()) -> None:
        """Feed the queue's items (edges and commands, in their order) and the force samples, merged
        by time: a force sample goes before the first edge stamped after it.

        The samples between two commands are put on the trace's grid and fed as one run
        (``_feed_run``), each detector taking them with ``feed_many``: a wake's hundred force
        samples cost one call, not a hundred (issue 12)."""
        channels = self.detector.channels
        last = self._last_t
        run = []
        n_scans = len(scans)
        i = 0
        for item in (*batch, None):
            if item is None:
                upto = float("inf")          # the force samples after the last edge
            elif item[0] is COMMAND:
                upto = last                  # a command acts at the time decided so far
            else:
                upto = item[0]
            while i < n_scans and scans[i][0] <= upto:
                t, channel, value = scans[i]
                i += 1
                if channel not in channels:
                    continue
                t = time_on_grid(t)
                if t < last:
                    self.late_samples += 1
                    t = last
                last = t
                run.append((t, channel, force_on_grid(value)))   # 0.1 mN, as the trace keeps it
            if item is None:
                break
            if item[0] is COMMAND:
                self._feed_run(run)
                run = []
                self._last_t = last
                self._do_command(*item[1:])
                continue
            t, channel, value = item
            if channel not in channels:
                log.warning("a sample from unknown channel %r was dropped", channel)
                continue
            # the trace's resolution (microseconds, 0.1 mN): live and its replay see the same
            t = time_on_grid(t)
            if channel[-6:] == ".force":
                value = force_on_grid(value)
            if t < last:     # stamped before a time already decided (a slow callback or ADC read)
                self.late_samples += 1
                t = last
            last = t
            run.append((t, channel, value))
        self._feed_run(run)
        self._last_t = last

    def _feed_run(self, run: list) -> None:
        """Samples on the grid and in time order, to the run's detector and the session's.

        With no session, the sessions' pre-roll ring takes them first: a step in them that starts
        a session (``_on_run_event``, during ``feed_many``) then finds them all in the ring, and
        its session is fed what one sample at a time would have fed it, in the same order."""
        if not run:
            return
        sessions = self.sessions
        in_session = sessions is not None and sessions.current is not None
        if sessions is not None and not in_session:
            sessions.keep(run)
        self.detector.feed_many(run)
        if in_session:
            sessions.sample_many(run)
        values = self._values
        for _, channel, value in run:
            values[channel] = value
        self._last_t = run[-1][0]
        self._out.extend(run)

