"""Timeline traces of a run: what to record, and the record as a Perfetto trace.

An engine that sees inside its tiles can record, cycle by cycle, what chosen PEs did (tasks
starting and ending, vector ops issued and finished: hdl/probe.py ``TraceEvents``) and which
wavelets left chosen links. ``TraceSpec`` says what to record; the engine returns a *raw trace*
(below); ``perfetto_json`` turns it into Chrome trace-event JSON, which the Perfetto UI
(ui.perfetto.dev) and chrome://tracing open.

Raw trace (what an engine returns; cycles count from the start of the run):
    {"window":      [first_cycle, end_cycle],        end exclusive (-1 or None: up to the last event)
     "pe_events":   [[cycle, row, col, kind, task], ...]
                    kind: "task_start" | "task_end" | "vec_issue" | "vec_done"; task: the task
                    running (or starting) in that cycle
     "link_events": [[cycle, row, col, side_index, color, ctrl], ...]
                    one wavelet leaving tile (row, col) on side EDGE_SIDES[side_index] that cycle
     "truncated":   bool                             the event budget ran out: recording stopped
     "pes":         [[row, col], ...]                the PEs recorded (a track each, even if idle)
     "links":       [[row, col, side_index], ...]}   the links recorded

The Perfetto trace: a process "PEs" with, per PE, a thread "PE (r, c)" holding its tasks (slices
"task N", from task_start to task_end) and one or more threads "PE (r, c) vector", "PE (r, c)
vector 2", ... holding its vector ops (slices "vec", from vec_issue to vec_done); a process
"links" with a thread "(r, c) -> E" per link holding one 1-cycle slice per wavelet, "c<color>" or
"c<color> ctrl". Time is in microseconds at ``clock_hz`` (cycle / clock_hz * 1e6) on a
nanosecond grid; every slice's args carry its cycles.

Interface:
    TraceSpec(pes=None, links=None, window=None, max_events=200_000)
        pes:    None | "all" | [(row, col), ...]
        links:  None | "all" | [(row, col, side), ...]   side: "n"/"N", ..., a Port or its value
        window: None (the whole run) | (start, end)   cycles from the run's start, end exclusive
                (end None: to the end of the run)
        .check(rows, cols) -> TraceSpec     validated, "all" expanded, sides as Ports (SdkError)
        .to_dict(rows=None, cols=None) -> {"pes": [[r, c], ...], "links": [[r, c, side_index], ...],
                                           "window": [start, end or -1], "max_events": n}
    perfetto_json(raw, clock_hz=850e6, name="tessera run") -> dict   the trace-event JSON
    write_trace(path, raw, clock_hz=850e6, name="tessera run") -> Path
    read_trace(path) -> {"tasks": {(r, c): n}, "vector_ops": {(r, c): n},
                         "wavelets": {(r, c, side_letter): n}, "meta": otherData}
        slices per track of a written trace (every track, idle ones with 0)
"""

from __future__ import annotations

import heapq
import json
import math
import numbers
import re
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

from hdl.wavelet import COLOR_BITS, EDGE_SIDES, Port

from .errors import SdkError

__all__ = ["TraceSpec", "PE_EVENT_KINDS", "MAX_EVENTS_LIMIT", "perfetto_json", "write_trace", "read_trace"]

PE_EVENT_KINDS = ("task_start", "task_end", "vec_issue", "vec_done")
MAX_EVENTS_LIMIT = 10_000_000

# Within one cycle, ends are handled before starts: a PE can end one task and start the next in
# the same cycle, and a vector op can finish in the cycle another one issues.
_KIND_ORDER = {"task_end": 0, "vec_done": 1, "task_start": 2, "vec_issue": 3}
_PID_PES, _PID_LINKS = 1, 2


def _is_int(x) -> bool:
    # numpy integers too (engines hand back numpy arrays), but not bools
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _side(side) -> Port:
    """An edge side from a letter (either case), a Port or its value."""
    try:
        p = Port.of(side)
    except (ValueError, KeyError, TypeError):
        p = None
    if p not in EDGE_SIDES or isinstance(side, bool):
        raise SdkError(f"bad link side {side!r}: a side is one of N, E, S, W (either case)")
    return p


@dataclass
class TraceSpec:
    """What a run records for its timeline trace (see the module docstring)."""
    pes: object = None
    links: object = None
    window: object = None
    max_events: int = 200_000

    def check(self, rows: int, cols: int) -> TraceSpec:
        """This spec validated against a rows x cols mesh, with "all" expanded (row-major, sides
        in EDGE_SIDES order), duplicates dropped and sides as Ports. Raises SdkError (a ValueError)."""
        if not (_is_int(rows) and _is_int(cols) and rows >= 1 and cols >= 1):
            raise SdkError(f"bad mesh size {rows!r} x {cols!r}")

        def tile(t, what):
            if not (_is_int(t[0]) and _is_int(t[1])):
                raise SdkError(f"{what} {tuple(t)!r}: row and column must be integers")
            if t[0] < 0 or t[1] < 0:
                raise SdkError(f"{what} {tuple(t)!r}: row and column must be >= 0")
            if not (t[0] < rows and t[1] < cols):
                raise SdkError(f"{what} {tuple(t)!r} is outside the {rows}x{cols} mesh")
            return int(t[0]), int(t[1])

        pes = self.pes
        if isinstance(pes, str) and pes == "all":
            pes = [(r, c) for r in range(rows) for c in range(cols)]
        elif pes is not None:
            if isinstance(pes, str) or not hasattr(pes, "__iter__"):
                raise SdkError(f"pes must be None, 'all' or a list of (row, col), not {pes!r}")
            out = []
            for p in pes:
                if isinstance(p, str) or not hasattr(p, "__len__") or len(p) != 2:
                    raise SdkError(f"bad PE {p!r}: a PE is (row, col)")
                out.append(tile(p, "PE"))
            pes = list(dict.fromkeys(out))

        links = self.links
        if isinstance(links, str) and links == "all":
            links = [(r, c, s) for r in range(rows) for c in range(cols) for s in EDGE_SIDES]
        elif links is not None:
            if isinstance(links, str) or not hasattr(links, "__iter__"):
                raise SdkError(f"links must be None, 'all' or a list of (row, col, side), not {links!r}")
            out = []
            for lk in links:
                if isinstance(lk, str) or not hasattr(lk, "__len__") or len(lk) != 3:
                    raise SdkError(f"bad link {lk!r}: a link is (row, col, side)")
                out.append((*tile(lk[:2], "link of tile"), _side(lk[2])))
            links = list(dict.fromkeys(out))

        window = self.window
        if window is not None:
            if isinstance(window, str) or not hasattr(window, "__len__") or len(window) != 2:
                raise SdkError(f"bad window {window!r}: a window is (start, end) in cycles, end exclusive")
            start, end = window
            if not _is_int(start) or start < 0:
                raise SdkError(f"bad window start {start!r}: a cycle count >= 0")
            if end is not None:
                if not _is_int(end) or end < 0:
                    raise SdkError(f"bad window end {end!r}: a cycle count > start, or None")
                if end <= start:
                    raise SdkError(f"empty window {tuple(window)!r}: the end (exclusive) must exceed the start")
            window = (int(start), None if end is None else int(end))

        n = self.max_events
        if not _is_int(n) or not 1 <= n <= MAX_EVENTS_LIMIT:
            raise SdkError(f"max_events must be an integer from 1 to {MAX_EVENTS_LIMIT:,}, not {n!r}")
        return replace(self, pes=pes, links=links, window=window)

    def to_dict(self, rows: int | None = None, cols: int | None = None) -> dict:
        """JSON-ready form for an engine, checked first. Without the mesh size the spec must be
        explicit (no "all") and the PEs and links are not checked against the mesh bounds."""
        if rows is None and cols is None:
            if any(isinstance(x, str) for x in (self.pes, self.links)):
                raise SdkError('a spec with "all" needs the mesh size: to_dict(rows, cols) or check(rows, cols)')
            # everything but the mesh bounds can still be checked: take the smallest mesh holding all
            try:
                tiles = [(int(t[0]), int(t[1])) for t in (*(self.pes or ()), *(self.links or ()))]
            except (TypeError, ValueError, IndexError):
                tiles = []
            rows = max([r + 1 for r, _ in tiles] + [1])
            cols = max([c + 1 for _, c in tiles] + [1])
        spec = self.check(rows, cols)
        window = spec.window or (0, None)
        return {"pes": [[int(r), int(c)] for r, c in (spec.pes or ())],
                "links": [[int(r), int(c), EDGE_SIDES.index(_side(s))] for r, c, s in (spec.links or ())],
                "window": [int(window[0]), -1 if window[1] is None else int(window[1])],
                "max_events": int(spec.max_events)}


# ---- raw trace -> trace-event JSON ----------------------------------------------------------------

def _pe_name(r, c):
    return f"PE ({r}, {c})"


def _vec_name(r, c, lane):
    return f"PE ({r}, {c}) vector" + (f" {lane + 1}" if lane else "")


def _link_name(r, c, side_index):
    return f"({r}, {c}) -> {EDGE_SIDES[side_index].name}"


def _parse_raw(raw: dict):
    """The raw trace's fields, validated: (first, end, pe_events, link_events, truncated, pes, links)."""
    if not isinstance(raw, dict) or "window" not in raw:
        raise SdkError("a raw trace is a dict with at least a 'window' (see sdk/trace.py)")
    pe_events = [tuple(e) for e in raw.get("pe_events") or ()]
    link_events = [tuple(e) for e in raw.get("link_events") or ()]
    try:
        first, end = raw["window"]
    except (TypeError, ValueError):
        raise SdkError(f"bad raw trace window {raw['window']!r}: [first_cycle, end_cycle]") from None
    if not _is_int(first) or first < 0:
        raise SdkError(f"bad raw trace window start {first!r}")
    if end is None or end == -1:
        # an open window ends after the last event recorded
        end = max([e[0] + 1 for e in pe_events + link_events if _is_int(e[0])] + [first])
    if not _is_int(end) or end < first:
        raise SdkError(f"bad raw trace window {raw['window']!r}: the end must not precede the start")

    def cycle_ok(e, what):
        if not _is_int(e[0]) or not first <= e[0] < end:
            raise SdkError(f"{what} {list(e)!r}: cycle outside the window [{first}, {end})")
        if not (_is_int(e[1]) and _is_int(e[2]) and e[1] >= 0 and e[2] >= 0):
            raise SdkError(f"{what} {list(e)!r}: bad tile")

    for e in pe_events:
        if len(e) != 5:
            raise SdkError(f"PE event {list(e)!r}: [cycle, row, col, kind, task]")
        cycle_ok(e, "PE event")
        if e[3] not in _KIND_ORDER:
            raise SdkError(f"PE event {list(e)!r}: kind must be one of {', '.join(PE_EVENT_KINDS)}")
        if not _is_int(e[4]) or e[4] < 0:
            raise SdkError(f"PE event {list(e)!r}: bad task number")
    for e in link_events:
        if len(e) != 6:
            raise SdkError(f"link event {list(e)!r}: [cycle, row, col, side_index, color, ctrl]")
        cycle_ok(e, "link event")
        if not (_is_int(e[3]) and 0 <= e[3] < len(EDGE_SIDES)):
            raise SdkError(f"link event {list(e)!r}: side_index must be 0..{len(EDGE_SIDES) - 1} (N, E, S, W)")
        if not (_is_int(e[4]) and 0 <= e[4] < 1 << COLOR_BITS):
            raise SdkError(f"link event {list(e)!r}: bad color")
        if e[5] not in (0, 1):
            raise SdkError(f"link event {list(e)!r}: ctrl must be 0 or 1")
    # plain ints from here on (numpy integers do not serialise to JSON)
    pe_events = [(int(e[0]), int(e[1]), int(e[2]), e[3], int(e[4])) for e in pe_events]
    link_events = [tuple(int(x) for x in e) for e in link_events]

    def track(t, n, what):
        if isinstance(t, str) or not hasattr(t, "__len__") or len(t) != n or not all(_is_int(x) and x >= 0 for x in t):
            raise SdkError(f"bad raw trace {what} {t!r}")
        if n == 3 and not t[2] < len(EDGE_SIDES):
            raise SdkError(f"raw trace link {list(t)!r}: side_index must be 0..{len(EDGE_SIDES) - 1}")
        return tuple(int(x) for x in t)

    pes = {track(t, 2, "PE") for t in raw.get("pes") or ()} | {(e[1], e[2]) for e in pe_events}
    links = {track(t, 3, "link") for t in raw.get("links") or ()} | {e[1:4] for e in link_events}
    return first, end, pe_events, link_events, bool(raw.get("truncated", False)), sorted(pes), sorted(links)


def _lanes(intervals):
    """Interval partitioning: a lane index per (start, end) interval such that no two intervals of
    one lane overlap (abutting is fine), with as few lanes as the maximum overlap. Slices on one
    Perfetto thread must nest; partially overlapping vector ops therefore go on separate threads."""
    order = sorted(range(len(intervals)), key=lambda i: intervals[i])
    lane_of = [0] * len(intervals)
    busy = []  # heap of (end, lane) of the lanes in use
    free = []  # heap of free lane numbers: reuse the lowest
    n_lanes = 0
    for i in order:
        start, end = intervals[i]
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            lane = heapq.heappop(free)
        else:
            lane, n_lanes = n_lanes, n_lanes + 1
        lane_of[i] = lane
        heapq.heappush(busy, (end, lane))
    return lane_of, n_lanes


def perfetto_json(raw: dict, clock_hz: float = 850e6, name: str = "tessera run") -> dict:
    """The trace-event JSON of a raw trace (module docstring). Raises SdkError on a malformed one.

    Tasks: a task still running at the end of the record is closed there (args ``open``); a
    task_end without its start in the window starts at the window's start (args
    ``started_before_window``). Vector ops: issues and completions pair in FIFO order (a
    completion without an issue in the window started before it); ops that overlap go on extra
    threads "PE (r, c) vector 2", ... so every thread holds properly nested slices."""
    if not (isinstance(clock_hz, (int, float)) and math.isfinite(clock_hz) and clock_hz > 0):
        raise SdkError(f"clock_hz must be a positive frequency, not {clock_hz!r}")
    first, end, pe_events, link_events, truncated, pes, links = _parse_raw(raw)
    # A truncated record knows nothing after its last event: open slices end there, not at the
    # window's end (which would claim activity that was never observed).
    rec_end = end
    if truncated:
        rec_end = max([e[0] + 1 for e in pe_events + link_events] + [first])

    def ts(cycle):
        # Microseconds on a whole-nanosecond grid: Perfetto stores nanoseconds and rounds ts and
        # dur separately, so unrounded abutting slices could overlap by 1 ns and be mis-nested.
        # Computing both ends of a slice on the same grid keeps them exact.
        return round(cycle * 1e9 / clock_hz) / 1000

    def dur(c0, c1):
        return (round(c1 * 1e9 / clock_hz) - round(c0 * 1e9 / clock_hz)) / 1000

    events = [
        {"name": "process_name", "ph": "M", "pid": _PID_PES, "tid": 0, "args": {"name": "PEs"}},
        {"name": "process_sort_index", "ph": "M", "pid": _PID_PES, "tid": 0, "args": {"sort_index": 0}},
        {"name": "process_name", "ph": "M", "pid": _PID_LINKS, "tid": 0, "args": {"name": "links"}},
        {"name": "process_sort_index", "ph": "M", "pid": _PID_LINKS, "tid": 0, "args": {"sort_index": 1}},
    ]
    tid = 0

    def thread(pid, tname):
        nonlocal tid
        tid += 1
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": tname}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": pid, "tid": tid,
                       "args": {"sort_index": tid}})
        return tid

    def slice_(pid, t, sname, cat, c0, c1, args):
        events.append({"name": sname, "cat": cat, "ph": "X", "pid": pid, "tid": t, "ts": ts(c0),
                       "dur": dur(c0, c1), "args": args})

    by_pe = {p: [] for p in pes}
    for e in sorted(pe_events, key=lambda e: (e[0], _KIND_ORDER[e[3]])):
        by_pe[(e[1], e[2])].append(e)

    n_tasks = n_vec = 0
    max_lanes = 0
    for (r, c) in pes:
        tasks, vec_open, vec_ops = [], deque(), []  # tasks: (c0, c1, task, flags); vec_ops: (c0, c1, flags)
        open_task = None  # (start cycle, task)
        for cycle, _, _, kind, task in by_pe[(r, c)]:
            if kind == "task_end":
                if open_task is not None:
                    tasks.append((open_task[0], cycle, open_task[1], {}))
                    open_task = None
                elif cycle > first:  # ended at the window's first cycle: nothing of it is inside
                    tasks.append((first, cycle, task, {"started_before_window": True}))
            elif kind == "task_start":
                if open_task is not None:  # a start without the previous task's end: close it here
                    tasks.append((open_task[0], cycle, open_task[1], {"end_missing": True}))
                open_task = (cycle, task)
            elif kind == "vec_issue":
                vec_open.append((cycle, task))
            else:  # vec_done
                if vec_open:
                    c0, t0 = vec_open.popleft()
                    vec_ops.append((c0, cycle, t0, {}))
                else:
                    vec_ops.append((first, cycle, task, {"issued_before_window": True}))
        if open_task is not None:
            tasks.append((open_task[0], max(rec_end, open_task[0]), open_task[1], {"open": True}))
        for c0, t0 in vec_open:
            vec_ops.append((c0, max(rec_end, c0), t0, {"open": True}))

        t_task = thread(_PID_PES, _pe_name(r, c))
        for c0, c1, task, flags in tasks:
            slice_(_PID_PES, t_task, f"task {task}", "task", c0, c1,
                   {"task": task, "cycle": c0, "end_cycle": c1, "cycles": c1 - c0, **flags})
        lane_of, n_lanes = _lanes([(c0, c1) for c0, c1, _, _ in vec_ops])
        lane_tids = [thread(_PID_PES, _vec_name(r, c, k)) for k in range(max(n_lanes, 1))]
        for (c0, c1, task, flags), lane in zip(vec_ops, lane_of, strict=True):
            slice_(_PID_PES, lane_tids[lane], "vec", "vector", c0, c1,
                   {"task": task, "cycle": c0, "end_cycle": c1, "cycles": c1 - c0, **flags})
        n_tasks += len(tasks)
        n_vec += len(vec_ops)
        max_lanes = max(max_lanes, n_lanes)

    link_tid = {lk: thread(_PID_LINKS, _link_name(*lk)) for lk in links}
    for cycle, r, c, s, color, ctrl in sorted(link_events):
        slice_(_PID_LINKS, link_tid[(r, c, s)], f"c{color} ctrl" if ctrl else f"c{color}", "wavelet",
               cycle, cycle + 1, {"color": color, "ctrl": int(ctrl), "cycle": cycle})

    if truncated:
        events.append({"name": "trace truncated", "ph": "i", "s": "g", "pid": _PID_PES, "tid": 0,
                       "ts": ts(rec_end), "args": {"cycle": rec_end}})
    other = {"name": name, "clock_hz": clock_hz, "window": [first, end], "truncated": truncated,
             "counts": {"pes": len(pes), "links": len(links), "pe_events": len(pe_events),
                        "link_events": len(link_events), "task_slices": n_tasks, "vector_ops": n_vec,
                        "vector_threads_max": max_lanes, "wavelets": len(link_events)}}
    if truncated:
        other["recorded_until"] = rec_end
    return {"traceEvents": events, "displayTimeUnit": "ns", "otherData": other}


def write_trace(path, raw: dict, clock_hz: float = 850e6, name: str = "tessera run") -> Path:
    """Write the Perfetto trace of a raw trace as JSON (open it at ui.perfetto.dev)."""
    path = Path(path)
    doc = perfetto_json(raw, clock_hz=clock_hz, name=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        json.dump(doc, f, separators=(",", ":"))
    return path


_RE_PE = re.compile(r"^PE \((\d+), (\d+)\)$")
_RE_VEC = re.compile(r"^PE \((\d+), (\d+)\) vector(?: \d+)?$")
_RE_LINK = re.compile(r"^\((\d+), (\d+)\) -> ([NESW])$")


def read_trace(path) -> dict:
    """Slices per track of a trace written by ``write_trace``: {"tasks": {(r, c): n}, "vector_ops":
    {(r, c): n} (summed over the PE's vector threads), "wavelets": {(r, c, side_letter): n}, "meta":
    the trace's otherData}. Tracks are found by their thread names; idle tracks count 0."""
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, dict) or "traceEvents" not in doc:
        raise SdkError(f"{path}: not a trace-event JSON file")
    track = {}  # (pid, tid) -> (counts dict, key)
    out = {"tasks": {}, "vector_ops": {}, "wavelets": {}}
    for e in doc["traceEvents"]:
        if e.get("ph") != "M" or e.get("name") != "thread_name":
            continue
        tname = e["args"]["name"]
        if m := _RE_PE.match(tname):
            kind, key = "tasks", (int(m[1]), int(m[2]))
        elif m := _RE_VEC.match(tname):
            kind, key = "vector_ops", (int(m[1]), int(m[2]))
        elif m := _RE_LINK.match(tname):
            kind, key = "wavelets", (int(m[1]), int(m[2]), Port[m[3]].letter)
        else:
            continue
        out[kind].setdefault(key, 0)
        track[(e["pid"], e["tid"])] = (out[kind], key)
    for e in doc["traceEvents"]:
        if e.get("ph") == "X" and (e.get("pid"), e.get("tid")) in track:
            counts, key = track[(e["pid"], e["tid"])]
            counts[key] += 1
    out["meta"] = doc.get("otherData", {})
    return out
