"""Timeline traces (sdk/trace.py) and pictures (sdk/plots.py), without a simulator: raw traces and
activity readings built by hand, converted, written and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hdl.wavelet import EDGE_SIDES, Port
from sdk.activity import COUNTER_NAMES, Activity
from sdk.plots import activity_maps, energy_bar, heat_map, link_map
from sdk.trace import MAX_EVENTS_LIMIT, TraceSpec, perfetto_json, read_trace, write_trace

CLOCK = 850e6
PNG = b"\x89PNG\r\n\x1a\n"


def us(cycle, clock=CLOCK):
    return cycle / clock * 1e6


# ---- TraceSpec ------------------------------------------------------------------------------------

def test_spec_all_expands_row_major():
    d = TraceSpec(pes="all", links="all").to_dict(2, 3)
    assert d["pes"] == [[r, c] for r in range(2) for c in range(3)]
    assert d["links"] == [[r, c, s] for r in range(2) for c in range(3) for s in range(4)]
    assert d["window"] == [0, -1] and d["max_events"] == 200_000
    json.dumps(d)
    assert TraceSpec().to_dict() == {"pes": [], "links": [], "window": [0, -1], "max_events": 200_000}


def test_spec_sides_windows_and_duplicates():
    spec = TraceSpec(pes=[(1, 2), (0, 0), (1, 2)], links=[(0, 0, "n"), (0, 1, "E"), (1, 1, Port.S), (1, 2, 3)],
                     window=(5, None), max_events=10)
    checked = spec.check(2, 3)
    assert checked.pes == [(1, 2), (0, 0)]
    assert [lk[2] for lk in checked.links] == [Port.N, Port.E, Port.S, Port.W]
    d = spec.to_dict(2, 3)
    assert d == {"pes": [[1, 2], [0, 0]], "links": [[0, 0, 0], [0, 1, 1], [1, 1, 2], [1, 2, 3]],
                 "window": [5, -1], "max_events": 10}
    assert TraceSpec(window=(5, 12)).to_dict(1, 1)["window"] == [5, 12]
    assert TraceSpec(pes=[(np.int64(1), np.int64(0))]).to_dict(2, 2)["pes"] == [[1, 0]]


@pytest.mark.parametrize("kwargs, match", [
    ({"pes": [(2, 0)]}, "outside the 2x3 mesh"),
    ({"pes": [(0, -1)]}, ">= 0"),
    ({"pes": [(0, 0, 1)]}, "a PE is"),
    ({"pes": "some"}, "pes must be"),
    ({"links": [(0, 3, "E")]}, "outside"),
    ({"links": [(0, 0, "x")]}, "bad link side"),
    ({"links": [(0, 0, "ramp")]}, "bad link side"),
    ({"links": [(0, 0, 4)]}, "bad link side"),
    ({"links": [(0, 0)]}, "a link is"),
    ({"window": (10, 10)}, "must exceed the start"),
    ({"window": (10, 3)}, "must exceed the start"),
    ({"window": (-1, 5)}, "window start"),
    ({"window": (0, 1.5)}, "window end"),
    ({"window": 7}, "bad window"),
    ({"max_events": 0}, "max_events"),
    ({"max_events": MAX_EVENTS_LIMIT + 1}, "max_events"),
    ({"max_events": True}, "max_events"),
])
def test_spec_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TraceSpec(**kwargs).check(2, 3)


def test_spec_without_mesh_size():
    with pytest.raises(ValueError, match="needs the mesh size"):
        TraceSpec(pes="all").to_dict()
    # everything but the bounds is still checked
    assert TraceSpec(pes=[(3, 4)], links=[(0, 9, "w")]).to_dict()["links"] == [[0, 9, 3]]
    with pytest.raises(ValueError, match="bad link side"):
        TraceSpec(links=[(0, 0, "q")]).to_dict()
    with pytest.raises(ValueError, match="bad window"):
        TraceSpec(window=[5]).to_dict()
    with pytest.raises(ValueError, match="mesh size"):
        TraceSpec().check(0, 3)


# ---- raw trace -> Perfetto ------------------------------------------------------------------------

def windowed_raw():
    """A window [100, 400) of a run: overlapping and abutting vector ops, a task open at the end,
    slices begun before the window, wavelets, idle tracks."""
    pe = [
        # PE (0, 0): task 1 with three overlapping vector ops, then task 2 starting in the cycle
        # task 1 ends and still running at the window's end
        [110, 0, 0, "task_start", 1], [120, 0, 0, "vec_issue", 1], [125, 0, 0, "vec_issue", 1],
        [130, 0, 0, "vec_issue", 1], [140, 0, 0, "vec_done", 1], [150, 0, 0, "vec_done", 1],
        [160, 0, 0, "vec_done", 1], [170, 0, 0, "task_end", 1], [170, 0, 0, "task_start", 2],
        # PE (0, 1): a task and a vector op issued before the window
        [101, 0, 1, "vec_done", 3], [105, 0, 1, "task_end", 3],
        # PE (1, 2): abutting vector ops (one vector thread), issue and done in one cycle
        [200, 1, 2, "task_start", 4], [210, 1, 2, "vec_issue", 4], [220, 1, 2, "vec_done", 4],
        [220, 1, 2, "vec_issue", 4], [230, 1, 2, "vec_done", 4], [250, 1, 2, "task_end", 4],
    ]
    link = [[c, 0, 0, 1, 4, 0] for c in range(110, 120)] + [[120, 0, 0, 1, 4, 1]]
    link += [[300, 1, 2, 0, 7, 0], [301, 1, 2, 0, 7, 0], [399, 1, 2, 0, 8, 1]]
    return {"window": [100, 400], "pe_events": pe, "link_events": link, "truncated": False,
            "pes": [[0, 0], [0, 1], [1, 2], [1, 0]], "links": [[0, 0, 1], [1, 2, 0], [1, 1, 3]]}


def threads(doc):
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


def slices(doc, name):
    tid = {v: k for k, v in threads(doc).items()}[name]
    return sorted((e for e in doc["traceEvents"] if e["ph"] == "X" and (e["pid"], e["tid"]) == tid),
                  key=lambda e: e["ts"])


def test_tracks_and_read_back(tmp_path):
    path = write_trace(tmp_path / "sub" / "run.json", windowed_raw())
    got = read_trace(path)
    assert got["tasks"] == {(0, 0): 2, (0, 1): 1, (1, 0): 0, (1, 2): 1}
    assert got["vector_ops"] == {(0, 0): 3, (0, 1): 1, (1, 0): 0, (1, 2): 2}
    assert got["wavelets"] == {(0, 0, "e"): 11, (1, 2, "n"): 3, (1, 1, "w"): 0}
    meta = got["meta"]
    assert meta["clock_hz"] == CLOCK and meta["window"] == [100, 400] and meta["truncated"] is False
    assert meta["counts"]["task_slices"] == 4 and meta["counts"]["vector_ops"] == 6
    assert meta["counts"]["wavelets"] == 14

    doc = json.loads(path.read_text())
    assert doc["displayTimeUnit"] == "ns"
    procs = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    assert sorted(procs.values()) == ["PEs", "links"]
    names = threads(doc)
    assert {procs[pid] for (pid, _), n in names.items() if n.startswith("PE")} == {"PEs"}
    assert {procs[pid] for (pid, _), n in names.items() if "->" in n} == {"links"}
    # three overlapping ops on (0, 0): three vector threads; abutting ones on (1, 2) share one
    assert {n for n in names.values() if n.startswith("PE (0, 0)")} == \
        {"PE (0, 0)", "PE (0, 0) vector", "PE (0, 0) vector 2", "PE (0, 0) vector 3"}
    assert {n for n in names.values() if n.startswith("PE (1, 2)")} == {"PE (1, 2)", "PE (1, 2) vector"}
    assert "(0, 0) -> E" in names.values() and "(1, 1) -> W" in names.values()
    sort_index = {(e["pid"], e["tid"]) for e in doc["traceEvents"] if e["name"] == "thread_sort_index"}
    assert sort_index == set(names)
    assert len(set(tid for _, tid in names)) == len(names)  # thread ids unique across processes


def test_slices_never_overlap_on_a_thread():
    """Perfetto nests the slices of one thread: they must not overlap partially, to the
    nanosecond it stores."""
    doc = perfetto_json(windowed_raw())
    by_thread = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            by_thread.setdefault((e["pid"], e["tid"]), []).append(
                (round(e["ts"] * 1000), round(e["ts"] * 1000) + round(e["dur"] * 1000)))
    assert by_thread
    for spans in by_thread.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start


def test_timing_and_args():
    doc = perfetto_json(windowed_raw())
    t1, t2 = slices(doc, "PE (0, 0)")
    assert t1["name"] == "task 1" and t2["name"] == "task 2"
    assert t1["ts"] == pytest.approx(us(110), abs=5e-4)  # to the nanosecond
    assert t1["ts"] + t1["dur"] == pytest.approx(us(170), abs=5e-4)
    assert t1["args"] == {"task": 1, "cycle": 110, "end_cycle": 170, "cycles": 60}
    # still running at the window's end: closed there
    assert t2["ts"] + t2["dur"] == pytest.approx(us(400), abs=5e-4) and t2["args"]["open"] is True
    (early,) = slices(doc, "PE (0, 1)")
    assert early["name"] == "task 3" and early["ts"] == pytest.approx(us(100), abs=5e-4)
    assert early["args"]["started_before_window"] is True and early["args"]["end_cycle"] == 105
    (vec_early,) = slices(doc, "PE (0, 1) vector")
    assert vec_early["args"]["issued_before_window"] is True and vec_early["args"]["cycle"] == 100
    # FIFO pairing: issued 120, 125, 130 -> done 140, 150, 160
    vec = [s for n in ("PE (0, 0) vector", "PE (0, 0) vector 2", "PE (0, 0) vector 3") for s in slices(doc, n)]
    assert sorted((s["args"]["cycle"], s["args"]["end_cycle"]) for s in vec) == [(120, 140), (125, 150), (130, 160)]
    assert all(s["name"] == "vec" for s in vec)
    wav = slices(doc, "(0, 0) -> E")
    assert [w["name"] for w in wav] == ["c4"] * 10 + ["c4 ctrl"]
    assert wav[-1]["args"] == {"color": 4, "ctrl": 1, "cycle": 120}
    for w in wav:
        assert w["ts"] == pytest.approx(us(w["args"]["cycle"]), abs=5e-4)
        assert w["dur"] == pytest.approx(us(1), abs=1e-3)
    # every timestamp lies on the nanosecond grid
    assert all(abs(e["ts"] * 1000 - round(e["ts"] * 1000)) < 1e-6 for e in doc["traceEvents"] if "ts" in e)


def test_other_clock():
    raw = {"window": [0, 50], "pe_events": [[10, 0, 0, "task_start", 1], [30, 0, 0, "task_end", 1]],
           "link_events": [], "truncated": False, "pes": [[0, 0]], "links": []}
    (s,) = slices(perfetto_json(raw, clock_hz=1e9), "PE (0, 0)")
    assert s["ts"] == pytest.approx(0.010) and s["dur"] == pytest.approx(0.020)
    with pytest.raises(ValueError, match="clock_hz"):
        perfetto_json(raw, clock_hz=0)


def test_counts_match_activity_counters(tmp_path):
    """A whole run's trace of every PE and link: the tracks' counts are the activity counters."""
    rows, cols, n_cycles = 2, 3, 500
    rng = np.random.default_rng(7)
    counters = {n: np.zeros((rows, cols), np.int64) for n in COUNTER_NAMES}
    pe_events, link_events = [], []
    for r in range(rows):
        for c in range(cols):
            cycle = int(rng.integers(0, 5))
            for task in range(int(rng.integers(0, 4))):
                start, length = cycle, int(rng.integers(10, 40))
                pe_events += [[start, r, c, "task_start", task], [start + length, r, c, "task_end", task]]
                counters["task_starts"][r, c] += 1
                end = start + length
                pe_events += [[start + 1, r, c, "vec_issue", task], [start + 2, r, c, "vec_issue", task],
                              [end - 2, r, c, "vec_done", task], [end - 1, r, c, "vec_done", task]]
                cycle = start + length + int(rng.integers(0, 5))
            for s, side in enumerate(EDGE_SIDES):
                for cyc in sorted(rng.choice(n_cycles, size=int(rng.integers(0, 20)), replace=False)):
                    link_events.append([int(cyc), r, c, s, int(rng.integers(0, 24)), int(rng.integers(0, 2))])
                    counters[f"link_{side.letter}"][r, c] += 1
    rng.shuffle(link_events)  # engines need not sort
    zeros = np.zeros((rows, cols), np.int64)
    activity = Activity(rows, cols, counters, zeros, zeros, zeros, cycles=n_cycles)
    spec = TraceSpec(pes="all", links="all").to_dict(rows, cols)
    raw = {"window": [0, n_cycles], "pe_events": pe_events, "link_events": link_events, "truncated": False,
           "pes": spec["pes"], "links": spec["links"]}
    got = read_trace(write_trace(tmp_path / "run.json", raw))
    for r in range(rows):
        for c in range(cols):
            assert got["tasks"][(r, c)] == activity.counters["task_starts"][r, c]
            assert got["vector_ops"][(r, c)] == 2 * activity.counters["task_starts"][r, c]
            for i, side in enumerate(EDGE_SIDES):
                assert got["wavelets"][(r, c, side.letter)] == activity.links[r, c, i]


def test_truncated_trace():
    raw = {"window": [0, 1000], "pe_events": [[5, 0, 0, "task_start", 2], [8, 0, 0, "vec_issue", 2]],
           "link_events": [[9, 0, 0, 2, 1, 0]], "truncated": True, "pes": [[0, 0]], "links": [[0, 0, 2]]}
    doc = perfetto_json(raw)
    assert doc["otherData"]["truncated"] is True and doc["otherData"]["recorded_until"] == 10
    # open slices end where the record ends, not at the window's end
    (task,) = slices(doc, "PE (0, 0)")
    assert task["args"]["end_cycle"] == 10 and task["args"]["open"] is True
    (vec,) = slices(doc, "PE (0, 0) vector")
    assert vec["args"]["end_cycle"] == 10
    assert [e for e in doc["traceEvents"] if e["ph"] == "i" and e["name"] == "trace truncated"]


def test_numpy_ints_and_empty():
    raw = {"window": np.array([0, 20]).tolist(), "truncated": False,
           "pe_events": [[np.int64(3), np.int64(0), np.int64(0), "task_start", np.int64(1)]],
           "link_events": [list(np.array([4, 0, 0, 1, 2, 0]))], "pes": [], "links": []}
    doc = perfetto_json(raw)
    json.dumps(doc)
    assert len(slices(doc, "PE (0, 0)")) == 1 and len(slices(doc, "(0, 0) -> E")) == 1
    empty = perfetto_json({"window": [0, 10]})
    assert not [e for e in empty["traceEvents"] if e["ph"] == "X"]


@pytest.mark.parametrize("change, match", [
    ({"pe_events": [[400, 0, 0, "task_start", 1]]}, "outside the window"),
    ({"pe_events": [[99, 0, 0, "task_start", 1]]}, "outside the window"),
    ({"pe_events": [[150, 0, 0, "task_begin", 1]]}, "kind must be"),
    ({"pe_events": [[150, 0, 0, "task_start"]]}, "cycle, row, col, kind, task"),
    ({"link_events": [[150, 0, 0, 4, 1, 0]]}, "side_index"),
    ({"link_events": [[150, 0, 0, 1, 32, 0]]}, "bad color"),
    ({"links": [[0, 0, 5]]}, "side_index"),
    ({"window": [10]}, "window"),
])
def test_bad_raw_traces(change, match):
    raw = {**windowed_raw(), **change}
    with pytest.raises(ValueError, match=match):
        perfetto_json(raw)


# ---- pictures -------------------------------------------------------------------------------------

def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG
    assert 1_000 < len(data) < 5_000_000


def make_activity(rows, cols, cycles=1000, seed=0):
    rng = np.random.default_rng(seed)
    counters = {n: rng.integers(0, (cycles or 1000) // 2, (rows, cols)).astype(np.int64) for n in COUNTER_NAMES}
    counters["link_n"][0, :] = 0  # an idle edge
    zeros = np.zeros((rows, cols), np.int64)
    return Activity(rows, cols, counters, zeros, zeros, zeros, cycles=cycles)


@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 3), (8, 8)])
def test_activity_maps(tmp_path, rows, cols):
    out = activity_maps(make_activity(rows, cols), tmp_path, f"k{rows}x{cols}")
    assert {"vec_busy", "sram", "links"} <= set(out)
    assert out["vec_busy"].name == f"k{rows}x{cols}_vec_busy.png"
    assert out["sram"].name == f"k{rows}x{cols}_sram.png" and out["links"].name == f"k{rows}x{cols}_links.png"
    for p in out.values():
        assert_png(p)


def test_heat_and_link_maps(tmp_path):
    act = make_activity(2, 3, cycles=None)
    assert_png(heat_map(act.counters["vec_busy"], tmp_path / "busy.png", "busy", "cycles"))
    assert_png(heat_map(np.full((1, 1), 0.25), tmp_path / "one", "one", "x", vmin=0, vmax=1))  # suffix added
    assert (tmp_path / "one.png").exists()
    assert_png(link_map(act, tmp_path / "links.png"))
    assert_png(link_map(act.links, tmp_path / "links_rate.png", cycles=100))
    assert_png(link_map(np.zeros((3, 2, 4)), tmp_path / "idle.png"))
    totals = activity_maps(act, tmp_path / "totals", "t")  # no cycles: totals
    for p in totals.values():
        assert_png(p)


def test_energy_bar(tmp_path):
    breakdowns = {"gemm": {"fmac": 3.1e-9, "sram": 1.2e-9, "links": 4e-10},
                  "axpy": {"sram": 2e-9, "links": 1e-10, "leakage": 5e-10},
                  "idle": {}}
    assert_png(energy_bar(breakdowns, tmp_path / "energy.png"))
    assert_png(energy_bar({"k": {"all": 0.0}}, tmp_path / "zero.png", unit="pJ"))


@pytest.mark.parametrize("call", [
    lambda p: heat_map(np.zeros(4), p, "t", "l"),
    lambda p: heat_map(np.zeros((2, 2, 2)), p, "t", "l"),
    lambda p: heat_map(np.zeros((0, 3)), p, "t", "l"),
    lambda p: heat_map(np.array([["a"]]), p, "t", "l"),
    lambda p: heat_map(np.zeros((2, 2)), p, "t", "l", vmin=1, vmax=1),
    lambda p: link_map(np.zeros((2, 3, 3)), p),
    lambda p: link_map(np.zeros((2, 3)), p),
    lambda p: link_map(np.zeros((2, 3, 4)), p, cycles=0),
    lambda p: activity_maps(np.zeros((2, 3, 4)), p, "x"),
    lambda p: activity_maps(make_activity(2, 3), p, "x", cycles=-5),
    lambda p: energy_bar({}, p),
    lambda p: energy_bar({"k": [1.0, 2.0]}, p),
    lambda p: energy_bar({"k": {"sram": -1.0}}, p),
    lambda p: energy_bar({"k": {"sram": float("nan")}}, p),
])
def test_plot_errors(tmp_path, call):
    with pytest.raises(ValueError):
        call(tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_activity_maps_shape_mismatch(tmp_path):
    act = make_activity(2, 3)
    act.counters["vec_busy"] = np.zeros((3, 2), np.int64)
    with pytest.raises(ValueError, match="vec_busy"):
        activity_maps(act, tmp_path, "x")
