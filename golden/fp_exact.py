"""Independent exact reference for golden/fp.py, built on ``fractions.Fraction``.

Role
----
Test oracle only (slow).  Bit patterns are decoded to exact rationals, the
operation is carried out exactly with ``Fraction``, and the exact result is
rounded by a deliberately different, straightforward algorithm: compute the two
representable neighbours of the value on the grid of its binade and pick the
nearer one, ties to the one with an even significand.  Nothing is imported from
golden/fp.py, so a shared bug would have to be written twice.

Interface
---------
The same public operation names as golden/fp.py (``f16_to_f32``, ``f32_to_f16``,
``add_f16``, ``add_f32``, ``mul_f16``, ``mul_f32``, ``fmac_f32_f16``, ``fmac_f32``,
``fmac_f16``, ``mac_i32_i16``, ``max_f16``, ``max_f32``), taking and returning unsigned bit
patterns, plus:

``exact(op, *args)``          the unrounded result as a value tuple (see below)
``value_of(fmt, bits)``       decode a pattern to a value tuple
``round_value(fmt, value)``   round a value tuple to a pattern
``neighbours(fmt, mag)``      (lower, upper) representable magnitudes around ``mag``

Value tuples: ``("nan",)``, ``("inf", sign)`` or ``("num", sign, magnitude)`` with a
nonnegative ``Fraction`` magnitude (the sign is kept separately so that -0 exists).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

# name -> (exponent bits, fraction bits); written out here, not taken from fp.py.
FORMATS = {"f16": (5, 10), "f32": (8, 23)}

NAN = ("nan",)


def _params(fmt: str) -> tuple[int, int, int]:
    exp_bits, man_bits = FORMATS[fmt]
    bias = 2 ** (exp_bits - 1) - 1
    return exp_bits, man_bits, bias


@lru_cache(maxsize=None)  # Fractions are immutable; caching only saves time
def _pow2(k: int) -> Fraction:
    return Fraction(2) ** k


def max_finite(fmt: str) -> Fraction:
    _, man_bits, bias = _params(fmt)
    return (2 - _pow2(-man_bits)) * _pow2(bias)


def value_of(fmt: str, bits: int) -> tuple:
    """Decode ``bits`` into a value tuple following the IEEE 754 field definitions."""
    exp_bits, man_bits, bias = _params(fmt)
    sign = bits >> (exp_bits + man_bits)
    field = (bits >> man_bits) % 2**exp_bits
    frac = bits % 2**man_bits
    if field == 2**exp_bits - 1:
        return NAN if frac else ("inf", sign)
    if field == 0:
        return ("num", sign, Fraction(frac, 2**man_bits) * _pow2(1 - bias))
    return ("num", sign, (1 + Fraction(frac, 2**man_bits)) * _pow2(field - bias))


def _binade(mag: Fraction) -> int:
    """Return e with 2**e <= mag < 2**(e+1), for mag > 0, by stepping from an estimate."""
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    while _pow2(e) > mag:
        e -= 1
    while _pow2(e + 1) <= mag:
        e += 1
    return e


def neighbours(fmt: str, mag: Fraction) -> tuple[Fraction, Fraction]:
    """Representable grid points lo <= mag < hi (exponent unbounded above, subnormal grid below)."""
    _, man_bits, bias = _params(fmt)
    emin = 1 - bias
    e = emin if mag < _pow2(emin) else _binade(mag)
    ulp = _pow2(e - man_bits)
    lo = (mag // ulp) * ulp
    return lo, lo + ulp


def _is_even_on_grid(fmt: str, v: Fraction) -> bool:
    """True if v's significand (v / its own ulp) is even; zero counts as even."""
    if v == 0:
        return True
    _, man_bits, bias = _params(fmt)
    e = max(_binade(v), 1 - bias)
    return (v / _pow2(e - man_bits)).numerator % 2 == 0


def rounding_class(fmt: str, mag: Fraction) -> str:
    """'exact', 'tie' or 'inexact' for rounding the magnitude ``mag`` to ``fmt``."""
    lo, hi = neighbours(fmt, mag) if mag else (mag, mag)
    if mag == lo:
        return "exact"
    return "tie" if mag - lo == hi - mag else "inexact"


def _encode(fmt: str, sign: int, mag: Fraction) -> int:
    """Pattern of a representable finite magnitude (or inf if above max finite)."""
    exp_bits, man_bits, bias = _params(fmt)
    sign_bit = sign << (exp_bits + man_bits)
    if mag > max_finite(fmt):
        return sign_bit | ((2**exp_bits - 1) << man_bits)
    if mag < _pow2(1 - bias):
        frac = mag / _pow2(1 - bias - man_bits)
        assert frac.denominator == 1
        return sign_bit | int(frac)
    e = _binade(mag)
    frac = (mag / _pow2(e) - 1) * 2**man_bits
    assert frac.denominator == 1
    return sign_bit | ((e + bias) << man_bits) | int(frac)


def round_value(fmt: str, value: tuple) -> int:
    """Round a value tuple to ``fmt``: nearest, ties to even; NaN -> canonical quiet NaN."""
    exp_bits, man_bits, _ = _params(fmt)
    if value[0] == "nan":
        return ((2**exp_bits - 1) << man_bits) | 2 ** (man_bits - 1)
    if value[0] == "inf":
        return (value[1] << (exp_bits + man_bits)) | ((2**exp_bits - 1) << man_bits)
    _, sign, mag = value
    if mag == 0:
        return sign << (exp_bits + man_bits)
    lo, hi = neighbours(fmt, mag)
    if mag - lo < hi - mag:
        chosen = lo
    elif mag - lo > hi - mag:
        chosen = hi
    else:
        chosen = lo if _is_even_on_grid(fmt, lo) else hi
    # chosen may be 0 (underflow): _encode keeps the sign of the exact result.
    return _encode(fmt, sign, chosen)


# --- Exact operations on value tuples ----------------------------------------------


def _signed(value: tuple) -> Fraction:
    return -value[2] if value[1] else value[2]


def _exact_sum(x: tuple, y: tuple) -> tuple:
    """Exact x + y following the IEEE 754 text for specials and zero signs."""
    if x[0] == "nan" or y[0] == "nan":
        return NAN
    if x[0] == "inf" and y[0] == "inf":
        return x if x[1] == y[1] else NAN
    if x[0] == "inf":
        return x
    if y[0] == "inf":
        return y
    total = _signed(x) + _signed(y)
    if total != 0:
        return ("num", int(total < 0), abs(total))
    # "x + x = x - (-x) retains the same sign as x even when x is zero"; any other
    # exact zero sum is +0 in round-to-nearest.
    both_zero_same_sign = x[2] == 0 and y[2] == 0 and x[1] == y[1]
    return ("num", x[1] if both_zero_same_sign else 0, Fraction(0))


def _exact_product(x: tuple, y: tuple) -> tuple:
    if x[0] == "nan" or y[0] == "nan":
        return NAN
    sign = x[1] ^ y[1]
    if x[0] == "inf" or y[0] == "inf":
        other = y if x[0] == "inf" else x
        if other[0] == "num" and other[2] == 0:
            return NAN
        return ("inf", sign)
    return ("num", sign, x[2] * y[2])


def _exact_fma(acc: tuple, x: tuple, y: tuple) -> tuple:
    product = _exact_product(x, y)
    if acc[0] == "nan":
        return NAN
    return _exact_sum(acc, product)


# op name -> (input formats, output format, exact function)
_FLOAT_OPS = {
    "f16_to_f32": (("f16",), "f32", lambda x: x),
    "f32_to_f16": (("f32",), "f16", lambda x: x),
    "add_f16": (("f16", "f16"), "f16", _exact_sum),
    "add_f32": (("f32", "f32"), "f32", _exact_sum),
    "mul_f16": (("f16", "f16"), "f16", _exact_product),
    "mul_f32": (("f32", "f32"), "f32", _exact_product),
    "fmac_f32_f16": (("f32", "f16", "f16"), "f32", _exact_fma),
    "fmac_f32": (("f32", "f32", "f32"), "f32", _exact_fma),
    "fmac_f16": (("f16", "f16", "f16"), "f16", _exact_fma),
}


def exact(op: str, *args: int) -> tuple:
    """The unrounded result of float operation ``op`` on bit patterns ``args``."""
    in_fmts, _, fn = _FLOAT_OPS[op]
    return fn(*(value_of(fmt, bits) for fmt, bits in zip(in_fmts, args, strict=True)))


def output_format(op: str) -> str:
    return _FLOAT_OPS[op][1]


def _run(op: str, *args: int) -> int:
    return round_value(output_format(op), exact(op, *args))


def f16_to_f32(h: int) -> int:
    return _run("f16_to_f32", h)


def f32_to_f16(f: int) -> int:
    return _run("f32_to_f16", f)


def add_f16(a: int, b: int) -> int:
    return _run("add_f16", a, b)


def add_f32(a: int, b: int) -> int:
    return _run("add_f32", a, b)


def mul_f16(a: int, b: int) -> int:
    return _run("mul_f16", a, b)


def mul_f32(a: int, b: int) -> int:
    return _run("mul_f32", a, b)


def fmac_f32_f16(acc: int, a: int, b: int) -> int:
    return _run("fmac_f32_f16", acc, a, b)


def fmac_f32(acc: int, a: int, b: int) -> int:
    return _run("fmac_f32", acc, a, b)


def fmac_f16(acc: int, a: int, b: int) -> int:
    return _run("fmac_f16", acc, a, b)


def _twos(bits: int, width: int) -> int:
    """Two's complement reading of an unsigned pattern (written as a comparison, not a mask)."""
    return bits - 2**width if bits >= 2 ** (width - 1) else bits


def mac_i32_i16(acc: int, a: int, b: int) -> int:
    """Exact integer acc + a*b, then reduced into [-2**31, 2**31) and shown as unsigned."""
    total = _twos(acc, 32) + _twos(a, 16) * _twos(b, 16)
    wrapped = (total + 2**31) % 2**32 - 2**31
    return wrapped + 2**32 if wrapped < 0 else wrapped


def _maximum(fmt: str, a: int, b: int) -> int:
    """IEEE 754-2019 maximum with the canonical NaN, decided on exact values: a NaN operand gives
    the canonical quiet NaN; of two values the greater; of two zeros +0 unless both are -0."""
    x, y = value_of(fmt, a), value_of(fmt, b)
    if x[0] == "nan" or y[0] == "nan":
        return round_value(fmt, NAN)

    def rank(v):  # (value, zero sign) compared lexicographically; inf as +-2 * max finite
        mag = 2 * max_finite(fmt) if v[0] == "inf" else v[2]
        signed = -mag if v[1] else mag
        return (signed, 0 if v[1] else 1)

    return a if rank(x) >= rank(y) else b


def max_f16(a: int, b: int) -> int:
    return _maximum("f16", a, b)


def max_f32(a: int, b: int) -> int:
    return _maximum("f32", a, b)
