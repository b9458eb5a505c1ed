"""Bit-exact golden model of the Tessera PE floating-point and integer MAC arithmetic.

Role
----
This module is the reference the PE's FMAC hardware is verified against: every
function takes unsigned integer bit patterns and returns the unsigned integer bit
pattern the RTL must produce.  Results are computed with exact Python integer
arithmetic (significand, exponent) and a single round-to-nearest-even step; host
floats are never used to compute a result.  ``golden/fp_exact.py`` is an
independent ``fractions.Fraction`` reference that ``tests/test_golden_fp.py``
checks this module against; ``docs/floating-point.md`` states the rules in prose.

Interface (all arguments and results are unsigned bit patterns)
---------------------------------------------------------------
``f16_to_f32(h)``            exact widening; NaN -> canonical f32 NaN
``f32_to_f16(f)``            RNE narrowing, subnormal results, overflow to inf
``add_f16(a, b)``            a + b, one rounding to f16
``add_f32(a, b)``            a + b, one rounding to f32
``mul_f16(a, b)``            a * b, one rounding to f16
``mul_f32(a, b)``            a * b, one rounding to f32
``fmac_f32_f16(acc, a, b)``  f32 acc + f16 a * f16 b, fused, one rounding to f32 (GEMM mode)
``fmac_f32(acc, a, b)``      f32 acc + f32 a * f32 b, fused, one rounding to f32
``fmac_f16(acc, a, b)``      f16 acc + f16 a * f16 b, fused, one rounding to f16
``mac_i32_i16(acc, a, b)``   i32 acc + i16 a * i16 b, two's complement, wraps modulo 2**32
``max_f16(a, b)``, ``max_f32(a, b)``   the larger of a and b: any NaN -> canonical NaN, -0 < +0
``is_nan_f16(h)``, ``is_nan_f32(f)``
``f32_bits(x)``, ``f16_bits(x)``, ``bits_f32(b)``, ``bits_f16(b)``  host-float helpers for tests only
``add_f32_np``, ``mul_f32_np``, ``fmac_f32_np``, ``max_f32_np``, ``f16_to_f32_np``, ``f32_to_f16_np``
    array forms (numpy arrays of patterns) for sweeps of millions of elements; equal to the scalar
    functions element for element. They use binary64 host arithmetic where that is provably exact
    (see their section); the scalar functions above remain the definition.

Generic core: ``Format`` (``F16``, ``F32``), ``decode(fmt, bits)``,
``round_to(fmt, sign, sig, exp)``, ``add``, ``mul``, ``fmac``, ``convert``, ``maximum``.

Arithmetic rules
----------------
* Rounding: round to nearest, ties to even, for every operation.  Subnormal inputs
  and outputs are fully supported (gradual underflow, no flush to zero).
* Overflow: the result is rounded as if the exponent range were unbounded; if that
  exceeds the largest finite value it becomes +-inf.  So magnitudes at or above
  max_finite + ulp/2 become inf, anything below rounds to max_finite.
* NaN: any NaN input (quiet or signalling, any sign or payload) or an invalid
  operation (inf - inf in add/fmac, 0 * inf in mul/fmac) returns the canonical
  quiet NaN, f32 0x7FC00000 / f16 0x7E00.  There are no exception flags.
* Signed zero: an exact-zero sum is -0 only when both addends are -0 (so
  x + (-x) = +0, -0 + -0 = -0, +0 + -0 = +0); a product's sign is the XOR of the
  operand signs; in fmac the "addends" are acc and the exact product a*b.  A nonzero
  result that rounds to zero keeps the sign of the exact result.
* Infinity: inf + finite = inf; inf * nonzero finite = inf with the XOR sign; an
  infinite product plus a finite acc is the product's inf; inf + (-inf) = NaN.
* Fused: fmac_* compute acc + a*b exactly and round once.  In fmac_f32_f16 the
  f16*f16 product is itself exactly representable in f32 (22-bit significand,
  magnitude within [2**-48, 2**32)), so there fused and "f32 multiply then f32 add"
  give identical bits; for fmac_f32 and fmac_f16 they differ.
* Integer MAC: inputs are interpreted as two's complement of their width, the
  result is (acc + a*b) mod 2**32 as an unsigned 32-bit pattern.
* Maximum: IEEE 754-2019 ``maximum`` with the canonical NaN: any NaN input gives the
  canonical quiet NaN; otherwise the larger operand, bit for bit, with -0 < +0 (so
  max(-0, +0) = +0 in both orders). It never rounds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# Kinds returned by decode().  FINITE covers normal and subnormal nonzero values.
ZERO, FINITE, INF, NAN = "zero", "finite", "inf", "nan"


@dataclass(frozen=True)
class Format:
    """An IEEE 754 binary interchange format: sign, ``exp_bits`` exponent, ``man_bits`` fraction."""

    name: str
    exp_bits: int
    man_bits: int
    # Derived constants, precomputed because decode/round_to sit on the hot path.
    width: int = field(init=False)
    bias: int = field(init=False)
    exp_all_ones: int = field(init=False)
    man_mask: int = field(init=False)
    hidden: int = field(init=False)
    qmin: int = field(init=False)  # exponent of one ulp of a subnormal (= of the min normal)
    inf: int = field(init=False)  # +inf pattern
    qnan: int = field(init=False)  # canonical quiet NaN
    max_finite: int = field(init=False)

    def __post_init__(self) -> None:
        derived = {
            "width": 1 + self.exp_bits + self.man_bits,
            "bias": (1 << (self.exp_bits - 1)) - 1,
            "exp_all_ones": (1 << self.exp_bits) - 1,
            "man_mask": (1 << self.man_bits) - 1,
            "hidden": 1 << self.man_bits,
        }
        derived["qmin"] = 1 - derived["bias"] - self.man_bits
        derived["inf"] = derived["exp_all_ones"] << self.man_bits
        derived["qnan"] = derived["inf"] | (1 << (self.man_bits - 1))
        derived["max_finite"] = derived["inf"] - 1
        for key, value in derived.items():
            object.__setattr__(self, key, value)

    @property
    def sign_shift(self) -> int:
        return self.width - 1


F16 = Format("f16", 5, 10)
F32 = Format("f32", 8, 23)


def decode(fmt: Format, bits: int) -> tuple[str, int, int, int]:
    """Split a pattern into ``(kind, sign, sig, exp)``; finite values equal ``(-1)**sign * sig * 2**exp``.

    For ZERO ``sig`` is 0; for INF and NAN ``sig``/``exp`` are 0 and meaningless.
    """
    sign = (bits >> fmt.sign_shift) & 1
    biased = (bits >> fmt.man_bits) & fmt.exp_all_ones
    frac = bits & fmt.man_mask
    if biased == fmt.exp_all_ones:
        return (NAN if frac else INF), sign, 0, 0
    if biased == 0:
        # Subnormals share the min-normal exponent but have no hidden bit.
        return (FINITE if frac else ZERO), sign, frac, fmt.qmin
    return FINITE, sign, frac | fmt.hidden, biased - fmt.bias - fmt.man_bits


def _signed_zero(fmt: Format, sign: int) -> int:
    return sign << fmt.sign_shift


def _signed_inf(fmt: Format, sign: int) -> int:
    return (sign << fmt.sign_shift) | fmt.inf


def round_to(fmt: Format, sign: int, sig: int, exp: int) -> int:
    """Round the exact value ``(-1)**sign * sig * 2**exp`` (``sig >= 0``) to ``fmt``, RNE.

    Handles subnormal results, overflow to inf, and tiny results that round to a
    zero carrying ``sign``.
    """
    if sig == 0:
        return _signed_zero(fmt, sign)
    # Exponent of the result's last kept bit: normals keep man_bits+1 significant
    # bits; below the normal range the last bit is pinned at qmin (gradual underflow).
    lsb = max(exp + sig.bit_length() - 1 - fmt.man_bits, fmt.qmin)
    shift = lsb - exp
    if shift <= 0:
        kept = sig << -shift  # exact, no rounding needed
    else:
        kept = sig >> shift
        rest = sig - (kept << shift)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and kept & 1):
            kept += 1
    # Rounding up can carry out (1.11..1 -> 10.00..0): renormalise.  Overflow is
    # detected afterwards, i.e. against the rounded value, as IEEE 754 requires.
    if kept >> (fmt.man_bits + 1):
        kept >>= 1
        lsb += 1
    if not kept >> fmt.man_bits:
        # Subnormal (exponent field 0) or rounded to zero; a subnormal that rounded
        # up to 2**man_bits falls through to the normal branch as the min normal.
        return _signed_zero(fmt, sign) | kept
    biased = lsb + fmt.man_bits + fmt.bias
    if biased >= fmt.exp_all_ones:
        return _signed_inf(fmt, sign)
    return _signed_zero(fmt, sign) | (biased << fmt.man_bits) | (kept & fmt.man_mask)


def _sum_round(fmt: Format, sa: int, ma: int, ea: int, sb: int, mb: int, eb: int) -> int:
    """Round the exact sum of two finite signed terms (either may be zero) to ``fmt``."""
    # Align both to the smaller exponent; Python ints make this exact at any distance.
    e = min(ea, eb)
    va = ma << (ea - e)
    vb = mb << (eb - e)
    total = (-va if sa else va) + (-vb if sb else vb)
    if total == 0:
        # Exact zero: -0 only if both terms are -0 (covers x + (-x) = +0 under RNE).
        return _signed_zero(fmt, sa & sb)
    if total < 0:
        return round_to(fmt, 1, -total, e)
    return round_to(fmt, 0, total, e)


def convert(src: Format, dst: Format, bits: int) -> int:
    """Convert a ``src`` pattern to ``dst`` (exact when widening, RNE when narrowing)."""
    kind, sign, sig, exp = decode(src, bits)
    if kind == NAN:
        return dst.qnan
    if kind == INF:
        return _signed_inf(dst, sign)
    return round_to(dst, sign, sig, exp)


def add(fmt: Format, a: int, b: int) -> int:
    """a + b in ``fmt`` with a single RNE rounding."""
    ka, sa, ma, ea = decode(fmt, a)
    kb, sb, mb, eb = decode(fmt, b)
    if ka == NAN or kb == NAN:
        return fmt.qnan
    if ka == INF or kb == INF:
        if ka == INF and kb == INF and sa != sb:
            return fmt.qnan  # inf - inf is invalid
        return _signed_inf(fmt, sa if ka == INF else sb)
    return _sum_round(fmt, sa, ma, ea, sb, mb, eb)


def mul(fmt: Format, a: int, b: int) -> int:
    """a * b in ``fmt`` with a single RNE rounding."""
    ka, sa, ma, ea = decode(fmt, a)
    kb, sb, mb, eb = decode(fmt, b)
    if ka == NAN or kb == NAN:
        return fmt.qnan
    sign = sa ^ sb
    if ka == INF or kb == INF:
        if ka == ZERO or kb == ZERO:
            return fmt.qnan  # 0 * inf is invalid
        return _signed_inf(fmt, sign)
    return round_to(fmt, sign, ma * mb, ea + eb)


def fmac(out: Format, mul_fmt: Format, acc: int, a: int, b: int) -> int:
    """Fused acc + a*b: ``acc`` and the result in ``out``, ``a``/``b`` in ``mul_fmt``; one rounding."""
    kc, sc, mc, ec = decode(out, acc)
    ka, sa, ma, ea = decode(mul_fmt, a)
    kb, sb, mb, eb = decode(mul_fmt, b)
    if kc == NAN or ka == NAN or kb == NAN:
        return out.qnan
    psign = sa ^ sb
    if ka == INF or kb == INF:
        if ka == ZERO or kb == ZERO:
            return out.qnan  # 0 * inf is invalid, whatever acc is
        if kc == INF and sc != psign:
            return out.qnan  # inf - inf
        return _signed_inf(out, psign)
    if kc == INF:
        return _signed_inf(out, sc)
    # The product is exact as an integer; a zero operand gives ma*mb == 0, a signed zero term.
    return _sum_round(out, sc, mc, ec, psign, ma * mb, ea + eb)


def _order_key(fmt: Format, bits: int) -> int:
    """An integer that orders the non-NaN patterns of ``fmt`` by value, with -0 below +0."""
    sign = bits >> fmt.sign_shift
    magnitude = bits & ((1 << fmt.sign_shift) - 1)
    return -magnitude - 1 if sign else magnitude


def maximum(fmt: Format, a: int, b: int) -> int:
    """The larger of a and b (a pattern of one of them); any NaN -> canonical NaN; -0 < +0."""
    if decode(fmt, a)[0] == NAN or decode(fmt, b)[0] == NAN:
        return fmt.qnan
    return a if _order_key(fmt, a) >= _order_key(fmt, b) else b


# --- Public per-format operations -------------------------------------------------


def f16_to_f32(h: int) -> int:
    """Widen f16 to f32: always exact; NaN -> 0x7FC00000."""
    return convert(F16, F32, h)


def f32_to_f16(f: int) -> int:
    """Narrow f32 to f16 with RNE, subnormal results and overflow to inf; NaN -> 0x7E00."""
    return convert(F32, F16, f)


def add_f16(a: int, b: int) -> int:
    """f16 a + b, RNE."""
    return add(F16, a, b)


def add_f32(a: int, b: int) -> int:
    """f32 a + b, RNE."""
    return add(F32, a, b)


def mul_f16(a: int, b: int) -> int:
    """f16 a * b, RNE."""
    return mul(F16, a, b)


def mul_f32(a: int, b: int) -> int:
    """f32 a * b, RNE."""
    return mul(F32, a, b)


def fmac_f32_f16(acc: int, a: int, b: int) -> int:
    """GEMM mode: f32 acc + f16 a * f16 b, fused, one RNE rounding to f32.

    The f16*f16 product (at most 22 significant bits, magnitude in [2**-48, 65504**2])
    is exactly representable in f32, so this equals add_f32(acc, mul_f32(f16_to_f32(a),
    f16_to_f32(b))) bit for bit; hardware may use either structure.
    """
    return fmac(F32, F16, acc, a, b)


def fmac_f32(acc: int, a: int, b: int) -> int:
    """f32 acc + f32 a * f32 b, fused (product not rounded), one RNE rounding."""
    return fmac(F32, F32, acc, a, b)


def fmac_f16(acc: int, a: int, b: int) -> int:
    """f16 acc + f16 a * f16 b, fused (product not rounded), one RNE rounding."""
    return fmac(F16, F16, acc, a, b)


def max_f16(a: int, b: int) -> int:
    """f16 maximum: any NaN -> 0x7E00; max(-0, +0) = +0; exact otherwise."""
    return maximum(F16, a, b)


def max_f32(a: int, b: int) -> int:
    """f32 maximum: any NaN -> 0x7FC00000; max(-0, +0) = +0; exact otherwise."""
    return maximum(F32, a, b)


def _to_signed(value: int, width: int) -> int:
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) else value


def mac_i32_i16(acc: int, a: int, b: int) -> int:
    """i32 acc + i16 a * i16 b, two's complement, result wrapped to an unsigned 32-bit pattern."""
    return (_to_signed(acc, 32) + _to_signed(a, 16) * _to_signed(b, 16)) & 0xFFFFFFFF


def is_nan_f16(h: int) -> bool:
    """True for any f16 NaN pattern (quiet or signalling, any sign/payload)."""
    return (h & 0x7FFF) > F16.inf


def is_nan_f32(f: int) -> bool:
    """True for any f32 NaN pattern (quiet or signalling, any sign/payload)."""
    return (f & 0x7FFFFFFF) > F32.inf


# --- Host-float helpers (test convenience only; never used to compute results) ----


def f32_bits(x: float) -> int:
    """Bit pattern of ``x`` rounded to f32 by the host (struct); raises OverflowError if too large."""
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f16_bits(x: float) -> int:
    """Bit pattern of ``x`` rounded to f16 by the host (struct 'e'); raises OverflowError if too large."""
    return struct.unpack("<H", struct.pack("<e", x))[0]


def bits_f32(b: int) -> float:
    """Host float with the f32 value of pattern ``b``."""
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def bits_f16(b: int) -> float:
    """Host float with the f16 value of pattern ``b``."""
    return struct.unpack("<e", struct.pack("<H", b & 0xFFFF))[0]


# --- Array forms (numpy) of the f32 operations, for sweeps of millions of elements ----------
#
# Each takes and returns numpy arrays of bit patterns (uint32, or uint16 for f16) and equals the
# scalar function above element for element; tests/test_golden_fp.py checks that on random and
# edge-class operands. They compute with the host's IEEE binary64 arithmetic, exact by argument:
#   * an f32 x f32 product has at most 48 significant bits and a magnitude in [2**-298, 2**256]:
#     exact in binary64;
#   * an f32 + f32 sum rounded to binary64 and then to f32 equals the sum rounded once to f32
#     (double rounding is innocuous when 53 >= 2 * 24 + 2: Figueroa, "When is double rounding
#     innocuous?", 1995);
#   * a fused acc + a * b: the exact product plus acc is rounded to binary64 *to odd* (TwoSum gives
#     the exact error; an inexact sum with an even last bit moves one binary64 ulp toward the
#     error), and a round-to-odd result with 53 >= 24 + 2 bits rounds to f32 as the exact value
#     would (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums", 2008);
#   * the f32 and f16 casts of numpy are IEEE conversions (RNE, subnormals, overflow to inf).
# NaN results are replaced by the canonical NaN, as the scalar rules say.

def _np_f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32).astype(np.float64)


def _np_bits32(x64):
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(x64, dtype=np.float64).astype(np.float32).view(np.uint32)
    return np.where(np.isnan(x64), np.uint32(F32.qnan), out).astype(np.uint32)


def add_f32_np(a, b):
    """Array form of add_f32."""
    with np.errstate(invalid="ignore"):
        return _np_bits32(_np_f32(a) + _np_f32(b))


def mul_f32_np(a, b):
    """Array form of mul_f32."""
    with np.errstate(invalid="ignore"):
        return _np_bits32(_np_f32(a) * _np_f32(b))


def fmac_f32_np(acc, a, b):
    """Array form of fmac_f32: acc + a * b with one rounding."""
    with np.errstate(invalid="ignore", over="ignore"):
        p = _np_f32(a) * _np_f32(b)
        c = _np_f32(acc)
        s = p + c
        bb = s - p  # TwoSum: s + err == p + c exactly while everything is finite
        err = (p - (s - bb)) + (c - bb)
        s_bits = s.view(np.uint64)
        fix = np.isfinite(s) & (err != 0) & ((s_bits & 1) == 0)
        odd = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return _np_bits32(odd)


def max_f32_np(a, b):
    """Array form of max_f32."""
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)

    def key(x):
        x = x.astype(np.int64)
        mag = x & 0x7FFFFFFF
        return np.where(x >> 31 != 0, -mag - 1, mag)

    nan = ((a & 0x7FFFFFFF) > F32.inf) | ((b & 0x7FFFFFFF) > F32.inf)
    out = np.where(key(a) >= key(b), a, b)
    return np.where(nan, np.uint32(F32.qnan), out).astype(np.uint32)


def f16_to_f32_np(h):
    """Array form of f16_to_f32."""
    h = np.asarray(h, dtype=np.uint16)
    return _np_bits32(h.view(np.float16).astype(np.float64))


def f32_to_f16_np(f):
    """Array form of f32_to_f16."""
    f = np.asarray(f, dtype=np.uint32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = f.view(np.float32).astype(np.float16).view(np.uint16)
    return np.where((f & 0x7FFFFFFF) > F32.inf, np.uint16(F16.qnan), out).astype(np.uint16)
