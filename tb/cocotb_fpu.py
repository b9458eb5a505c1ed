"""cocotb tests of the FMAC lane (hdl/fpu.py, top ``tessera_fplane``) against golden/fp.py, plus
the op table and vector generators that tests/test_fpu_unit.py and tests/test_fpu.py share.

The op -> golden-function mapping lives here, on the testbench side, so that expectations are
never derived from the RTL module (hdl/fpu.py only supplies the op encoding ``FpOp``).

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

cocotb test (configuration from TESSERA_TB_CONFIG, see tb.runner.tb_config):
    lane_op_stream   op=<FpOp name>, n_random, seed, stall_prob, bubble_prob: streams the edge and
                     random vectors one per cycle with en deasserted at random, and checks every
                     result bit for bit, in order, exactly FPLane.LATENCY enabled edges after its
                     input, and that outputs hold while en = 0.
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
from tb.runner import tb_config

__all__ = ["LaneOp", "fp_lane_ops", "LANE_OPS", "edge_vectors", "random_vectors", "expected",
           "port_values", "describe", "EDGES", "LAYOUT", "WIDTH"]

# Layouts written out locally (exponent bits, fraction bits); the generators do not lean on fp.py.
LAYOUT = {"f16": (5, 10), "f32": (8, 23)}
WIDTH = {"f16": 16, "f32": 32, "i16": 16, "i32": 32}


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
    def arity(self) -> int:
        return len(self.args)


def fp_lane_ops() -> list[LaneOp]:
    """The lane's ops with their golden functions; the single place the mapping is written down."""
    f16, f32 = "f16", "f32"
    return [
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


LANE_OPS = {lop.name: lop for lop in fp_lane_ops()}


# --- Bit-pattern helpers ----------------------------------------------------------------------


def _bias(kind: str) -> int:
    return (1 << (LAYOUT[kind][0] - 1)) - 1


def _sign_bit(kind: str) -> int:
    return 1 << (WIDTH[kind] - 1)


def _inf(kind: str) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return ((1 << exp_bits) - 1) << man_bits


def _make(kind: str, sign: int, field: int, frac: int) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return (sign << (exp_bits + man_bits)) | (field << man_bits) | frac


def _field(kind: str, bits: int) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return (bits >> man_bits) & ((1 << exp_bits) - 1)


def _hex(kind: str, bits: int) -> str:
    return f"0x{bits:0{WIDTH[kind] // 4}X}"


def describe(lop: LaneOp, vec: tuple, got: int, want: int) -> str:
    shown = ", ".join(f"{port}={_hex(kind, v)}" for (port, kind), v in zip(lop.args, vec, strict=True))
    return f"{lop.name}({shown}) -> rtl {_hex(lop.out, got)}, golden {_hex(lop.out, want)}"


# --- Edge classes and directed cases --------------------------------------------------------


def _float_edges(kind: str) -> list[int]:
    exp_bits, man_bits = LAYOUT[kind]
    bias, inf, sign = _bias(kind), _inf(kind), _sign_bit(kind)
    one = bias << man_bits
    half = 1 << (man_bits - 1)
    magnitudes = [
        0,  # zero
        1,  # min subnormal
        half,  # mid subnormal (half the min normal)
        (1 << man_bits) - 1,  # max subnormal
        1 << man_bits,  # min normal
        (1 << man_bits) + 1,  # min normal + ulp
        one - 1,  # largest below 1.0
        one,  # 1.0
        one + 1,  # 1.0 + ulp: (1 + ulp) * 1.5 is a product tie
        one | half,  # 1.5
        (bias + 1) << man_bits,  # 2.0
        inf - 2,  # max finite - ulp (even significand)
        inf - 1,  # max finite
        inf,  # infinity
    ]
    nans = [
        inf | half,  # canonical quiet NaN
        sign | inf | half | 0x15,  # negative quiet NaN with payload
        inf | 1,  # signalling NaN, minimal payload
        sign | inf | ((half - 1) & 0x2AAAAA),  # negative signalling NaN with payload
    ]
    return magnitudes + [m | sign for m in magnitudes] + nans


EDGES = {
    "f16": _float_edges("f16"),
    "f32": _float_edges("f32"),
    "i16": [0, 1, 2, 0x1234, 0x7FFF, 0x8000, 0x8001, 0xFFFE, 0xFFFF],
    "i32": [0, 1, 0x3FFFFFFF, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xC0000000, 0xFFFFFFFF],
}

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


# --- Random vector generation ---------------------------------------------------------------


def _rand_frac(rng: random.Random, man_bits: int) -> int:
    frac = rng.getrandbits(man_bits)
    if rng.random() < 0.5:
        # Short significands make exact results, ties and cancellations common.
        frac &= ~((1 << rng.randint(0, man_bits)) - 1)
    return frac


def _rand_finite(rng: random.Random, kind: str, field: int) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    field = min(max(field, 0), (1 << exp_bits) - 2)
    return _make(kind, rng.getrandbits(1), field, _rand_frac(rng, man_bits))


def _rand_any(rng: random.Random, kind: str) -> int:
    r = rng.random()
    if r < 0.5 or kind.startswith("i"):
        return rng.getrandbits(WIDTH[kind]) if r < 0.85 else rng.choice(EDGES[kind])
    if r < 0.85:
        return _rand_finite(rng, kind, rng.randint(0, (1 << LAYOUT[kind][0]) - 2))
    return rng.choice(EDGES[kind])


def _near(rng: random.Random, man_bits: int) -> int:
    """Exponent offset: mostly tiny (heavy rounding/cancellation), sometimes up to the precision."""
    if rng.random() < 0.7:
        return rng.randint(-2, 2)
    return rng.randint(-(man_bits + 3), man_bits + 3)


def _negated_neighbour(rng: random.Random, kind: str, bits: int) -> int:
    """-bits, or a pattern a couple of ulps away from it (deliberate cancellation)."""
    neg = bits ^ _sign_bit(kind)
    mag = neg & (_sign_bit(kind) - 1)
    if mag >= _inf(kind):
        return neg
    mag = min(max(mag + rng.randint(-2, 2), 0), _inf(kind) - 1)
    return (neg & _sign_bit(kind)) | mag


def _add_operands(rng: random.Random, kind: str) -> tuple[int, int]:
    a = _rand_any(rng, kind)
    r = rng.random()
    if r < 0.25:
        b = _rand_any(rng, kind)
    elif r < 0.85:
        b = _rand_finite(rng, kind, _field(kind, a) + _near(rng, LAYOUT[kind][1]))
    else:
        b = _negated_neighbour(rng, kind, a)
    return (a, b) if rng.random() < 0.5 else (b, a)


def _mul_operands(rng: random.Random, kind: str) -> tuple[int, int]:
    exp_bits, man_bits = LAYOUT[kind]
    bias, top = _bias(kind), (1 << exp_bits) - 2
    r = rng.random()
    if r < 0.4:
        return _rand_any(rng, kind), _rand_any(rng, kind)
    fa = rng.randint(1, top)
    if r < 0.8:
        # Aim the product at the underflow or the overflow end of the range.
        target = rng.choice([rng.randint(-man_bits - 2, 2), rng.randint(top - 2, top + 2)])
        return _rand_finite(rng, kind, fa), _rand_finite(rng, kind, target - fa + bias)
    # Constructed tie: (1 + k * 2**-m) * 1.5 = 1.5 + (3k/2) ulp is a halfway case for odd k.
    k = rng.randrange(1, (1 << man_bits) // 3, 2)
    fb = min(max(rng.randint(1, top) - fa + bias, 1), top)
    a = _make(kind, rng.getrandbits(1), fa, k)
    b = _make(kind, rng.getrandbits(1), fb, 1 << (man_bits - 1))
    return (a, b) if rng.random() < 0.5 else (b, a)


def _rounded_product(lop: LaneOp, a: int, b: int) -> int:
    """a * b rounded to the accumulator format (for aiming acc at -a*b), via the golden model."""
    negzero = _sign_bit(lop.out)
    return fp.fmac_f32_f16(negzero, a, b) if lop.op == FpOp.FMAC_F32_F16 else lop.golden(negzero, a, b)


def _fmac_operands(rng: random.Random, lop: LaneOp) -> tuple[int, int, int]:
    out, src = lop.args[0][1], lop.args[1][1]
    a, b = _mul_operands(rng, src)
    r = rng.random()
    if r < 0.25:
        return _rand_any(rng, out), a, b
    if r < 0.8:
        if rng.random() < 0.3:
            # A power-of-two factor keeps the product short, so acc + a*b rounds like an add.
            b = _make(src, rng.getrandbits(1), _field(src, b) or 1, 0)
        exp = max(_field(src, a), 1) + max(_field(src, b), 1) - 2 * _bias(src)
        acc = _rand_finite(rng, out, exp + _bias(out) + _near(rng, LAYOUT[out][1]))
        return acc, a, b
    # acc = -round(a*b) (+- ulps): a fused result is then the product's rounding error.
    return _negated_neighbour(rng, out, _rounded_product(lop, a, b)), a, b


def _f32_to_f16_operand(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.3:
        return rng.getrandbits(32)
    if r < 0.9:
        # f32 values inside (and just beyond) the f16 range: normal, subnormal, overflow.
        exp = rng.randint(-14 - 12, 15 + 2)
        frac = rng.getrandbits(23)
        if rng.random() < 0.4:
            # Force an exact f16 halfway point: the first dropped bit set, the rest clear.
            dropped = 13 + max(0, -14 - exp)
            frac = (frac >> dropped << dropped) | (1 << (dropped - 1)) if dropped <= 23 else 0
        return _make("f32", rng.getrandbits(1), exp + 127, frac)
    return rng.choice(EDGES["f32"])


def _generator(lop: LaneOp) -> Callable[[random.Random], tuple]:
    kind = lop.args[-1][1]
    if lop.op in (FpOp.ADD_F32, FpOp.ADD_F16):
        return lambda rng: _add_operands(rng, kind)
    if lop.op in (FpOp.MUL_F32, FpOp.MUL_F16):
        return lambda rng: _mul_operands(rng, kind)
    if lop.op in (FpOp.FMAC_F32_F16, FpOp.FMAC_F32, FpOp.FMAC_F16):
        return lambda rng: _fmac_operands(rng, lop)
    if lop.op == FpOp.CVT_F16_F32:
        return lambda rng: (rng.getrandbits(16),)
    if lop.op == FpOp.CVT_F32_F16:
        return lambda rng: (_f32_to_f16_operand(rng),)
    return lambda rng: tuple(_rand_any(rng, k) for _, k in lop.args)


def random_vectors(lop: LaneOp, n: int, seed: int | str = 1) -> list[tuple]:
    rng = random.Random(f"tessera-fplane-{lop.name}-{seed}")  # str seeds are stable across runs
    gen = _generator(lop)
    return [gen(rng) for _ in range(n)]


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


def _u(handle) -> int:
    """A handle's value as an unsigned int (1-bit handles give a Logic, wider ones a LogicArray)."""
    v = handle.value
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


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
    pending = deque()  # (vector index, index of the enabled edge that accepted it)
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
                    idx, accepted_at = pending.popleft()
                    consumed += 1
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
                pending.append((sent, edge))
                sent += 1
            edge += 1
        if len(errors) > 20:
            break

    lines = [describe(lop, vectors[i], got, want[i]) for i, got in mismatches[:20]]
    assert not mismatches, f"{len(mismatches)}/{n} mismatches:\n" + "\n".join(lines)
    assert not errors, "protocol errors:\n" + "\n".join(errors[:20])
    assert consumed == n and not pending, f"{consumed}/{n} results, {len(pending)} still in flight"
    assert stalls > 0.05 * cycles and held_checks > 0 and bubbles > 0, (stalls, held_checks, bubbles, cycles)
    dut._log.info("%s: %d vectors (%d edge/directed, %d random) checked in %d cycles, %d stall cycles, "
                  "%d bubbles", lop.name, n, len(edges), n_random, cycles, stalls, bubbles)
