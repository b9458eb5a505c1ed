"""Golden model of the PE math library: exp, reciprocal and reciprocal square root as sequences of
PE vector instructions, bit for bit, and their accuracy against float64.

Role
----
The routines are *defined* here as step lists: each step is one PE vector instruction over whole
buffers (``x`` the input, ``y`` the output, ``b0``.. scratch, ``w`` the f32 work buffer of the f16
forms), written with the assembler's mnemonics. ``sdk/kernels/mathlib.py`` emits exactly these
steps as assembly; ``run`` executes them with golden/fp.py's arithmetic, so the result of every
element is fixed bit for bit by docs/floating-point.md's rules. docs/floating-point.md ("Math
library") states the algorithms, constants, special cases and the measured accuracy.

A step is ``(mnemonic, dst, a, b)``: ``a`` a buffer (None for ``vfill``), ``b`` a buffer (vector
forms), an int (the 32-bit scalar pattern of scalar forms: ``rS``) or None. Every op runs element by
element at one index, so a step may read the buffer it writes.

Interface
---------
ROUTINES                        ("exp", "rcp", "rsqrt")
FORMATS                         ("f32", "f16"): f16 converts to f32 (exact), runs the f32 steps,
                                and converts back (RNE)
steps(name, fmt="f32") -> [(mnemonic, dst, a, b)]    the routine's instruction sequence
buffers(name, fmt="f32") -> [buffer names]           the scratch buffers it uses (x, y excluded)
run(name, x, fmt="f32", exact=False) -> array        results (uint32 / uint16 patterns) of the
                                input patterns ``x``; ``exact=True`` runs golden/fp.py's scalar
                                functions (the definition), else their numpy array forms (equal
                                bit for bit, tests/test_golden_fp.py; fast enough for 10**6 inputs)
reference(name, x, fmt="f32") -> float64 array       the exact function of the inputs (float64),
                                with the special values the routines define (rsqrt(-0) = +inf)
ulp_error(name, x, got, fmt="f32") -> float64 array  |got - reference| in ulps of the format at the
                                reference (0 where both are the same inf or both NaN; inf where only
                                one is)
EXP_LO, EXP_HI, EXP_POLY, LN2_HI, LN2_LO, RCP_MAGIC, RSQRT_MAGIC, NR_STEPS   the constants
"""

from __future__ import annotations

import numpy as np

from . import fp

__all__ = ["ROUTINES", "FORMATS", "steps", "buffers", "run", "reference", "ulp_error", "EXP_LO", "EXP_HI",
           "EXP_POLY", "LN2_HI", "LN2_LO", "RCP_MAGIC", "RSQRT_MAGIC", "NR_STEPS"]

ROUTINES = ("exp", "rcp", "rsqrt")
FORMATS = ("f32", "f16")


def _f32(v: float) -> int:
    return fp.f32_bits(v)


ONE = 0x3F800000
NEG_ONE = 0xBF800000
MAGIC_ROUND = 0x4B400000  # 1.5 * 2**23: x + it rounds x to an integer, which lands in the low bits
LOG2E = 0x3FB8AA3B  # f32(log2(e))
LN2_HI = 0x3F317218  # f32(ln 2)
LN2_LO = 0xB102E308  # f32(ln 2 - LN2_HI)
#: x is clamped to [EXP_LO, EXP_HI]: exp(-104) < 2**-150 rounds to +0, exp(88.8) > the largest f32
EXP_LO = _f32(-104.0)
EXP_HI = _f32(88.8)
#: exp(r) ~ sum EXP_POLY[k] * r**k on |r| <= ln2 / 2: a degree-6 minimax fit of the relative error
#: (c0 = 1 exactly), rounded to f32 (relative error 1.7e-8 with the rounded coefficients)
EXP_POLY = (0x3F800000, 0x3F800000, 0x3EFFFFFE, 0x3E2AAA0D, 0x3D2AAC11, 0x3C0933C1, 0x3AB57398)
#: initial approximations from the bit pattern: 1/a ~ RCP_MAGIC - bits(a) (relative error <= 0.0506),
#: 1/sqrt(a) ~ RSQRT_MAGIC - bits(a) / 2 (<= 0.0344)
RCP_MAGIC = 0x7EF311C3
RSQRT_MAGIC = 0x5F3759DF
#: Newton-Raphson steps: 0.0506 -> 2.6e-3 -> 6.5e-6 -> 4.2e-11 (rcp); rsqrt alike
NR_STEPS = 3

M32 = 0xFFFFFFFF


def _neg(bits: int) -> int:
    return bits ^ 0x80000000


def _scale_steps(src: str, dst: str) -> list:
    """dst = s = sign(x) * 2**(63 - (E >> 1)), E = the biased exponent of x (0 for subnormals and
    zero, 255 for inf and NaN): one of 2**-64 .. 2**63, so x * s is normal (|x * s| in
    [2**-86, 2**64)) and s * s keeps x * s * s in [2**-23, 4). Integer ops on the pattern: the
    arithmetic shift copies the sign into bit 30 (masked away) and E >> 1 into bits 29:23, the xor
    turns E >> 1 into 127 - (E >> 1), the add moves it to 190 - (E >> 1)."""
    return [("vsra.i32", dst, src, 1), ("vands.i32", dst, dst, 0xBF800000),
            ("vxors.i32", dst, dst, 0x3F800000), ("vadds.i32", dst, dst, 0x1F800000)]


def _exp_steps() -> list:
    c = [_neg(k) if i % 2 else k for i, k in enumerate(EXP_POLY)]  # p(r) written in -r: odd terms negated
    s = [
        # b0 = -clamp(x): max(x, lo), then max(-x, -hi); a NaN becomes the canonical NaN here
        ("vmaxs.f32", "b0", "x", EXP_LO), ("vmuls.f32", "b0", "b0", NEG_ONE), ("vmaxs.f32", "b0", "b0", _neg(EXP_HI)),
        # b1 = 1.5 * 2**23 + n, n = round(x * log2 e) (one rounding of the fused sum); its pattern
        # is 0x4B400000 + n
        ("vfill.f32", "b1", None, MAGIC_ROUND), ("fmacs.f32", "b1", "b0", _neg(LOG2E)),
        ("vadds.f32", "b2", "b1", _neg(MAGIC_ROUND)),  # b2 = n, exactly
        # b0 = -r = -x + n * ln2 (Cody-Waite: the first fused step is exact, |n| <= 150)
        ("fmacs.f32", "b0", "b2", LN2_HI), ("fmacs.f32", "b0", "b2", LN2_LO),
        # 2**n as s1 * s2 = 2**floor(n/2) * 2**(n - floor(n/2)), both normal for n in [-150, 128]:
        # (0x4B400000 + n) >> 1 << 23 = floor(n/2) << 23 (the constant's bits shift out)
        ("vsrl.i32", "b2", "b1", 1), ("vsll.i32", "b2", "b2", 23), ("vadds.i32", "b2", "b2", ONE),
        ("vands.i32", "b1", "b1", 1), ("vsll.i32", "b1", "b1", 23), ("vadd.i32", "b1", "b1", "b2"),
        # p(r) by Horner on -r, alternating between y and b3 (fmac accumulates into a filled constant)
        ("vfill.f32", "y", None, c[5]), ("fmacs.f32", "y", "b0", c[6]),
    ]
    acc, other = "y", "b3"
    for k in (4, 3, 2, 1, 0):
        s += [("vfill.f32", other, None, c[k]), ("fmac.f32", other, acc, "b0")]
        acc, other = other, acc
    assert acc == "b3"
    # p * s1 is exact; * s2 rounds once (to inf on overflow, to a subnormal or 0 on underflow)
    return s + [("vmul.f32", "y", "b3", "b2"), ("vmul.f32", "y", "y", "b1")]


def _rcp_steps() -> list:
    s = _scale_steps("x", "b0") + [
        ("vmul.f32", "b1", "x", "b0"),  # a = x * s = |x| * 2**k >= 0, normal for finite nonzero x
        # b1 = -clamp(a, 2**-100, 2**100): 0 and inf become finite (their results then over- and
        # underflow in the final scaling)
        ("vmaxs.f32", "b1", "b1", _f32(2.0 ** -100)), ("vmuls.f32", "b1", "b1", NEG_ONE),
        ("vmaxs.f32", "b1", "b1", _f32(-2.0 ** 100)),
        # y0 = RCP_MAGIC - bits(a) = (RCP_MAGIC + 2**31) - bits(-a) = ~bits(-a) + RCP_MAGIC + 2**31 + 1
        ("vxors.i32", "b2", "b1", M32), ("vadds.i32", "b2", "b2", (RCP_MAGIC + 0x80000001) & M32),
    ]
    for _ in range(NR_STEPS):  # e = 1 - a * y; y = y + y * e (both fused)
        s += [("vfill.f32", "b3", None, ONE), ("fmac.f32", "b3", "b1", "b2"), ("fmac.f32", "b2", "b2", "b3")]
    return s + [("vmul.f32", "y", "b2", "b0")]  # 1/x = (1/a) * s: one rounding if it leaves the normal range


def _rsqrt_steps() -> list:
    s = [("vadds.f32", "b0", "x", 0)]  # -0 + +0 = +0; a NaN becomes the canonical NaN
    s += _scale_steps("b0", "b1")
    s += [("vmul.f32", "b2", "b0", "b1"), ("vmul.f32", "b2", "b2", "b1"),  # a = x * s * s, exact
          # the special results as a pattern floor, applied by an i32 maximum at the end: +inf for
          # x = +0 ((bits - 1) >> 31 is all ones for +0 and the negatives), the canonical NaN for
          # x < 0 (bits >> 31); both patterns lie above every other result's
          ("vadds.i32", "b3", "b0", M32), ("vsra.i32", "b3", "b3", 31), ("vands.i32", "b3", "b3", 0x7F800000),
          ("vsra.i32", "b0", "b0", 31), ("vands.i32", "b0", "b0", 0x7FC00000), ("vmax.i32", "b0", "b0", "b3"),
          ("vmuls.f32", "b2", "b2", _f32(-0.5)),  # b2 = -a/2 (exact)
          ("vmaxs.f32", "b3", "b2", _f32(-2.0 ** 64)),  # b3 = the same, +inf clamped (the first steps)
          # y0 = RSQRT_MAGIC - bits(a) / 2 from bits(-a/2) = bits(a) + 2**31 - 2**23:
          # = (RSQRT_MAGIC + 2**30 - 2**22) - (bits(-a/2) >> 1) = ~(bits >> 1) + that + 1
          ("vsrl.i32", "b4", "b3", 1), ("vxors.i32", "b4", "b4", M32),
          ("vadds.i32", "b4", "b4", (RSQRT_MAGIC + 0x40000000 - 0x400000 + 1) & M32)]
    for k in range(NR_STEPS):  # h = -a/2 * y; e = 1/2 - a/2 * y * y; y = y + y * e
        half_a = "b2" if k == NR_STEPS - 1 else "b3"  # the last step sees a = +inf: y -> -inf
        s += [("vmul.f32", "b5", half_a, "b4"), ("vfill.f32", "y", None, _f32(0.5)),
              ("fmac.f32", "y", "b5", "b4"), ("fmac.f32", "b4", "b4", "y")]
    return s + [("vmaxs.f32", "b4", "b4", 0),  # x = +inf: -inf -> +0
                ("vmul.f32", "b4", "b4", "b1"),  # 1/sqrt(x) = (1/sqrt(a)) * s, exact
                ("vmax.i32", "y", "b4", "b0")]


_F32_STEPS = {"exp": _exp_steps(), "rcp": _rcp_steps(), "rsqrt": _rsqrt_steps()}


def _check(name: str, fmt: str):
    if name not in ROUTINES:
        raise ValueError(f"unknown routine {name!r}: expected one of {', '.join(ROUTINES)}")
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected f32 or f16")


def steps(name: str, fmt: str = "f32") -> list:
    """The routine's instructions over the buffers x, y and its scratch buffers."""
    _check(name, fmt)
    core = _F32_STEPS[name]
    if fmt == "f32":
        return list(core)
    ren = {"x": "w", "y": "w"}  # the f32 steps read x only before they first write y
    body = [(mn, ren.get(d, d), ren.get(a, a), ren.get(b, b) if isinstance(b, str) else b) for mn, d, a, b in core]
    return [("vcvt.f32.f16", "w", "x", None)] + body + [("vcvt.f16.f32", "y", "w", None)]


def buffers(name: str, fmt: str = "f32") -> list:
    """The scratch buffers of the routine, in first-use order (x and y excluded)."""
    out = []
    for _, d, a, b in steps(name, fmt):
        for v in (d, a, b):
            if isinstance(v, str) and v not in ("x", "y") and v not in out:
                out.append(v)
    return out


def buffer_type(mnemonic: str, role: str) -> str:
    """The element type of operand ``role`` ("d", "a" or "b") of a step's mnemonic."""
    parts = mnemonic.split(".")
    if parts[0] == "vcvt":
        return parts[1] if role == "d" else parts[2]
    return parts[1]


# ---- execution -----------------------------------------------------------------------------

def _scalar_map(f, *arrays):
    return np.array([f(*(int(v) for v in t)) for t in zip(*arrays, strict=True)], dtype=np.uint32)


def _op(mn: str, acc, a, b, exact: bool):
    """One step's result; acc is the destination's old value (fmac), b an array (scalar broadcast)."""
    u32 = np.uint32
    if mn == "vcvt.f32.f16":
        return _scalar_map(fp.f16_to_f32, a) if exact else fp.f16_to_f32_np(a)
    if mn == "vcvt.f16.f32":
        return (_scalar_map(fp.f32_to_f16, a) if exact else fp.f32_to_f16_np(a)).astype(np.uint16)
    base = mn.split(".")[0]
    if base in ("vmax", "vmaxs") and mn.endswith("i32"):
        return np.where(a.view(np.int32) >= b.view(np.int32), a, b).astype(u32)
    ints = {"vadd": lambda: a + b, "vadds": lambda: a + b, "vands": lambda: a & b, "vors": lambda: a | b,
            "vxors": lambda: a ^ b, "vsll": lambda: a << (b & u32(31)), "vsrl": lambda: a >> (b & u32(31)),
            "vsra": lambda: (a.view(np.int32) >> (b & u32(31)).astype(np.int32)).view(u32)}
    if mn.endswith("i32"):
        with np.errstate(over="ignore"):
            return ints[base]().astype(u32)
    if exact:
        f = {"vmax": fp.max_f32, "vmaxs": fp.max_f32, "vmul": fp.mul_f32, "vmuls": fp.mul_f32,
             "vadd": fp.add_f32, "vadds": fp.add_f32}
        if base in ("fmac", "fmacs"):
            return _scalar_map(fp.fmac_f32, acc, a, b)
        return _scalar_map(f[base], a, b)
    f = {"vmax": fp.max_f32_np, "vmaxs": fp.max_f32_np, "vmul": fp.mul_f32_np, "vmuls": fp.mul_f32_np,
         "vadd": fp.add_f32_np, "vadds": fp.add_f32_np}
    if base in ("fmac", "fmacs"):
        return fp.fmac_f32_np(acc, a, b)
    return f[base](a, b)


def run(name: str, x, fmt: str = "f32", exact: bool = False) -> np.ndarray:
    """The routine's results for the input patterns ``x`` (uint32 for f32, uint16 for f16)."""
    _check(name, fmt)
    x = np.asarray(x, dtype=np.uint16 if fmt == "f16" else np.uint32).reshape(-1)
    n = x.size
    buf = {"x": x}
    for mn, d, a, b in steps(name, fmt):
        if mn.startswith("vfill"):
            buf[d] = np.full(n, b, dtype=np.uint32)
            continue
        bv = buf[b] if isinstance(b, str) else np.full(n, b if b is not None else 0, dtype=np.uint32)
        buf[d] = _op(mn, buf.get(d), buf[a], bv, exact)
    return buf["y"]


# ---- accuracy ------------------------------------------------------------------------------

def _values(x, fmt):
    x = np.asarray(x)
    with np.errstate(invalid="ignore"):
        return (x.astype(np.uint16).view(np.float16) if fmt == "f16" else x.astype(np.uint32).view(np.float32)
                ).astype(np.float64)


def reference(name: str, x, fmt: str = "f32") -> np.ndarray:
    """The exact function at the inputs, in float64 (special values as the routines define them)."""
    _check(name, fmt)
    v = _values(x, fmt)
    with np.errstate(all="ignore"):
        if name == "exp":
            return np.exp(v)
        if name == "rcp":
            return 1.0 / v
        return np.where(v == 0, np.inf, 1.0 / np.sqrt(v))  # rsqrt(-0) = +inf: -0 is taken as +0


def ulp_error(name: str, x, got, fmt: str = "f32") -> np.ndarray:
    """|got - reference| in ulps of ``fmt`` at the reference; a reference beyond the largest finite
    value counts as inf if it rounds to inf."""
    ref = reference(name, x, fmt)
    g = _values(got, fmt)
    man, emin, big = (10, -14, 65520.0) if fmt == "f16" else (23, -126, float(2 ** 128 - 2 ** 103))
    with np.errstate(all="ignore"):
        ref_r = np.where(np.abs(ref) >= big, np.copysign(np.inf, ref), ref)  # rounds to inf
        _, e = np.frexp(np.where(np.isfinite(ref_r), ref_r, 1.0))
        ulp = np.ldexp(1.0, np.maximum(e - 1, emin) - man)
        err = np.abs(g - ref_r) / ulp
        same = (np.isnan(g) & np.isnan(ref_r)) | (np.isinf(g) & (g == ref_r))
        return np.where(same, 0.0, np.where(np.isnan(err), np.inf, err))
