"""FP stimulus shared by the golden-model tests and the FMAC-lane testbench: bit-pattern helpers,
edge-class operand values and seeded random operand generators (biased toward ties, cancellation,
overflow/underflow and subnormals).

Users: tests/test_golden_fp.py (golden/fp.py against the exact reference golden/fp_exact.py),
tb/cocotb_fpu.py (the FMAC lane hdl/fpu.py against golden/fp.py) and tests/test_fpu.py.

Formats are named by kind strings: "f16", "f32" (IEEE binary16/binary32) and "i16", "i32" (two's
complement); values are unsigned bit patterns. Operations are named as in golden/fp.py and
golden/fp_exact.py ("add_f16", "fmac_f32_f16", "f32_to_f16", "mac_i32_i16", ...). Nothing here
depends on the RTL; golden/fp.py is used only to round a product when aiming an FMAC accumulator
at -a*b.

Interface
    LAYOUT, WIDTH                     kind -> (exponent bits, fraction bits); kind -> width in bits
    OPS                               op -> (input kinds, output kind), in golden-argument order
    bias, sign_bit, inf_bits(kind)    exponent bias, sign bit, +inf pattern
    make(kind, sign, field, frac)     a float pattern from its fields; exp_field(kind, bits) the field
    is_nan, is_subnormal(kind, bits)  predicates (any sign, any payload)
    to_hex(kind, bits)                "0x3C00": zero-padded to the kind's width
    EDGES                             kind -> edge-class values: +-0, +-min/mid/max subnormal,
                                      +-min normal, values around 1.0, +-1.5, +-2.0, +-max finite,
                                      +-inf, quiet/signalling NaNs with payloads; integer extremes
    rand_frac, rand_finite, rand_any  random fraction / finite value with a given exponent field /
                                      any pattern (uniform bits, short significands, edge values)
    near(rng, man_bits)               a random exponent offset, mostly within +-2
    negated_neighbour(rng, kind, x)   -x or a pattern a couple of ulps away (cancellation)
    add_operands(rng, kind)           (a, b): random, near exponents, cancellations
    mul_operands(rng, kind)           (a, b): random, products aimed at underflow/overflow, ties
    fmac_operands(rng, out, src)      (acc, a, b): acc near a*b in exponent, or acc = -round(a*b)
    narrowing_operand(rng, src, dst)  a src value around dst's range, with constructed dst ties
    rounded_product(out, src, a, b)   round(a*b) to out (golden/fp.py), for aiming acc at -a*b
    operand_generator(op)             rng -> operand tuple for op
    random_operands(op, n, seed)      n operand tuples from random.Random(seed) (str seeds are stable)
    REQUIRED_CLASSES                  op -> coverage classes a default-sized random mix must reach
    coverage_classes(op, args, ...)   the coverage classes of one case
"""

from __future__ import annotations

import random
from typing import Callable

from golden import fp

__all__ = [
    "LAYOUT", "WIDTH", "OPS", "EDGES", "REQUIRED_CLASSES",
    "bias", "sign_bit", "inf_bits", "make", "exp_field", "is_nan", "is_subnormal", "to_hex",
    "rand_frac", "rand_finite", "rand_any", "near", "negated_neighbour",
    "add_operands", "mul_operands", "fmac_operands", "narrowing_operand", "rounded_product",
    "operand_generator", "random_operands", "coverage_classes",
]

# Layouts written out locally (exponent bits, fraction bits): the generators do not lean on fp.py.
LAYOUT = {"f16": (5, 10), "f32": (8, 23)}
WIDTH = {"f16": 16, "f32": 32, "i16": 16, "i32": 32}

# op -> (input kinds, output kind)
OPS = {
    "f16_to_f32": (("f16",), "f32"),
    "f32_to_f16": (("f32",), "f16"),
    "add_f16": (("f16", "f16"), "f16"),
    "add_f32": (("f32", "f32"), "f32"),
    "mul_f16": (("f16", "f16"), "f16"),
    "mul_f32": (("f32", "f32"), "f32"),
    "fmac_f32_f16": (("f32", "f16", "f16"), "f32"),
    "fmac_f32": (("f32", "f32", "f32"), "f32"),
    "fmac_f16": (("f16", "f16", "f16"), "f16"),
    "mac_i32_i16": (("i32", "i16", "i16"), "i32"),
}


# --- Bit-pattern helpers -------------------------------------------------------------------------


def bias(kind: str) -> int:
    return (1 << (LAYOUT[kind][0] - 1)) - 1


def sign_bit(kind: str) -> int:
    return 1 << (WIDTH[kind] - 1)


def inf_bits(kind: str) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return ((1 << exp_bits) - 1) << man_bits


def make(kind: str, sign: int, field: int, frac: int) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return (sign << (exp_bits + man_bits)) | (field << man_bits) | frac


def exp_field(kind: str, bits: int) -> int:
    exp_bits, man_bits = LAYOUT[kind]
    return (bits >> man_bits) & ((1 << exp_bits) - 1)


def is_nan(kind: str, bits: int) -> bool:
    return (bits & (sign_bit(kind) - 1)) > inf_bits(kind)


def is_subnormal(kind: str, bits: int) -> bool:
    return exp_field(kind, bits) == 0 and bits & (sign_bit(kind) - 1) != 0


def to_hex(kind: str, bits: int) -> str:
    return f"0x{bits:0{WIDTH[kind] // 4}X}"


def _unbiased_exp(kind: str, bits: int) -> int:
    return max(exp_field(kind, bits), 1) - bias(kind)


# --- Edge classes --------------------------------------------------------------------------------


def _float_edges(kind: str) -> list[int]:
    _, man_bits = LAYOUT[kind]
    inf, sign = inf_bits(kind), sign_bit(kind)
    one = bias(kind) << man_bits
    half = 1 << (man_bits - 1)
    magnitudes = [
        0,  # zero
        1,  # min subnormal
        half,  # mid subnormal (exactly half the min normal)
        (1 << man_bits) - 1,  # max subnormal
        1 << man_bits,  # min normal
        (1 << man_bits) + 1,  # min normal + ulp
        one - 1,  # largest below 1.0
        one,  # 1.0
        one + 1,  # 1.0 + ulp: (1 + ulp) * 1.5 is a product tie
        one | half,  # 1.5
        (bias(kind) + 1) << man_bits,  # 2.0
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


# --- Random operands -----------------------------------------------------------------------------


def rand_frac(rng: random.Random, man_bits: int) -> int:
    frac = rng.getrandbits(man_bits)
    if rng.random() < 0.5:
        # Short significands make exact results, ties and cancellations common.
        frac &= ~((1 << rng.randint(0, man_bits)) - 1)
    return frac


def rand_finite(rng: random.Random, kind: str, field: int) -> int:
    """A random-sign finite value with exponent field ``field`` (clamped to the finite range)."""
    exp_bits, man_bits = LAYOUT[kind]
    field = min(max(field, 0), (1 << exp_bits) - 2)
    return make(kind, rng.getrandbits(1), field, rand_frac(rng, man_bits))


def rand_any(rng: random.Random, kind: str) -> int:
    """Uniform bits, a finite value with a uniform exponent field, or an edge value."""
    r = rng.random()
    if r < 0.5 or kind.startswith("i"):
        return rng.getrandbits(WIDTH[kind]) if r < 0.85 else rng.choice(EDGES[kind])
    if r < 0.85:
        return rand_finite(rng, kind, rng.randint(0, (1 << LAYOUT[kind][0]) - 2))
    return rng.choice(EDGES[kind])


def near(rng: random.Random, man_bits: int) -> int:
    """Exponent offset: mostly tiny (heavy rounding/cancellation), sometimes up to the precision."""
    if rng.random() < 0.7:
        return rng.randint(-2, 2)
    return rng.randint(-(man_bits + 3), man_bits + 3)


def negated_neighbour(rng: random.Random, kind: str, bits: int) -> int:
    """-bits, or a pattern a couple of ulps away from it (deliberate cancellation)."""
    neg = bits ^ sign_bit(kind)
    mag = neg & (sign_bit(kind) - 1)
    if mag >= inf_bits(kind):
        return neg
    mag = min(max(mag + rng.randint(-2, 2), 0), inf_bits(kind) - 1)
    return (neg & sign_bit(kind)) | mag


def add_operands(rng: random.Random, kind: str) -> tuple[int, int]:
    a = rand_any(rng, kind)
    r = rng.random()
    if r < 0.25:
        b = rand_any(rng, kind)
    elif r < 0.85:
        b = rand_finite(rng, kind, exp_field(kind, a) + near(rng, LAYOUT[kind][1]))
    else:
        b = negated_neighbour(rng, kind, a)
    return (a, b) if rng.random() < 0.5 else (b, a)


def mul_operands(rng: random.Random, kind: str) -> tuple[int, int]:
    exp_bits, man_bits = LAYOUT[kind]
    ebias, top = bias(kind), (1 << exp_bits) - 2
    r = rng.random()
    if r < 0.4:
        return rand_any(rng, kind), rand_any(rng, kind)
    fa = rng.randint(1, top)
    if r < 0.8:
        # Aim the product at the underflow or the overflow end of the range.
        target = rng.choice([rng.randint(-man_bits - 2, 2), rng.randint(top - 2, top + 2)])
        return rand_finite(rng, kind, fa), rand_finite(rng, kind, target - fa + ebias)
    # Constructed tie: (1 + k * 2**-m) * 1.5 = 1.5 + (3k/2) ulp is a halfway case for odd k.
    k = rng.randrange(1, (1 << man_bits) // 3, 2)
    fb = min(max(rng.randint(1, top) - fa + ebias, 1), top)
    a = make(kind, rng.getrandbits(1), fa, k)
    b = make(kind, rng.getrandbits(1), fb, 1 << (man_bits - 1))
    return (a, b) if rng.random() < 0.5 else (b, a)


_GOLDEN_FORMATS = {"f16": fp.F16, "f32": fp.F32}


def rounded_product(out: str, src: str, a: int, b: int) -> int:
    """a * b (``src`` operands) rounded to ``out`` by golden/fp.py, as -0 + a*b: a signed zero,
    inf or the canonical NaN where the product is one."""
    return fp.fmac(_GOLDEN_FORMATS[out], _GOLDEN_FORMATS[src], sign_bit(out), a, b)


def fmac_operands(rng: random.Random, out: str, src: str) -> tuple[int, int, int]:
    """(acc, a, b) with acc in ``out`` and a, b in ``src``."""
    a, b = mul_operands(rng, src)
    r = rng.random()
    if r < 0.25:
        return rand_any(rng, out), a, b
    if r < 0.8:
        if rng.random() < 0.3:
            # A power-of-two factor keeps the product short, so acc + a*b rounds like an add.
            b = make(src, rng.getrandbits(1), exp_field(src, b) or 1, 0)
        exp = _unbiased_exp(src, a) + _unbiased_exp(src, b)
        acc = rand_finite(rng, out, exp + bias(out) + near(rng, LAYOUT[out][1]))
        return acc, a, b
    # acc = -round(a*b) (+- ulps): a fused result is then the product's rounding error.
    return negated_neighbour(rng, out, rounded_product(out, src, a, b)), a, b


def narrowing_operand(rng: random.Random, src: str = "f32", dst: str = "f16") -> int:
    """A ``src`` value for conversion to the narrower ``dst``: uniform bits, values inside (and
    just beyond) dst's range (normal, subnormal, overflow), often an exact dst halfway point."""
    _, src_man = LAYOUT[src]
    _, dst_man = LAYOUT[dst]
    emin, emax = 1 - bias(dst), bias(dst)
    r = rng.random()
    if r < 0.3:
        return rng.getrandbits(WIDTH[src])
    if r < 0.9:
        exp = rng.randint(emin - dst_man - 2, emax + 2)
        frac = rng.getrandbits(src_man)
        if rng.random() < 0.4:
            # Force an exact dst halfway point: the first dropped bit set, the rest clear.
            dropped = src_man - dst_man + max(0, emin - exp)
            frac = (frac >> dropped << dropped) | (1 << (dropped - 1)) if dropped <= src_man else 0
        return make(src, rng.getrandbits(1), exp + bias(src), frac)
    return rng.choice(EDGES[src])


def operand_generator(op: str) -> Callable[[random.Random], tuple]:
    """rng -> one operand tuple (golden-argument order) for ``op``, from the generators above."""
    ins, out = OPS[op]
    if op.startswith("add_"):
        return lambda rng: add_operands(rng, out)
    if op.startswith("mul_"):
        return lambda rng: mul_operands(rng, out)
    if op.startswith("fmac_"):
        return lambda rng: fmac_operands(rng, out, ins[1])
    if len(ins) == 1 and WIDTH[ins[0]] > WIDTH[out]:
        return lambda rng: (narrowing_operand(rng, ins[0], out),)
    if len(ins) == 1:
        return lambda rng: (rng.getrandbits(WIDTH[ins[0]]),)  # widening is exact: uniform bits
    return lambda rng: tuple(rand_any(rng, k) for k in ins)


def random_operands(op: str, n: int, seed: str) -> list[tuple]:
    rng = random.Random(seed)  # str seeds are stable across runs
    gen = operand_generator(op)
    return [gen(rng) for _ in range(n)]


# --- Coverage classes ----------------------------------------------------------------------------

# Classes a random mix of the default size (20 000 per op) must reach. Missing ones are
# mathematically impossible: finite sums of grid values cannot underflow to zero, an f16*f16
# product is tiny next to the f32 overflow threshold, f16 -> f32 is always exact.
REQUIRED_CLASSES = {
    "f16_to_f32": {"exact", "nan"},
    "f32_to_f16": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "add_f16": {"tie", "inexact", "cancel", "overflow", "subnormal", "nan"},
    "add_f32": {"tie", "inexact", "cancel", "overflow", "subnormal", "nan"},
    "mul_f16": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "mul_f32": {"tie", "inexact", "overflow", "underflow_zero", "subnormal", "nan"},
    "fmac_f32_f16": {"tie", "inexact", "cancel", "nan"},
    "fmac_f32": {"tie", "inexact", "cancel", "overflow", "underflow_zero", "subnormal", "nan"},
    "fmac_f16": {"tie", "inexact", "cancel", "overflow", "underflow_zero", "subnormal", "nan"},
    "mac_i32_i16": {"wrap_up", "wrap_down", "no_wrap"},
}


def _signed(bits: int, width: int) -> int:
    return bits - (1 << width) if bits >> (width - 1) else bits


def coverage_classes(op: str, args: tuple, value: tuple | None = None, result: int | None = None,
                     rounding_class: Callable[[str, object], str] | None = None) -> set[str]:
    """Coverage classes of one case of ``op``.

    mac_i32_i16: "wrap_up", "wrap_down" or "no_wrap", from ``args`` alone. Float ops need the exact
    reference's view, passed in so that this module stays independent of it: ``value``, the exact
    result as golden/fp_exact.exact gives it; ``result``, its correctly rounded pattern; and
    ``rounding_class`` (golden/fp_exact.rounding_class). The classes: "nan"/"inf" for a special
    exact result, "cancel" for an exact zero with a finite nonzero first operand (else "zero"),
    otherwise the rounding class ("exact", "tie", "inexact") plus "overflow", "underflow_zero" or
    "subnormal" by the rounded result.
    """
    ins, out = OPS[op]
    if out.startswith("i"):
        acc, a, b = (_signed(v, WIDTH[k]) for v, k in zip(args, ins, strict=True))
        total = acc + a * b
        limit = 1 << (WIDTH[out] - 1)
        return {"wrap_up"} if total >= limit else {"wrap_down"} if total < -limit else {"no_wrap"}
    if value[0] != "num":
        return {value[0]}
    if value[2] == 0:
        first = args[0] & (sign_bit(ins[0]) - 1)
        cancelled = op.startswith(("add", "fmac")) and 0 < first < inf_bits(ins[0])
        return {"cancel"} if cancelled else {"zero"}
    classes = {rounding_class(out, value[2])}
    mag = result & (sign_bit(out) - 1)
    if mag == inf_bits(out):
        classes.add("overflow")
    elif mag == 0:
        classes.add("underflow_zero")
    elif is_subnormal(out, result):
        classes.add("subnormal")
    return classes
