"""Quick checks of the FMAC lane (hdl/fpu.py) in Amaranth's own simulator (no Verilator build):
a few hundred edge, directed and random vectors per op against golden/fp.py with the ops
interleaved cycle by cycle, the fixed latency, the en stall (nothing lost, duplicated or changed
while stalled), the ADD/MUL-through-FMA signed-zero claims and the reserved op codes.

The bulk (100k random vectors per op) runs on Verilator in tests/test_fpu.py."""

from __future__ import annotations

import random

import pytest

from hdl.fpu import F32_QNAN, FPLane, FpOp
from tb.amaranth_sim import simulate
from tb.cocotb_fpu import LANE_OPS, WIDTH, describe, edge_vectors, expected, port_values, random_vectors

LAT = FPLane.LATENCY


def run(bench):
    simulate(FPLane(), bench)


async def stream(ctx, dut, items, en_of_cycle=lambda c: True, bubble_of_cycle=lambda c: False):
    """Drive ``items`` (op, port values) one per enabled cycle; return [(result, out_valid_seen,
    enabled edges from acceptance to delivery)] in delivery order, taking a result on every cycle
    with en = 1 and out_valid = 1. Also checks that the outputs do not move while en = 0."""
    accepted = []  # enabled-edge index of each accepted item
    got = []
    sent = edge = cycle = 0
    last = None
    while len(got) < len(items):
        assert cycle < 4 * len(items) + 50, f"stuck: {len(got)}/{len(items)} results"
        en = en_of_cycle(cycle)
        offer = sent < len(items) and not bubble_of_cycle(cycle)
        if offer:
            op, vals = items[sent]
            ctx.set(dut.op, op)
        else:
            vals = {"acc": 0xDEADBEEF, "a": 0x7F800001, "b": 0x12345678}
        ctx.set(dut.in_valid, int(offer or not en))  # while stalled, in_valid high must be ignored
        ctx.set(dut.en, int(en))
        for port in ("acc", "a", "b"):
            ctx.set(getattr(dut, port), vals[port])
        ov, res = ctx.get(dut.out_valid), ctx.get(dut.result)
        if last is not None and not last[0]:
            assert (ov, res) == last[1:], f"cycle {cycle}: outputs changed while en = 0"
        last = (en, ov, res)
        if en:
            if ov:
                assert len(got) < sent, f"cycle {cycle}: out_valid with nothing in flight"
                got.append((res, edge - accepted[len(got)]))
            if offer:
                accepted.append(edge)
                sent += 1
            edge += 1
        await ctx.tick()
        cycle += 1
    return got


def _vectors_per_op(n_edge=150, n_random=150):
    rng = random.Random(5)
    cases = []
    for lop in LANE_OPS.values():
        edges = edge_vectors(lop)
        vecs = rng.sample(edges, min(n_edge, len(edges))) + random_vectors(lop, n_random, seed="unit")
        cases += [(lop, v) for v in vecs]
    rng.shuffle(cases)  # interleave the ops: every cycle may switch op and format
    return cases


def test_every_op_against_golden_interleaved():
    """~300 vectors per op, ops mixed cycle by cycle, compared bit for bit with the golden model."""
    cases = _vectors_per_op()
    rng = random.Random(11)
    items = [(lop.op, port_values(lop, v, rng)) for lop, v in cases]
    want = [expected(lop, [v])[0] for lop, v in cases]
    out = {}

    async def bench(ctx, dut):
        out["got"] = await stream(ctx, dut, items)

    run(bench)
    got = out["got"]
    assert len(got) == len(cases)
    bad = [describe(lop, v, r, w) for (lop, v), (r, _), w in zip(cases, got, want, strict=True) if r != w]
    assert not bad, f"{len(bad)}/{len(cases)} mismatches:\n" + "\n".join(bad[:20])
    assert {lat for _, lat in got} == {LAT}
    assert {lop.name for lop, _ in cases} == set(LANE_OPS)


def test_fixed_latency_single_op():
    """One op in an idle pipeline: out_valid rises exactly LATENCY cycles after the input, once."""
    async def bench(ctx, dut):
        ctx.set(dut.en, 1)
        ctx.set(dut.op, FpOp.ADD_F32)
        ctx.set(dut.a, 0x3F800000)
        ctx.set(dut.b, 0x40000000)
        ctx.set(dut.in_valid, 1)
        await ctx.tick()
        ctx.set(dut.in_valid, 0)
        ctx.set(dut.a, 0)
        seen = []
        for _ in range(LAT + 3):
            seen.append((ctx.get(dut.out_valid), ctx.get(dut.result)))
            await ctx.tick()
        # seen[k] is the state k + 1 ticks after the input was presented
        assert [v for v, _ in seen] == [0] * (LAT - 1) + [1] + [0] * 3, seen
        assert seen[LAT - 1][1] == 0x40400000  # 1 + 2 = 3

    run(bench)


@pytest.mark.parametrize("pattern", ["long_stalls", "random_stalls_and_bubbles"])
def test_en_stall_loses_and_duplicates_nothing(pattern):
    """en held low for several cycles mid-stream (and at random): every result is delivered once,
    in order, after exactly LATENCY enabled edges, and the outputs hold while stalled."""
    lop = LANE_OPS["FMAC_F32"]
    rng = random.Random(3)
    vecs = random_vectors(lop, 60, seed="stall")
    items = [(lop.op, port_values(lop, v, rng)) for v in vecs]
    want = expected(lop, vecs)
    if pattern == "long_stalls":
        stalled = set(range(2, 9)) | set(range(20, 23)) | {30} | set(range(40, 52))
        def en_of(c):
            return c not in stalled
        def bubble_of(c):
            return c in (25, 26)
    else:
        prng = random.Random(9)
        en_bits = [prng.random() >= 0.3 for _ in range(1000)]
        bub_bits = [prng.random() < 0.1 for _ in range(1000)]
        assert 200 < en_bits.count(False) < 400 and 50 < bub_bits.count(True) < 150
        def en_of(c):
            return en_bits[c]
        def bubble_of(c):
            return bub_bits[c]
    out = {}

    async def bench(ctx, dut):
        out["got"] = await stream(ctx, dut, items, en_of, bubble_of)

    run(bench)
    got = out["got"]
    assert [r for r, _ in got] == want
    assert {lat for _, lat in got} == {LAT}


def test_add_mul_through_fma_match_ieee_signed_zero_rules():
    """ADD is a*1.0 + b and MUL is a*b + (-0) in hardware: the signed-zero, cancellation and
    infinity cases of docs/floating-point.md, and the golden model's answers for them."""
    z32, nz32, one32, inf32 = 0x00000000, 0x80000000, 0x3F800000, 0x7F800000
    z16, nz16, one16, inf16 = 0x0000, 0x8000, 0x3C00, 0x7C00
    cases = [
        ("ADD_F32", (z32, nz32), z32), ("ADD_F32", (nz32, z32), z32), ("ADD_F32", (nz32, nz32), nz32),
        ("ADD_F32", (one32, one32 | nz32), z32), ("ADD_F32", (one32 | nz32, one32), z32),
        ("ADD_F32", (inf32, inf32 | nz32), F32_QNAN), ("ADD_F32", (0x00000001, nz32), 0x00000001),
        ("ADD_F16", (z16, nz16), z16), ("ADD_F16", (nz16, nz16), nz16), ("ADD_F16", (one16, one16 | nz16), z16),
        ("ADD_F16", (inf16 | nz16, inf16), 0x7E00), ("ADD_F16", (inf16, one16), inf16),
        ("MUL_F32", (z32, one32), z32), ("MUL_F32", (nz32, one32), nz32), ("MUL_F32", (nz32, nz32), z32),
        ("MUL_F32", (z32, inf32), F32_QNAN), ("MUL_F32", (0x80000001, 0x3F000000), nz32),
        ("MUL_F16", (nz16, one16), nz16), ("MUL_F16", (nz16, nz16), z16), ("MUL_F16", (inf16, z16), 0x7E00),
        ("MUL_F16", (0x8001, 0x3800), nz16),
        ("CVT_F16_F32", (nz16,), nz32), ("CVT_F32_F16", (nz32,), nz16), ("CVT_F32_F16", (0x33000000,), z16),
    ]
    # The spec's answers above must also be the golden model's, or this test is checking nothing.
    for name, args, want in cases:
        assert LANE_OPS[name].golden(*args) == want, (name, [hex(a) for a in args])
    rng = random.Random(1)
    items = [(LANE_OPS[name].op, port_values(LANE_OPS[name], args, rng)) for name, args, _ in cases]
    out = {}

    async def bench(ctx, dut):
        out["got"] = await stream(ctx, dut, items)

    run(bench)
    for (name, args, want), (got, _) in zip(cases, out["got"], strict=True):
        assert got == want, describe(LANE_OPS[name], args, got, want)


def test_reserved_op_codes_give_canonical_nan_and_f16_zero_extends():
    """Op codes 10..15 return the f32 canonical NaN; f16 results never set the upper 16 bits."""
    rng = random.Random(2)
    items = [(code, {"acc": rng.getrandbits(32), "a": rng.getrandbits(32), "b": rng.getrandbits(32)})
             for code in range(len(FpOp), 16)]
    # Negative f16 results (bit 15 set), with random upper halves on the f16 inputs.
    f16_vecs = [(LANE_OPS["ADD_F16"], (0xBC00, 0xBC00)), (LANE_OPS["MUL_F16"], (0xBC00, 0x3C00)),
                (LANE_OPS["FMAC_F16"], (0xBC00, 0xBC00, 0x3C00)), (LANE_OPS["CVT_F32_F16"], (0xBF800000,))]
    assert {lop.name for lop, _ in f16_vecs} == {lop.name for lop in LANE_OPS.values() if WIDTH[lop.out] == 16}
    items += [(lop.op, port_values(lop, v, rng)) for lop, v in f16_vecs]
    out = {}

    async def bench(ctx, dut):
        out["got"] = await stream(ctx, dut, items)

    run(bench)
    got = [r for r, _ in out["got"]]
    n_res = 16 - len(FpOp)
    assert got[:n_res] == [F32_QNAN] * n_res
    for (lop, v), r in zip(f16_vecs, got[n_res:], strict=True):
        assert r == lop.golden(*v) and r >> 15 == 1, describe(lop, v, r, lop.golden(*v))


def test_fma_addend_far_below_a_tie_decides_the_rounding():
    """a * b exactly halfway between two floats, plus an addend so far below that it only survives
    as the sticky bit: +tiny rounds the tie up, -tiny down, 0 to even (RNE). The random vectors
    almost never hit an exact tie together with such an addend."""
    tie32 = 0x3F800800  # (1 + 2**-12)**2 = 1 + 2**-11 + 2**-24: the 2**-24 is half an f32 ulp
    tiny32, neg = 0x0DA24260, 0x80000000
    tie16a, tie16b = 0x3C20, 0x3C10  # (1 + 2**-5)(1 + 2**-6) = 1 + 2**-5 + 2**-6 + 2**-11: half an f16 ulp
    cases = [
        ("FMAC_F32", (0, tie32, tie32), 0x3F801000), ("FMAC_F32", (tiny32, tie32, tie32), 0x3F801001),
        ("FMAC_F32", (tiny32 | neg, tie32, tie32), 0x3F801000),
        ("FMAC_F32", (tiny32, tie32 | neg, tie32), 0xBF801000), ("FMAC_F32", (tiny32 | neg, tie32, tie32 | neg),
                                                                    0xBF801001),
        ("FMAC_F16", (0x0000, tie16a, tie16b), None), ("FMAC_F16", (0x0001, tie16a, tie16b), None),
        ("FMAC_F16", (0x8001, tie16a, tie16b), None),
    ]
    rng = random.Random(6)
    items, want = [], []
    for name, args, value in cases:
        lop = LANE_OPS[name]
        golden = lop.golden(*args)
        assert value is None or golden == value, (name, [hex(a) for a in args], hex(golden))
        items.append((lop.op, port_values(lop, args, rng)))
        want.append(golden)
    assert want[5] != want[6], "the f16 tie must be decided by the tiny addend"
    out = {}

    async def bench(ctx, dut):
        out["got"] = await stream(ctx, dut, items)

    run(bench)
    for (name, args, _), (got, _), w in zip(cases, out["got"], want, strict=True):
        assert got == w, describe(LANE_OPS[name], args, got, w)
