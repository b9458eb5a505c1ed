"""What a run did, tile by tile, checked rather than assumed: the activity counters of the native
mesh against the programs' and the golden routing model's own counts, native against flat, the
timeline trace against the counters, and every faulty PE of a mesh reported by coordinates."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from demo.axpy import AXPY
from demo.fabric import traffic
from golden.route_patterns import edge_patterns
from golden.routing import Port, simulate
from hdl.isa import ErrorCode, pack_status
from hdl.mesh import EdgeLink
from hdl.probe import COUNTER_NAMES, LINK_COUNTERS, PROBE
from hdl.wavelet import EDGE_SIDES
from sdk import DeviceError, Layout, Runtime, SdkError, routes
from sdk.activity import Activity
from sdk.cases import gemm_case, run_cases
from sdk.trace import TraceSpec, perfetto_json, read_trace, write_trace
from tb.programs import HALT_WHERE_BAD

N = 4  # AXPY elements per PE


def _axpy_layout(cols=4):
    lay = Layout(1, cols)
    a = lay.color("A")
    lay.route(a, routes.row_broadcast(from_edge="W"))
    lay.place(lay.program(AXPY, symbols={"x": f"f32[{N}]", "y": f"f32[{N}]"}, params={"A": a}), lay.all())
    return lay, a


def _axpy_run(engine, cols=4, trace=None, run_name=None):
    lay, a = _axpy_layout(cols)
    rng = np.random.default_rng(3)
    with Runtime(lay, engine=engine, run_name=run_name) as rt:
        rt.h2d("x", rng.standard_normal(N * cols).astype(np.float32))
        rt.h2d("y", rng.standard_normal(N * cols).astype(np.float32))
        rt.send("W0", a, np.float32([0.75]))
        res = rt.run("idle", counters=True, trace=trace)
        since_reset = rt.activity()
    return res, since_reset


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_1x4")
def test_axpy_counters_match_the_program_and_the_trace_matches_the_counters(tmp_path):
    res, since_reset = _axpy_run("native", trace=TraceSpec(pes="all", links="all"))
    act = res.activity
    assert act.cycles >= res.cycles > 0
    c = act.counters
    # from the program: one data task per PE, fmacs.f32 over N elements and end
    assert c["lanes_fmac_f32"].tolist() == [[N] * 4]
    assert c["instructions"].tolist() == [[2] * 4]
    assert c["task_starts"].tolist() == [[1] * 4]
    assert c["ramp_in"].tolist() == [[1] * 4]  # the scalar a
    assert (c["sram_rd0"] + c["sram_rd1"]).tolist() == [[2 * N * 4 // 8] * 4]  # x and y rows, 8 bytes each
    assert c["sram_wr"].tolist() == [[N * 4 // 8] * 4]
    for name in COUNTER_NAMES:
        if name.startswith("lanes_") and name != "lanes_fmac_f32":
            assert not c[name].any(), name
    # the row broadcast: a leaves every PE but the last eastwards, nothing else moves
    assert act.links[0, :, EDGE_SIDES.index(Port.E)].tolist() == [1, 1, 1, 0]
    assert act.links.sum() == 3
    assert 0 < c["vec_busy"].min() and c["vec_busy"].max() <= act.cycles
    # counters count from reset: the reading afterwards holds at least the run's
    for name in COUNTER_NAMES:
        assert (since_reset.counters[name] >= c[name]).all(), name

    # the trace, written as Perfetto JSON and parsed back, says what the counters say
    path = write_trace(tmp_path / "axpy.json", res.trace)
    back = read_trace(path)
    assert back["tasks"] == {(0, col): int(c["task_starts"][0, col]) for col in range(4)}
    assert back["vector_ops"] == {(0, col): 1 for col in range(4)}
    for (r, col, side), n in back["wavelets"].items():
        assert n == c[f"link_{side}"][r, col], (r, col, side)
    doc = json.loads(path.read_text())
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"PE (0, 0)", "PE (0, 3)"} <= names
    assert not res.trace["truncated"]


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_1x4")
def test_trace_window_and_size_are_bounded():
    res, _ = _axpy_run("native", trace=TraceSpec(pes=[(0, 1)], links=[(0, 0, "E")], window=(0, 4), max_events=2))
    raw = res.trace
    assert raw["window"] == [0, 4]
    assert all(0 <= e[0] < 4 for e in raw["pe_events"] + raw["link_events"])
    assert len(raw["pe_events"]) + len(raw["link_events"]) <= 2
    assert {(e[1], e[2]) for e in raw["pe_events"]} <= {(0, 1)}
    full, _ = _axpy_run("native", trace=TraceSpec(pes="all", links="all", max_events=3))
    assert full.trace["truncated"]
    perfetto_json(full.trace)  # a truncated trace still converts


def test_counters_and_traces_are_refused_where_they_do_not_exist():
    lay, _ = _axpy_layout()
    with Runtime(lay, engine="golden") as rt:
        with pytest.raises(SdkError, match="counters"):
            rt.run("idle", counters=True)
        with pytest.raises(SdkError, match="trace"):
            rt.run("idle", trace=TraceSpec(pes="all"))
        with pytest.raises(SdkError, match="outside"):
            rt.run("idle", trace=TraceSpec(pes=[(1, 0)]))
        with pytest.raises(SdkError, match="cannot read"):
            rt.activity()


@pytest.mark.sim
@pytest.mark.xdist_group("observability_flat_1x2")
def test_native_and_flat_counters_agree():
    """The same run on the native mesh (probes read from C++) and on the flat Verilog build (probes
    read through the hierarchy): every counter of every tile equal."""
    native, _ = _axpy_run("native", cols=2, run_name="agree-native")
    flat, _ = _axpy_run("flat", cols=2, run_name="agree-flat")
    assert native.cycles == flat.cycles
    for name in COUNTER_NAMES:
        assert native.activity.counters[name].tolist() == flat.activity.counters[name].tolist(), name
    assert native.activity.macs.sum() == 2 * N


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_4x4")
def test_gemm_mac_count_is_the_useful_macs_plus_the_padding():
    exact, padded = run_cases([gemm_case(4, 4, 32, 16, 32, "f16", seed=41),
                               gemm_case(4, 4, 13, 10, 14, "f16", seed=42)],
                              counters=True, run_name="gemm-counters-4x4")
    assert exact.bit_exact and padded.bit_exact
    assert exact["padded_macs"] == exact["M"] * exact["K"] * exact["N"]  # no padding at this shape
    assert exact["macs_counted"] == exact["padded_macs"]
    assert padded["padded_macs"] > padded["M"] * padded["K"] * padded["N"]
    assert padded["macs_counted"] == padded["padded_macs"]
    act = padded.activity
    assert act.counters["lanes_fmac_f32_f16"].sum() == padded["macs_counted"]  # the f16 GEMM mode only
    assert len(padded["pe_vec_busy"]) == 4 and all(0 < b <= 1 for row in padded["pe_vec_busy"] for b in row)


@pytest.mark.sim
@pytest.mark.xdist_group("observability_fabric_3x3")
def test_link_counters_equal_the_golden_routing_model():
    """Multicast patterns with random idles and backpressure on a 3 x 3 fabric mesh: the wavelets
    on every link and direction equal what the golden routing model carries there, and the
    stall counters saw the backpressure."""
    rows = cols = 3
    lay = Layout(rows, cols)
    mesh, sources = edge_patterns(rows, cols, lay.profile.colors, avoid=(lay.profile.mgmt_color,))
    for color in sorted({c for _, c in sources}):
        lay.route(lay.color(f"c{color}", color),
                  routes.custom({pe: t[color] for pe, t in mesh.routes.items() if color in t}, f"color {color}"))
    flows = traffic(sources, 600)
    injections = defaultdict(list)
    with Runtime(lay, engine="native", core=False, noise=(0.2, 0.3), seed=5, run_name="observability") as rt:
        for ((pe, port), color), payloads in flows.items():
            rt.send(EdgeLink.at(pe, port, rows, cols), color, payloads)
            injections[(pe, port)] += [(color, p, 0) for p in payloads]
        res = rt.run("idle", counters=True)
    golden = simulate(mesh, injections)
    links = res.activity.links
    for r in range(rows):
        for c in range(cols):
            for i, side in enumerate(EDGE_SIDES):
                assert links[r, c, i] == golden.links.get(((r, c), Port(int(side))), 0), ((r, c), side)
    assert links.sum() > 600
    assert res.activity.stalls.sum() > 0  # the output links withheld ready 30 % of the time


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_1x4")
def test_every_faulty_pe_is_reported_with_its_error():
    """Two PEs of one row halt on an out-of-range store: the status read after the job names both
    (the row's fault chain alone shows only the westernmost), with code, task and PC."""
    lay = Layout(1, 4)
    lay.place(lay.program(HALT_WHERE_BAD, name="faulty"), lay.all(), params=lambda pe: {"BAD": int(pe[1] in (1, 3))})
    with pytest.raises(DeviceError) as e, Runtime(lay, engine="native") as rt:
        rt.run("idle")
    assert [(f.pe, f.code, f.task, f.pc, f.halted) for f in e.value.faults] == [
        ((0, 1), "SRAM_RANGE", 0, 4, True), ((0, 3), "SRAM_RANGE", 0, 4, True)]
    assert "PE (0, 3): halted: SRAM_RANGE in task 0 at pc 4" in str(e.value)


def test_activity_decoding_round_trip_and_faults():
    """The probe layout (hdl/probe.py) decoded field by field, the difference of two readings,
    JSON, and a fault from a status word and the drop counter."""
    word = PROBE.pack(**{"counters.link_w": 5, "counters.lanes_add_f16": (1 << 48) - 1, "drops": 3,
                         "pe_status": pack_status(ErrorCode.MISALIGNED, 1, 1, 7, 21)})
    a = Activity.from_ints(2, 1, [0, word])
    assert a.counters["link_w"].tolist() == [[0], [5]]
    assert a.links[1, 0, LINK_COUNTERS.index("link_w")] == 5
    b = Activity.from_ints(2, 1, [0, PROBE.pack(**{"counters.lanes_add_f16": 2})])
    assert (b - a).counters["lanes_add_f16"].tolist() == [[0], [3]]  # wraps at 48 bits
    assert Activity.from_dict(json.loads(json.dumps(a.to_dict()))).to_dict() == a.to_dict()
    [f] = a.faults()
    assert (f.pe, f.code, f.task, f.pc, f.async_, f.drops) == ((1, 0), "MISALIGNED", 7, 21, True, 3)
    assert "3 wavelets dropped" in str(f)
