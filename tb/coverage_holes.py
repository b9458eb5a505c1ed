"""Coverage holes accepted on purpose, each with the reason it cannot (or need not) be hit.

``DECLARED_HOLES[group][bin] = reason``. tb/coverage.py ``report`` treats these as closed; every
other hole of a group that ran fails the regression (tests/conftest.py). A declared hole that is
hit anyway is listed in the summary under ``declared_but_hit`` (the reason was wrong).
"""

from __future__ import annotations

__all__ = ["DECLARED_HOLES"]

_SUM_ON_GRID = ("the exact sum of two values of the format is a multiple of its smallest subnormal, so a "
                "nonzero sum is never below it: it cannot round to zero")
_F16_IN_F32 = "every f16 value is an f32 value (f16 -> f32 is exact)"

DECLARED_HOLES: dict[str, dict[tuple, str]] = {
    "fpu.ADD_F16": {("result", "underflow_zero"): _SUM_ON_GRID},
    "fpu.ADD_F32": {("result", "underflow_zero"): _SUM_ON_GRID},
    "fpu.CVT_F16_F32": {
        ("result", "subnormal"): "f16 subnormals are normal f32 numbers",
        ("result", "overflow"): "the f16 range lies inside the f32 range",
        ("result", "underflow_zero"): _F16_IN_F32,
        **{("rnd", lsb, r, s): (_F16_IN_F32 + "; an 11-bit significand leaves the 13 low bits of the f32 "
                                "significand 0, so neither the kept LSB nor a round or sticky bit is ever set")
           for lsb in (0, 1) for r in (0, 1) for s in (0, 1) if (lsb, r, s) != (0, 0, 0)},
    },
    "fpu.FMAC_F32_F16": {
        ("result", "overflow"): ("an f16 x f16 product is below 2**32, far under half an ulp of the largest f32 "
                                 "(2**103): a finite accumulator plus it cannot round past the largest f32"),
        ("result", "underflow_zero"): ("the product is a multiple of 2**-48 and the accumulator of 2**-149, so a "
                                       "nonzero exact sum is at least the smallest f32 subnormal"),
    },
}
