"""``stairrig sessions``, ``stairrig athletes`` and ``stairrig history``: the history from the command line.

Each command says where the history is with ``--data-dir DIR`` or ``--config
FILE`` (its ``data_dir``); without either, ``$STAIRRIG_DATA_DIR`` or
``/var/lib/stairrig``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from rig.cli_common import data_dir_from_args
from rig.logsafe import escaped


def add_parsers(sub, number_types) -> None:
    weight = number_types["weight"]

    def where(p):
        p.add_argument("--data-dir", help="the data directory (default $STAIRRIG_DATA_DIR or /var/lib/stairrig)")
        p.add_argument("--config", help="take the data directory from this configuration file")
        p.add_argument("--json", action="store_true", help="print JSON")

    s = sub.add_parser("sessions", help="list, show, export sessions and add notes")
    ss = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = ss.add_parser("list", help="the sessions, newest first"); where(p)
    p.add_argument("--athlete", help="only this athlete's")
    p.add_argument("--limit", type=int, default=50)
    p = ss.add_parser("show", help="one session with its flights and events"); where(p)
    p.add_argument("id", type=int)
    p = ss.add_parser("export", help="one session or the whole history as CSV or JSON, a session as a FIT "
                      "activity (Garmin Connect, Strava, intervals.icu), or a raw trace"); where(p)
    p.add_argument("id", type=int, nargs="?", help="a session (default: the whole history)")
    p.add_argument("--format", choices=("csv", "json", "fit", "trace"), default="json")
    p.add_argument("--athlete", help="only this athlete's sessions")
    p.add_argument("--out", help="the file to write (default: standard output; required for a trace; for FIT "
                   "stairrig-DATE-ID.fit in the current directory, or in --out when it is a directory)")
    p = ss.add_parser("start", help="start a session now (the running rig takes it within 2 s)"); where(p)
    p = ss.add_parser("stop", help="end the current session (the running rig takes it within 2 s)"); where(p)
    p = ss.add_parser("notes", help="the athlete's own notes on a session"); where(p)
    p.add_argument("id", type=int)
    p.add_argument("--effort", type=int, help="0 to 10")
    p.add_argument("--pain", type=int, help="0 to 10")
    p.add_argument("--dizziness", choices=("yes", "no"))
    p.add_argument("--text")

    a = sub.add_parser("athletes", help="athletes: list, add, select, delete, and what to train next")
    aa = a.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = aa.add_parser("list", help="the athletes, and which is selected"); where(p)
    p = aa.add_parser("add", help="a new athlete"); where(p)
    p.add_argument("name")
    p.add_argument("--weight-kg", type=weight, required=True)
    p = aa.add_parser("select", help="the athlete of the next session"); where(p)
    p.add_argument("name")
    p = aa.add_parser("delete", help="an athlete with all their sessions and traces"); where(p)
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="really delete (health data: there is no undo)")
    p = aa.add_parser("next", help="the progression's recommendation, with its reason"); where(p)
    p.add_argument("name", nargs="?", help="default: the selected athlete")

    h = sub.add_parser("history", help="back up or restore the whole history")
    hh = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = hh.add_parser("backup", help="the whole history to one file"); where(p)
    p.add_argument("file")
    p = hh.add_parser("restore", help="the whole history from a backup"); where(p)
    p.add_argument("file")
    p.add_argument("--force", action="store_true", help="replace an existing history")
    for parser in (s, a, h):
        parser.set_defaults(func=main)


def _fail(message: str) -> int:
    print(f"stairrig: {message}", file=sys.stderr)
    return 1


def _athlete(store, name: str | None) -> dict | None:
    """The athlete named exactly (runs of spaces, tabs or line ends as one space, as the history
    keeps names), else the only one whose name matches ignoring case; ValueError when several do
    (deleting health data must never guess)."""
    if name is None:
        return store.selected_athlete()
    name = " ".join(name.split())
    athletes = store.athletes()
    exact = [a for a in athletes if a["name"] == name]
    if exact:
        return exact[0]
    folded = [a for a in athletes if a["name"].casefold() == name.casefold()]
    if len(folded) > 1:
        raise ValueError(f"{name!r} matches {', '.join(repr(a['name']) for a in folded)}: give the exact name")
    return folded[0] if folded else None


def _print(args, data, table) -> None:
    if args.json:
        print(json.dumps(data, indent=1, default=str))
    else:
        print(table(data))


def main(args) -> int:
    from rig.history import HistoryStore, HistoryUnavailable, backup, restore

    data_dir = data_dir_from_args(args)
    if args.command == "history" and args.action == "restore":
        try:
            restore(data_dir, args.file, force=args.force)
        except (HistoryUnavailable, ValueError, OSError) as exc:
            return _fail(str(exc))
        print(f"restored the history in {data_dir} from {args.file}")
        return 0
    if os.path.isdir(data_dir) and not os.access(data_dir, os.R_OK | os.X_OK):
        return _fail(f"{data_dir} is not readable by this user: the installed service's history belongs to "
                     f"its account, so run: sudo -u stairrig stairrig {args.command} {args.action} ...")
    if not os.path.exists(os.path.join(data_dir, "history.sqlite3")):
        return _fail(f"no history in {data_dir} (say where it is with --data-dir or --config)")
    try:
        store = HistoryStore.open(data_dir, exclusive=False)   # works beside a running service
    except HistoryUnavailable as exc:
        return _fail(str(exc))
    try:
        return _dispatch(args, store, data_dir, backup)
    except (ValueError, HistoryUnavailable) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    finally:
        store.close()


def _dispatch(args, store, data_dir, backup) -> int:
    from rig.history import export_history_json, export_session_json, export_sessions_csv
    command, action = args.command, args.action
    if command == "sessions":
        if action == "list":
            athlete = _athlete(store, args.athlete) if args.athlete else None
            if args.athlete and athlete is None:
                return _fail(f"no athlete named {args.athlete!r}")
            rows = store.sessions(athlete_id=athlete["id"] if athlete else None, limit=args.limit)
            _print(args, rows, _sessions_table)
        elif action == "show":
            session = store.session(args.id)
            if session is None:
                return _fail(f"no session {args.id}")
            _print(args, session, _session_text)
        elif action == "export":
            return _export(args, store, export_history_json, export_session_json, export_sessions_csv)
        elif action in ("start", "stop"):
            store.request("start_session" if action == "start" else "end_session")
            store.flush()
            print(f"asked the rig to {action} a session")
        elif action == "notes":
            if store.session(args.id) is None:
                return _fail(f"no session {args.id}")
            if all(v is None for v in (args.effort, args.pain, args.dizziness, args.text)):
                return _fail("give at least one of --effort, --pain, --dizziness, --text")
            dizzy = None if args.dizziness is None else args.dizziness == "yes"
            store.set_notes(args.id, effort=args.effort, pain=args.pain, dizziness=dizzy, text=args.text)
            store.flush()
            print(f"notes saved for session {args.id}")
    elif command == "athletes":
        if action == "list":
            selected = store.selected_athlete()
            rows = [{**a, "selected": selected is not None and a["id"] == selected["id"]} for a in store.athletes()]
            _print(args, rows, _athletes_table)
        elif action == "add":
            athlete_id = store.add_athlete(args.name, args.weight_kg)
            added = store.athlete(athlete_id) or {"name": args.name}     # the name as the history keeps it
            print(f"added {escaped(added['name'])} (athlete {athlete_id})")
        elif action == "select":
            athlete = _athlete(store, args.name)
            if athlete is None:
                return _fail(f"no athlete named {args.name!r}")
            store.select_athlete(athlete["id"])
            print(f"{escaped(athlete['name'])} is the athlete of the next session")
        elif action == "delete":
            athlete = _athlete(store, args.name)
            if athlete is None:
                return _fail(f"no athlete named {args.name!r}")
            if not args.yes:
                return _fail(f"this deletes {escaped(athlete['name'])} with every session and trace; add --yes to do it")
            counts = store.delete_athlete(athlete["id"])
            print(f"deleted {escaped(athlete['name'])}: {counts}")
        elif action == "next":
            from rig.outputs.history import outcomes
            from rig.progression import first_level, recommend
            athlete = _athlete(store, args.name)
            if athlete is None:
                return _fail(f"no athlete named {args.name!r}" if args.name else "no athlete selected")
            rec = recommend(outcomes(store, athlete["id"]), athlete["level"] or first_level().key)
            data = {"athlete": athlete["name"], "action": rec.action, "level": rec.level,
                    "previous_level": rec.previous_level, "reason": rec.reason, "rule": rec.rule,
                    "drill": vars(rec.drill), "flags": list(rec.flags)}
            _print(args, data, lambda d: "\n".join([f"{escaped(d['athlete'])}: {d['reason']}",
                                                     *(f"  for the coach: {f}" for f in d["flags"])]))
    elif command == "history" and action == "backup":
        backup(store, args.file)
        print(f"backed up the history of {data_dir} to {args.file}")
    return 0


def _export(args, store, export_history_json, export_session_json, export_sessions_csv) -> int:
    athlete_id = None
    if args.athlete:
        athlete = _athlete(store, args.athlete)
        if athlete is None:
            return _fail(f"no athlete named {args.athlete!r}")
        athlete_id = athlete["id"]
    if args.format == "fit":
        return _export_fit(args, store, athlete_id)
    if args.format == "trace":
        if args.id is None or not args.out:
            return _fail("a trace export needs a session id and --out FILE")
        session = store.session(args.id)
        if session is None or not session.get("trace_path") or not os.path.exists(session["trace_path"]):
            return _fail(f"session {args.id} has no raw trace (never recorded, or pruned)")
        shutil.copyfile(session["trace_path"], args.out)
        print(f"wrote {args.out}")
        return 0
    if args.id is not None and store.session(args.id) is None:
        return _fail(f"no session {args.id}")      # before opening --out: never empty a file for nothing
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        if args.format == "csv":
            export_sessions_csv(store, out, athlete_id=athlete_id, session_id=args.id)
        elif args.id is not None:
            data = export_session_json(store, args.id)
            if data is None:
                return _fail(f"no session {args.id}")
            json.dump(data, out, indent=1, default=str)
            out.write("\n")
        else:
            export_history_json(store, out, athlete_id=athlete_id)
    finally:
        if args.out:
            out.close()
    return 0


def _export_fit(args, store, athlete_id) -> int:
    from rig.history.export import export_session_fit
    if args.id is None:
        return _fail("a FIT export needs a session id (one session is one activity): "
                     "stairrig sessions export ID --format fit")
    session = store.session(args.id)
    if session is None:
        return _fail(f"no session {args.id}")
    if athlete_id is not None and session["athlete_id"] != athlete_id:
        return _fail(f"session {args.id} is not {args.athlete!r}'s")
    body, name = export_session_fit(store, args.id)       # before opening --out: never empty a file for nothing
    if args.out == "-":
        if sys.stdout.isatty():
            return _fail("a FIT file is binary: give --out FILE, or send standard output to a file or a program")
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    path = args.out or name
    if os.path.isdir(path):
        path = os.path.join(path, name)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(body)
        os.replace(tmp, path)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"wrote {path} ({len(body)} bytes): import it into Garmin Connect, Strava or intervals.icu")
    return 0


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _sessions_table(rows) -> str:
    if not rows:
        return "no sessions yet"
    lines = ["   id  started (UTC)         min  steps  flights  contact  firm  level           status"]
    for r in rows:
        lines.append(f"{r['id']:>5}  {str(r['started_at'])[:19]:<20} {(r.get('duration_s') or 0) / 60:>4.0f} "
                     f"{r.get('steps') or 0:>6} {(r.get('ascents') or 0) + (r.get('descents') or 0):>8}  "
                     f"{_pct(r.get('contact_fraction')):>7} {_pct(r.get('firm_fraction')):>5}  "
                     f"{escaped(r.get('level') or '-'):<15} {escaped(r.get('status'))}")
    return "\n".join(lines)


def _session_text(s) -> str:
    from rig.report import format_summary
    head = escaped(f"session {s['id']}, {s['started_at']} ({s.get('status')}), level {s.get('level') or '-'}")
    text = format_summary(s["summary"], title=head, t_from="the session start") if s.get("summary") else head
    flights = s.get("flights") or []
    if flights:
        text += "\n\nflight  dir   time    steps  cadence"
        for f in flights:
            text += (f"\n{f['idx']:>6}  {f['direction']:<4} {f['duration_s']:>5.1f} s {f['steps']:>6}"
                     f"  {f['cadence_spm'] or 0:>5.0f}/min")
    notes = [f"{k} {escaped(s[k])}" for k in ("effort", "pain", "dizziness", "notes_text") if s.get(k) is not None]
    if s.get("energy_kcal") is not None:
        text += f"\n\nenergy (estimate)  {s['energy_kcal']:.1f} kcal"
    if notes:
        text += "\nnotes             " + ", ".join(notes)
    return text


def _athletes_table(rows) -> str:
    lines = ["   id  name                 weight  level"]
    for a in rows:
        lines.append(f"{a['id']:>5}  {escaped(a['name']):<20} {a['weight_kg']:>5.1f}  {a['level'] or '-'}"
                     + ("   (selected)" if a.get("selected") else ""))
    return "\n".join(lines)
