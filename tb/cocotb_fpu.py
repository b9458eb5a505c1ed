"""cocotb tests of the FMAC lane (hdl/fpu.py, top ``tessera_fplane``) against golden/fp.py, plus
the op table and vector generators that tests/test_fpu_unit.py and tests/test_fpu.py share.

The op -> golden-function mapping lives here, on the testbench side, so that expectations are
never derived from the RTL module (hdl/fpu.py only supplies the op encoding ``FpOp``).

Operand values and generators (edge classes, seeded biased random operands) are shared with
tests/test_golden_fp.py through tb/fp_stimulus.py; this module adds the lane's view of them.

Interface (pure Python, usable outside a simulator)
    fp_lane_ops() -> list[LaneOp]        every op: FpOp, golden function, operands (port, kind)
    LANE_OPS                             the same, by FpOp name
    edge_vectors(lop)                    every combination of edge-class operands (+ exhaustive
                                         f16 for CVT_F16_F32), plus directed ties, overflow,
                                         underflow, cancellation and fused-only cases
    random_vectors(lop, n, seed)         seeded mix: uniform bit patterns and exponent-biased
                                         operands (near exponents, cancellations, products aimed
                                         at the underflow/overflow ends, constructed ties)
    expected(lop, vectors)               golden results, computed in bulk
    port_values(lop, vec, rng)           {"acc","a","b"} to drive: operands in place, unused
                                         ports and the upper half of f16 operands random
    describe(lop, vec, got, want)        a failure line with the op and the operands in hex

cocotb test (configuration from TESSERA_TB_CONFIG, see sdk.builds.verilator.tb_config):
    lane_op_stream   op=<FpOp name>, n_random, seed, stall_prob, bubble_prob: streams the edge and
                     random vectors one per cycle with en deasserted at random, and checks every
                     result bit for bit, in order, exactly FPLane.LATENCY enabled edges after its
                     input, and that outputs hold while en = 0. The operands read back from the
                     ports and each result feed the rounding-datapath coverage (tb/fpu_coverage.py).
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from dataclasses import dataclass
from typing import Callable

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, ReadWrite, RisingEdge

from golden import fp
from hdl.fpu import FPLane, FpOp
from sdk.builds.verilator import tb_config
from tb.fp_stimulus import EDGES, LAYOUT, OPS, WIDTH, random_operands, to_hex
from tb.fpu_coverage import FpuCoverage

__all__ = ["LaneOp", "fp_lane_ops", "LANE_OPS", "edge_vectors", "random_vectors", "expected",
           "port_values", "describe", "EDGES", "LAYOUT", "WIDTH"]


@dataclass(frozen=True)
class LaneOp:
    """One lane operation: its code, the golden function and the operands in golden-argument order."""
    op: FpOp
    golden: Callable[..., int]
    args: tuple[tuple[str, str], ...]  # (port, kind) per golden argument
    out: str  # result kind

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def golden_name(self) -> str:
        """The golden/fp.py (and golden/fp_exact.py) name of the op, as tb/fp_stimulus.py keys ops."""
        return self.golden.__name__


def fp_lane_ops() -> list[LaneOp]:
    """The lane's ops with their golden functions; the single place the mapping is written down."""
    f16, f32 = "f16", "f32"
    ops = [
        LaneOp(FpOp.FMAC_F32_F16, fp.fmac_f32_f16, (("acc", f32), ("a", f16), ("b", f16)), f32),
        LaneOp(FpOp.FMAC_F32, fp.fmac_f32, (("acc", f32), ("a", f32), ("b", f32)), f32),
        LaneOp(FpOp.FMAC_F16, fp.fmac_f16, (("acc", f16), ("a", f16), ("b", f16)), f16),
        LaneOp(FpOp.ADD_F32, fp.add_f32, (("a", f32), ("b", f32)), f32),
        LaneOp(FpOp.ADD_F16, fp.add_f16, (("a", f16), ("b", f16)), f16),
        LaneOp(FpOp.MUL_F32, fp.mul_f32, (("a", f32), ("b", f32)), f32),
        LaneOp(FpOp.MUL_F16, fp.mul_f16, (("a", f16), ("b", f16)), f16),
        LaneOp(FpOp.CVT_F16_F32, fp.f16_to_f32, (("a", f16),), f32),
        LaneOp(FpOp.CVT_F32_F16, fp.f32_to_f16, (("a", f32),), f16),
        LaneOp(FpOp.MAC_I32_I16, fp.mac_i32_i16, (("acc", "i32"), ("a", "i16"), ("b", "i16")), "i32"),
    ]
    for lop in ops:  # the shared stimulus (tb/fp_stimulus.py) knows the ops by their golden names
        assert OPS[lop.golden_name] == (tuple(kind for _, kind in lop.args), lop.out), lop.name
    return ops


LANE_OPS = {lop.name: lop for lop in fp_lane_ops()}


# --- Vectors: edge classes, directed cases, random ------------------------------------------

# f32 values around the f16 range for the narrowing conversion: f16 max, 65519 (-> max), 65520
# (tie -> inf), f16 min subnormal, 2**-25 (tie -> 0), just above it, 3 * 2**-25 (tie -> even 2**-23),
# f16 min normal, 1 + 2**-11 (tie -> 1.0), 1 + 3 * 2**-11 (tie -> up), and their negatives.
_F32_IN_F16_RANGE = [0x477FE000, 0x477FEF00, 0x477FF000, 0x33800000, 0x33000000, 0x33000001, 0x33C00000,
                     0x38800000, 0x3F801000, 0x3F803000, 0x3F801001, 0x387FC000, 0x387FE000]

# Hand-made cases per op (golden-argument order): ties both ways, overflow at exactly max + ulp/2
# and just below it, underflow to signed zero, the subnormal/normal boundary, exact cancellation,
# and results only a fused FMA gets right.
_DIRECTED = {
    "ADD_F32": [(0x3F800000, 0x33800000), (0x3F800001, 0x33800000), (0x7F7FFFFF, 0x73000000),
                (0x7F7FFFFF, 0x72FFFFFF), (0x00400000, 0x00400000), (0x807FFFFF, 0x80000001),
                (0x3F800000, 0xBF800000), (0xBF800000, 0x3F800000), (0x80000000, 0x80000000),
                (0x00800000, 0x80000001), (0x4B800000, 0xBF800001)],
    "ADD_F16": [(0x3C00, 0x1000), (0x3C01, 0x1000), (0x7BFF, 0x4C00), (0x7BFF, 0x4BFF), (0x0200, 0x0200),
                (0x83FF, 0x8001), (0x3C00, 0xBC00), (0x8000, 0x8000), (0x0400, 0x8001)],
    "MUL_F32": [(0x3F800001, 0x3FC00000), (0x3F800003, 0x3FC00000), (0x7F7FFFFF, 0x40000000),
                (0x80000001, 0x3F000000), (0x80000001, 0x3F000001), (0x00800000, 0x3F7FFFFF),
                (0x00FFFFFF, 0x3F000000), (0x5F800000, 0x5F800000), (0x1F800000, 0x1F800000),
                (0x80000000, 0x7F800000)],
    "MUL_F16": [(0x3C01, 0x3E00), (0x3C03, 0x3E00), (0x7BFF, 0x4000), (0x8001, 0x3800), (0x8001, 0x3801),
                (0x0400, 0x3BFF), (0x07FF, 0x3800), (0x5BFF, 0x5C00), (0x5BFF, 0x5BFF)],
    "FMAC_F32": [(0xBF800000, 0x3F800001, 0x3F7FFFFF), (0x00000000, 0x00000001, 0x80000001),
                 (0x3F800000, 0x3F800000, 0xBF800000), (0x80000000, 0x80000000, 0x3F800000),
                 (0x3F800000, 0x33800001, 0x3F7FFFFF), (0x7F7FFFFF, 0x73000000, 0x3F800000),
                 (0xFF800000, 0x7F800000, 0x3F800000), (0x7F800000, 0x00000000, 0x7F800000)],
    "FMAC_F16": [(0xBC00, 0x3C01, 0x3BFF), (0x0000, 0x0001, 0x8001), (0x3C00, 0x3C00, 0xBC00),
                 (0x8000, 0x8000, 0x3C00), (0x3C00, 0x1001, 0x3BFF), (0x7BFF, 0x4C00, 0x3C00)],
    "FMAC_F32_F16": [(0xBF800000, 0x3C01, 0x3BFF), (0x3F800000, 0x3C00, 0xBC00), (0x80000000, 0x8000, 0x3C00),
                     (0x7F7FFFFF, 0x7BFF, 0x7BFF), (0x33800000, 0x0001, 0x0001), (0x4B800000, 0xBC00, 0x3C01)],
    "CVT_F32_F16": [(v,) for v in _F32_IN_F16_RANGE] + [(v | 0x80000000,) for v in _F32_IN_F16_RANGE],
    "CVT_F16_F32": [],
    "MAC_I32_I16": [(0x7FFFFFFF, 1, 1), (0x80000000, 0xFFFF, 1), (0, 0x8000, 0x8000), (0xFFFFFFFF, 0x8000, 0x7FFF)],
}


def edge_vectors(lop: LaneOp) -> list[tuple]:
    """Every combination of edge-class operands, then the directed cases."""
    if lop.op == FpOp.CVT_F16_F32:
        vecs = [(h,) for h in range(1 << 16)]  # exhaustive: cheap, and covers every edge class
    else:
        pools = [EDGES[kind] + (_F32_IN_F16_RANGE if lop.op == FpOp.CVT_F32_F16 else [])
                 for _, kind in lop.args]
        vecs = list(itertools.product(*pools))
    return vecs + list(_DIRECTED[lop.name])


def random_vectors(lop: LaneOp, n: int, seed: int | str = 1) -> list[tuple]:
    """n operand tuples from the shared generators (tb/fp_stimulus.py), seeded per op."""
    return random_operands(lop.golden_name, n, seed=f"tessera-fplane-{lop.name}-{seed}")


# --- Expectations, port values, failure lines -------------------------------------------------


def describe(lop: LaneOp, vec: tuple, got: int, want: int) -> str:
    shown = ", ".join(f"{port}={to_hex(kind, v)}" for (port, kind), v in zip(lop.args, vec, strict=True))
    return f"{lop.name}({shown}) -> rtl {to_hex(lop.out, got)}, golden {to_hex(lop.out, want)}"


def expected(lop: LaneOp, vectors: list[tuple]) -> list[int]:
    golden = lop.golden
    return [golden(*v) for v in vectors]


def port_values(lop: LaneOp, vec: tuple, rng: random.Random) -> dict[str, int]:
    """Port values for one vector: unused ports and the upper half of 16-bit operands are random,
    so the test also shows that the lane ignores them."""
    vals = {p: rng.getrandbits(32) for p in ("acc", "a", "b")}
    for (port, kind), v in zip(lop.args, vec, strict=True):
        vals[port] = (vals[port] & 0xFFFF0000 | v) if WIDTH[kind] == 16 else v
    return vals


# --- cocotb test ------------------------------------------------------------------------------


@cocotb.test()
async def lane_op_stream(dut):
    """Edge and random vectors of one op, streamed one per cycle under random en stalls and bubbles;
    a scoreboard checks bits, order, the fixed latency and that outputs hold while stalled."""
    cfg = tb_config()
    lop = LANE_OPS[cfg["op"]]
    n_random = int(cfg.get("n_random", 100_000))
    seed = cfg.get("seed", 1)
    stall_prob = float(cfg.get("stall_prob", 0.1))
    bubble_prob = float(cfg.get("bubble_prob", 0.02))
    rng = random.Random(f"drive-{lop.name}-{seed}")

    edges = edge_vectors(lop)
    vectors = edges + random_vectors(lop, n_random, seed)
    want = expected(lop, vectors)  # in bulk, before the simulation
    drive = [port_values(lop, v, rng) for v in vectors]
    n = len(vectors)

    clk, en_h, iv_h, op_h = dut.clk, dut.en, dut.in_valid, dut.op
    acc_h, a_h, b_h, ov_h, res_h = dut.acc, dut.a, dut.b, dut.out_valid, dut.result
    Clock(clk, 2, unit="ns").start()
    dut.rst.value = 1
    en_h.value = 1
    iv_h.value = 0
    op_h.value = int(lop.op)
    for _ in range(3):
        await RisingEdge(clk)
    dut.rst.value = 0

    latency = FPLane.LATENCY
    out_mask = (1 << WIDTH[lop.out]) - 1
    pending = deque()  # (vector index, index of the enabled edge that accepted it, operands seen on the ports)
    cov = FpuCoverage(lop.name, [kind for _, kind in lop.args], lop.out)
    port_h = {"acc": acc_h, "a": a_h, "b": b_h}
    arg_h = [port_h[port] for port, _ in lop.args]
    mismatches, errors = [], []
    sent = consumed = edge = stalls = bubbles = held_checks = cycles = 0
    last = None  # (en, out_valid, result) of the previous cycle
    while consumed < n:
        await RisingEdge(clk)
        await ReadWrite()
        cycles += 1
        if cycles > 2 * n + 1000:
            errors.append(f"watchdog: {consumed}/{n} results after {cycles} cycles")
            break
        en = rng.random() >= stall_prob
        stalls += not en
        offer = sent < n and not (en and rng.random() < bubble_prob)
        bubbles += en and sent < n and not offer
        if offer:
            vals = drive[sent]
            iv_h.value = 1
        else:
            # Stalled or bubble: random operands; in_valid random while stalled (must be ignored).
            vals = {p: rng.getrandbits(32) for p in ("acc", "a", "b")}
            iv_h.value = int(not en and rng.random() < 0.5)
        en_h.value = int(en)
        acc_h.value = vals["acc"]
        a_h.value = vals["a"]
        b_h.value = vals["b"]
        await ReadOnly()
        ov, res = int(ov_h.value), res_h.value.to_unsigned()
        if last is not None and not last[0] and (ov, res) != last[1:]:
            errors.append(f"cycle {cycles}: outputs changed while en = 0: {last[1:]} -> {(ov, res)}")
        held_checks += last is not None and not last[0]
        last = (en, ov, res)
        if en:
            if ov:
                if not pending:
                    errors.append(f"cycle {cycles}: out_valid with no operation in flight")
                else:
                    idx, accepted_at, seen = pending.popleft()
                    consumed += 1
                    cov.sample(seen, res)
                    if edge - accepted_at != latency:
                        errors.append(f"vector {idx}: result after {edge - accepted_at} enabled edges, "
                                      f"expected {latency}")
                    if res >> WIDTH[lop.out] or (res & out_mask) != want[idx]:
                        mismatches.append((idx, res))
            elif pending and edge - pending[0][1] >= latency:
                errors.append(f"vector {pending[0][0]}: no result {latency} enabled edges after its input")
                pending.popleft()
                consumed += 1
            if offer:
                pending.append((sent, edge, [h.value.to_unsigned() for h in arg_h]))
                sent += 1
            edge += 1
        if len(errors) > 20:
            break

    lines = [describe(lop, vectors[i], got, want[i]) for i, got in mismatches[:20]]
    assert not mismatches, f"{len(mismatches)}/{n} mismatches:\n" + "\n".join(lines)
    assert not errors, "protocol errors:\n" + "\n".join(errors[:20])
    assert consumed == n and not pending, f"{consumed}/{n} results, {len(pending)} still in flight"
    assert stalls > 0.05 * cycles and held_checks > 0 and bubbles > 0, (stalls, held_checks, bubbles, cycles)
    cov.save(f"{lop.name}-{seed}")
    dut._log.info("%s: %d vectors (%d edge/directed, %d random) checked in %d cycles, %d stall cycles, "
                  "%d bubbles", lop.name, n, len(edges), n_random, cycles, stalls, bubbles)
