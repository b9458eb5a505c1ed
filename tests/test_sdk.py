"""The SDK without a simulator: layouts, route patterns, checks before anything runs, records, and
host programs on the golden engine (golden PE-mesh model: the same management streams and edge
traffic as the hardware engines)."""

from __future__ import annotations

import numpy as np
import pytest

from golden.routing import Port, simulate
from hdl.mesh import EdgeLink
from sdk import (
    DeviceError,
    Fault,
    KernelRecord,
    Layout,
    LayoutError,
    MeshStatus,
    Region,
    RunResult,
    Runtime,
    SdkError,
    routes,
)
from sdk.collectives import OPS, Collective, snake, standalone
from sdk.kernels import row_echo
from sdk.layout import SramMap
from tb.programs import HALT_WHERE_BAD

COUNTER = """
    .task 1, on_x, X
    .dsr d0, mem.f32, acc, len_acc, 1
    .text
on_x:
    lw    r1, acc(r0)
    add   r1, r1, r15
    sw    r1, acc(r0)
    end
"""




def _row_layout(cols=3):
    lay = Layout(1, cols)
    x = lay.color("X")
    lay.route(x, routes.row_broadcast(from_edge="W"))
    lay.place(lay.program(COUNTER, symbols={"acc": "u32[2]"}, params={"X": x}), lay.all())
    return lay, x


# ---------------------------------------------------------------- bad input, before anything runs

def test_layout_refuses_bad_regions_programs_colors_and_routes():
    lay = Layout(2, 3)
    with pytest.raises(LayoutError, match=r"region at \(1, 2\) of 2x1 PEs is outside the 2x3 mesh"):
        lay.region(1, 2, rows=2)
    with pytest.raises(LayoutError, match="must be at least 1"):
        Layout(0, 3)
    with pytest.raises(LayoutError, match="color 7 is the management color"):
        lay.color("M", 7)
    a = lay.color("A")
    with pytest.raises(LayoutError, match="color name 'A' is already taken"):
        lay.color("A")
    with pytest.raises(LayoutError, match="already taken by 'A'"):
        lay.color("B", int(a))
    lay.route(a, routes.row_broadcast(from_edge="W"), lay.row(0))
    with pytest.raises(LayoutError, match=r"PE \(0, 0\) color 0 \(A\): routed twice, by row_broadcast\(from_edge=W\) "
                                          r"and by merge\(to_edge=E\)"):
        lay.route(a, routes.merge(to_edge="E"), lay.row(0))
    prog = lay.program("end\n")
    lay.place(prog, lay.region(0, 0, 1, 2))
    with pytest.raises(LayoutError, match=r"PE \(0, 1\) already runs 'program0'.*one program per PE"):
        lay.place(lay.program("end\n", name="other"), lay.region(0, 1))
    with pytest.raises(LayoutError, match="no such symbol"):
        lay.place(lay.program("end\n", symbols={"x": "f32[4]"}), lay.region(1, 0), values={"y": [0.0]})


def test_build_checks_routes_programs_and_symbols():
    lay = Layout(1, 2)
    a = lay.color("A")
    lay.route(a, routes.custom({(0, 0): routes._one([Port.RAMP], [Port.E])}))  # (0, 1) does not accept it
    with pytest.raises(LayoutError, match=r"PE \(0, 0\) color 0 position 0: port E sends to PE \(0, 1\)"):
        lay.build()
    lay = Layout(1, 1)
    lay.place(lay.program("    addi r1, r0\n", name="typo"), lay.all())
    with pytest.raises(LayoutError, match="program 'typo': line 1"):
        lay.build()
    lay = Layout(1, 1)
    lay.place(lay.program("end\n", symbols={"big": "f32[4096]"}), lay.all())
    with pytest.raises(LayoutError, match="does not fit the 8192 bytes of SRAM"):
        lay.build()
    lay = Layout(1, 1)
    lay.place(lay.program(".data 8184\n.word 1\n.text\nend\n", symbols={"x": "u32[2]"}), lay.all())
    with pytest.raises(LayoutError, match="overlaps symbol 'x'"):
        lay.build()
    with pytest.raises(LayoutError, match="is not TYPE\\[COUNT\\]"):
        Layout(1, 1).program("end\n", symbols={"x": "f32"})
    with pytest.raises(LayoutError, match="type 'f64'"):
        Layout(1, 1).program("end\n", symbols={"x": "f64[2]"})


def test_runtime_refuses_bad_arrays_symbols_and_links_before_running():
    lay, x = _row_layout()
    rt = Runtime(lay, engine="golden")
    with pytest.raises(SdkError, match="has no symbol 'nope'"):
        rt.h2d("nope", np.zeros(6, np.uint32))
    with pytest.raises(SdkError, match=r"5 elements in shape \(5,\); 3 PEs x 2 u32 = 6 expected"):
        rt.h2d("acc", np.zeros(5, np.uint32))
    with pytest.raises(SdkError, match="dtype float64; symbol 'acc' holds u32"):
        rt.h2d("acc", np.zeros(6))
    with pytest.raises(SdkError, match="a 1x3 mesh has W0..W0"):
        rt.send("W1", x, [1])
    with pytest.raises(SdkError, match="not a data color"):
        rt.send("W0", 7, [1])
    with pytest.raises(SdkError, match="unknown engine 'gpu'"):
        Runtime(lay, engine="gpu")
    with pytest.raises(SdkError, match=r"PE \(0, 0\) runs no program"):
        Runtime(Layout(1, 1), engine="golden").h2d("acc", np.zeros(2, np.uint32))
    with pytest.raises(LayoutError, match="outside the 1x3 mesh"):
        rt.h2d("acc", np.zeros(8, np.uint32), region=Region(0, 0, 2, 2))
    assert rt.engine.model.rounds == 0, "nothing may have reached the mesh"


def test_records_round_trip_through_json():
    f = Fault((0, 2), "SRAM_RANGE", 3, 12, False, True, ["RX_VIOLATION"], False)
    assert Fault.from_json(f.to_json()) == f
    assert str(f) == "PE (0, 2): halted: SRAM_RANGE in task 3 at pc 12; router error RX_VIOLATION"
    st = MeshStatus([1, 0], [1, 1], [1, 0], [f])
    r = RunResult(123, "outputs", st, [0.5, 0.25], 1.5)
    assert RunResult.from_json(r.to_json()) == r and not st.ok
    k = KernelRecord("g", "gemm", 2, 2, "small", "native", 100, 10, True, figures={"utilization": 0.7})
    assert KernelRecord.from_json(k.to_json()) == k and k["utilization"] == 0.7 and k.to_dict()["cycles"] == 100


# ---------------------------------------------------------------- route patterns

@pytest.mark.parametrize("pattern,region,entry,want", [
    (routes.row_broadcast(from_edge="W"), (0, 1, 2, 2), EdgeLink.parse("W0"), {(0, 1), (0, 2)}),
    (routes.row_broadcast(from_edge="E"), (1, 0, 1, 3), EdgeLink.parse("E1"), {(1, 0), (1, 1), (1, 2)}),
    (routes.col_broadcast(from_edge="N"), (0, 2, 3, 1), EdgeLink.parse("N2"), {(0, 2), (1, 2), (2, 2)}),
    (routes.broadcast(from_edge="W", row=1), (0, 0, 3, 4), EdgeLink.parse("W1"),
     {(r, c) for r in range(3) for c in range(4)}),
])
def test_broadcasts_reach_exactly_the_region(pattern, region, entry, want):
    lay = Layout(3, 4)
    c = lay.color("C")
    lay.route(c, pattern, lay.region(*region))
    mesh = lay.build().routes
    res = simulate(mesh, {entry.pe_port(3, 4): [(int(c), 7, 0)]})
    got = {pe for (pe, port), ds in res.outputs.items() if port == Port.RAMP and ds}
    assert got == want and not res.drops and not [k for k in res.outputs if k[1] != Port.RAMP]


def test_readout_delivers_blocks_nearest_first():
    lay = Layout(1, 4)
    c = lay.color("C")
    lay.route(c, routes.readout(to_edge="E"), lay.region(0, 1, 1, 2))  # PEs 1, 2; PE 3 forwards
    mesh = lay.build().routes
    inj = {((0, col), Port.RAMP): [(int(c), 10 * col, 0), (int(c), 1, 1)] for col in (1, 2)}
    out = simulate(mesh, inj).outputs[((0, 3), Port.E)]
    assert [(d.payload, d.ctrl) for d in out] == [(20, 0), (1, 1), (10, 0), (1, 1)]


def test_framed_readout_round_trip_and_malformed_frames():
    from hdl.wavelet import Wavelet
    from sdk import readout
    from sdk.kernels.common import KernelError
    from sdk.kernels.gemv import CY, Gemv

    plan = readout.frames(Region(0, 1, 2, 2), "E", 4)
    assert plan == {EdgeLink.parse("E0"): (4, [(0, 2), (0, 1)]), EdgeLink.parse("E1"): (4, [(1, 2), (1, 1)])}
    assert readout.frames(Region(0, 0, 1, 2), "W", 3)[EdgeLink.parse("W0")] == (3, [(0, 0), (0, 1)])
    assert readout.expect(plan, 3) == {link: (4, 8) for link in plan}
    blocks = {(r, c): [100 * r + 10 * c + i for i in range(3)] for r in (0, 1) for c in (1, 2)}
    sent = readout.encode(plan, blocks)
    assert [(w.payload, w.ctrl) for w in sent[EdgeLink.parse("E0")]] == \
        [(20, 0), (21, 0), (22, 0), (1, 1), (10, 0), (11, 0), (12, 0), (1, 1)]
    sent[EdgeLink.parse("E1")].insert(2, Wavelet(5, 7, 1))  # another color on the link is not read out
    assert readout.decode(sent, plan, 3) == blocks

    def bad(link, edit, match):
        ws = {k: list(v) for k, v in sent.items()}
        edit(ws[EdgeLink.parse(link)])
        with pytest.raises(readout.ReadoutError, match=match) as e:
            readout.decode(ws, plan, 3, what="d2h 'y'")
        assert isinstance(e.value, SdkError) and isinstance(e.value, DeviceError)

    bad("E1", lambda ws: ws.pop(), r"^d2h 'y': E1, color 4: 7 wavelets, expected 8 .*: the block of PE \(1, 1\) "
        r"is short \(3 of 4 wavelets\)$")
    bad("E0", lambda ws: ws.__delitem__(slice(4, None)), r"E0, color 4: 4 wavelets.*nothing from PE \(0, 1\)")
    bad("E0", lambda ws: ws.__delitem__(1), r"block of PE \(0, 2\) has a control wavelet .* where its word 2 of 3")
    bad("E0", lambda ws: ws.__setitem__(3, Wavelet(4, 2, 1)), r"PE \(0, 2\) is closed by .* 0x2, not ADVANCE")
    bad("E0", lambda ws: ws.append(Wavelet(4, 9, 0)), r"9 wavelets.*1 more after the block of PE \(0, 1\)")

    gemv = Gemv(2, 3, 20, 4)  # the GEMV's decode is the same read-out: a missing row is named
    assert gemv.frames() == readout.frames(Region(0, 0, 2, 3), "E", CY)
    with pytest.raises(KernelError, match=r"GEMV y: E1, color 2: 0 wavelets.*nothing from PE \(1, 2\), \(1, 1\)"):
        gemv.decode(readout.encode({k: v for k, v in gemv.frames().items() if k.index == 0},
                                   {(0, c): [0] * gemv.plan.mt for c in range(3)}))


def test_point_to_point_and_chains():
    lay = Layout(3, 3)
    c = lay.color("C")
    lay.route(c, routes.point_to_point((0, 0), (2, 1)))
    res = simulate(lay.build().routes, {((0, 0), Port.RAMP): [(int(c), 5, 0)]})
    assert [pe for (pe, port), ds in res.outputs.items() if ds] == [(2, 1)]
    assert [pe for pe in snake(lay.all())][:4] == [(0, 0), (0, 1), (0, 2), (1, 2)]


# ---------------------------------------------------------------- host programs on the golden engine

def test_h2d_send_run_d2h_on_the_golden_engine():
    lay, x = _row_layout()
    with Runtime(lay, engine="golden") as rt:
        rt.h2d("acc", np.arange(6, dtype=np.uint32))
        rt.send("W0", x, [5, 7])
        res = rt.run("idle")
        assert res.cycles is None and res.reason == "idle"
        got = rt.d2h("acc")
    assert list(got) == [0 + 12, 1, 2 + 12, 3, 4 + 12, 5]


def test_d2h_refuses_programs_that_use_its_resources():
    lay = Layout(1, 2)
    lay.place(lay.program(".dsr d15, mem.f32, 0, 1, 1\n.text\nend\n", symbols={"y": "f32[2]"}), lay.all())
    with Runtime(lay, engine="golden") as rt, pytest.raises(SdkError, match="uses DSR d15"):
        rt.d2h("y")
    lay = Layout(1, 1)
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        lay.route(lay.color(name), routes.row_broadcast(), lay.all())
    lay.place(lay.program("end\n", symbols={"y": "f32[2]"}), lay.all())
    with Runtime(lay, engine="golden") as rt, pytest.raises(SdkError, match="needs one color for its read-out"):
        rt.d2h("y")


def test_row_echo_on_the_golden_engine_matches_its_spec():
    with Runtime(row_echo.layout(2, 3), engine="golden") as rt:
        for link, payloads in row_echo.inputs(2, 5).items():
            rt.send(link, 1, payloads)
        rt.run("idle")
        from collections import Counter
        got = {link: Counter(ws) for link, ws in rt.receive().items()}
    assert got == row_echo.expected(2, 3, 5)


def test_a_halting_pe_is_named_on_the_golden_engine():
    lay = Layout(2, 2)
    lay.place(lay.program(HALT_WHERE_BAD, name="faulty"), lay.all(), params=lambda pe: {"BAD": int(pe == (1, 0))})
    with pytest.raises(DeviceError) as e, Runtime(lay, engine="golden") as rt:
        rt.run("idle")
    assert [(f.pe, f.code, f.task, f.pc) for f in e.value.faults] == [((1, 0), "SRAM_RANGE", 0, 4)]
    assert "PE (1, 0): halted: SRAM_RANGE in task 0 at pc 4" in str(e.value)


@pytest.mark.parametrize("shape", [(1, 5), (4, 1), (4, 4)])
def test_collectives_on_the_golden_engine(shape):
    for op in OPS:
        lay, coll = standalone(op, *shape, n=6)
        rng = np.random.default_rng(5)
        data = {pe: rng.standard_normal(coll.input_size(pe)).astype(np.float32) for pe in coll.input_pes()}
        with Runtime(lay, engine="golden") as rt:
            out, _ = coll.run(rt, data)
        want = coll.golden(data)
        assert set(out) == set(want)
        for pe in want:
            assert np.array_equal(out[pe].view(np.uint32), want[pe].view(np.uint32)), (op, shape, pe)


def test_collective_golden_order_is_the_snake():
    lay, coll = standalone("reduce", 2, 2, n=1)
    big, tiny = np.float32(2.0 ** 24), np.float32(1.0)
    data = {(0, 0): [big], (0, 1): [tiny], (1, 1): [tiny], (1, 0): [-big]}
    # snake (0,0) (0,1) (1,1) (1,0): ((2^24 + 1) + 1) - 2^24 = 2 in exact arithmetic, but each add
    # rounds to even: 2^24 + 1 -> 2^24, so the documented order gives 0
    assert coll.golden({pe: np.asarray(v, np.float32) for pe, v in data.items()})[(1, 0)][0] == 0.0
    with pytest.raises(SdkError, match="only broadcast takes another root"):
        Collective.build("reduce", Layout(1, 2), None, 4, root=(0, 0))
    with pytest.raises(SdkError, match="unknown collective"):
        Collective.build("alltoall", Layout(1, 2), None, 4)


def test_streaming_in_and_out_as_arrays():
    """A kernel that consumes data as it arrives: every u32 payload entering row 0 is doubled by the PE and
    sent east; send() packs an array, receive(dtype=...) unpacks one."""
    lay = Layout(1, 1)
    a, b = lay.color("in"), lay.color("out")
    lay.route(a, routes.row_broadcast(from_edge="W"))
    lay.route(b, routes.merge(to_edge="E"))
    src = """
    .task 1, on_x, A
    .text
on_x:
    add   r1, r15, r15          ; the payload doubled (an integer add)
    send  r1, B
    end
"""
    lay.place(lay.program(src, params={"A": a, "B": b}), lay.all())
    x = np.array([1, 2, 3, 40000], np.uint32)
    with Runtime(lay, engine="golden") as rt:
        rt.send("W0", a, x)
        rt.run("idle")
        got = rt.receive("E0", b, dtype="u32")
    assert got.dtype == np.uint32 and list(got) == [2, 4, 6, 80000]
    with pytest.raises(SdkError, match="takes one link"), Runtime(lay, engine="golden") as rt:
        rt.receive(dtype="u32")


# ---------------------------------------------------------------- the error hierarchy

def test_every_sdk_error_has_one_root_and_is_exported():
    import sdk
    from fpga.boards import MissingToolError
    from sdk.asm import AsmError
    from sdk.builds.mpi_ranks import MpiMissing
    from sdk.engines.bridge import BridgeTimeout
    from sdk.engines.bridge_protocol import ProtocolError
    from sdk.kernels.common import KernelError
    from sdk.kernels.decode_model import DecodeModelError
    from sdk.loader import LoadError

    exported = {"LayoutError": LayoutError, "KernelError": KernelError, "AsmError": AsmError, "LoadError": LoadError,
                "DeviceError": DeviceError, "EngineUnavailable": sdk.EngineUnavailable}
    for name, cls in exported.items():
        assert getattr(sdk, name) is cls and name in sdk.__all__, name
        assert issubclass(cls, SdkError), name
    assert "SdkError" in sdk.__all__ and issubclass(SdkError, ValueError)
    # the built-in types callers caught before keep working
    for cls, also in ((DeviceError, RuntimeError), (sdk.EngineUnavailable, RuntimeError), (LoadError, ValueError),
                      (BridgeTimeout, TimeoutError), (ProtocolError, ValueError)):
        assert issubclass(cls, also), cls
    below = {MpiMissing: sdk.EngineUnavailable, MissingToolError: sdk.EngineUnavailable, BridgeTimeout: DeviceError,
             ProtocolError: DeviceError, DecodeModelError: KernelError}
    for cls, parent in below.items():
        assert issubclass(cls, parent), cls
    e = BridgeTimeout("no byte from the board")
    assert str(e) == "no byte from the board" and e.faults == []
    assert str(AsmError("bad operand", 3)) == "line 3: bad operand"


def test_unknown_profile_is_an_sdk_error():
    from sdk.kernels.gemm import plan_gemm
    from sdk.kernels.gemv import plan_gemv
    with pytest.raises(LayoutError, match="unknown profile 'nope'"):
        Layout(1, 1, "nope")
    for plan in (lambda: plan_gemm(1, 1, 4, 4, 4, profile="nope"), lambda: plan_gemv(1, 1, 4, 4, profile="nope")):
        with pytest.raises(SdkError, match="unknown profile 'nope'"):
            plan()


# ---- SRAM buffers (Layout.buffer, SramMap) -----------------------------------------------------

def test_buffers_bump_up_aligned_and_fixed_ones_sit_where_told():
    lay = Layout(1, 2, "small")
    assert lay.buffer("acc", 100) == 0
    assert lay.buffer("row", 8, align=16) == 112  # 100 rounded up to 16
    assert lay.buffer("w", 6, align=4) == 120
    assert lay.buffer("param", 8, at=0x400) == 0x400
    assert lay.buffer("next", 4) == 0x408  # above every buffer placed before
    assert lay.sram["row"] == 112 and "w" in lay.sram and lay.sram.top == 0x40C
    assert lay.sram.buffers["acc"] == (0, 100)


@pytest.mark.parametrize("call, words", [
    (lambda lay: lay.buffer("big", 8193), "buffer 'big' (8193 bytes at 0x0) does not fit the SRAM of profile small"),
    (lambda lay: (lay.buffer("a", 8000), lay.buffer("b", 200)), "buffer 'b' (200 bytes at 0x1f40) does not fit"),
    (lambda lay: (lay.buffer("a", 16, at=0x100), lay.buffer("b", 8, at=0x108)),
     "buffer 'b' at 0x108..0x110 overlaps buffer 'a' at 0x100..0x110"),
    (lambda lay: lay.buffer("a", 8, align=16, at=0x108), "address 264 must be a non-negative multiple of 16"),
    (lambda lay: lay.buffer("a", 8, align=12), "alignment 12 is not a power of two"),
    (lambda lay: (lay.buffer("a", 8), lay.buffer("a", 8)), "buffer 'a' is placed twice"),
    (lambda lay: lay.buffer("a", -1), "size -1"),
    (lambda lay: lay.buffer("2x", 8), "not an identifier"),
    (lambda lay: lay.sram["nope"], "no buffer 'nope'"),
])
def test_buffers_refused_name_the_buffer(call, words):
    with pytest.raises(LayoutError) as e:
        call(Layout(1, 1, "small"))
    assert words in str(e.value)


def test_symbols_the_layout_places_stay_above_the_buffers():
    lay = Layout(1, 1, "small")
    lay.buffer("work", 8192 - 64)
    prog = lay.program(".task 0, t\nt: end\n", symbols={"x": "f32[8]", "p": ("u32", 2, lay.sram["work"])})
    lay.place(prog)
    assert lay.build().pe[(0, 0)].symbols["x"][0] == 8192 - 32  # a fixed symbol may sit on a buffer
    lay2 = Layout(1, 1, "small")
    lay2.buffer("work", 8192 - 16)
    lay2.place(lay2.program(".task 0, t\nt: end\n", symbols={"x": "f32[8]"}, name="p"))
    with pytest.raises(LayoutError, match="symbol 'x' .* does not fit between the layout's buffers"):
        lay2.build()


def test_a_plan_s_sram_map_goes_into_its_layout():
    mem = SramMap(4096, "the plan's SRAM")
    mem.buffer("a", 64)
    lay = Layout(1, 1, "small", sram=mem)
    assert lay.buffer("b", 8) == 64 and lay.sram is mem
    with pytest.raises(LayoutError, match="expected an SramMap"):
        Layout(1, 1, "small", sram=SramMap(1 << 20))
