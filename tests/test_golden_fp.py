"""Checks golden/fp.py (the bit-exact FMAC model) against golden/fp_exact.py and numpy.

* edge classes: every combination of +-0, +-min/max subnormal, +-min normal, +-max
  finite, +-inf, quiet/signalling NaNs with payloads and a few ordinary values;
* hand-computed cases (ties to even/odd, overflow, underflow, subnormal/normal
  boundary, signed-zero cancellation, fused vs unfused) checked against both models;
* seeded random vectors (uniform bits plus operands biased to nearby exponents,
  deliberate cancellations and constructed ties), with a coverage check that the
  mix really reached ties, cancellations, overflow, underflow and subnormals;
* numpy cross-checks, and exhaustive f16 -> f32 conversion and round trip.

Edge values, random operand generators and coverage classes come from tb/fp_stimulus.py
(shared with the FMAC-lane testbench).

TESSERA_FP_RANDOM sets the number of random vectors per operation (default 20000).
"""

from __future__ import annotations

import itertools
import os
import random

import numpy as np
import pytest

from golden import fp
from golden import fp_exact as fx
from tb.fp_stimulus import (
    EDGES,
    LAYOUT,
    OPS,
    REQUIRED_CLASSES,
    bias,
    coverage_classes,
    inf_bits,
    is_nan,
    make,
    random_operands,
    sign_bit,
    to_hex,
)

N_RANDOM = int(os.environ.get("TESSERA_FP_RANDOM", "20000"))

QNAN = {"f16": 0x7E00, "f32": 0x7FC00000}
FLOAT_OPS = [op for op in OPS if op != "mac_i32_i16"]

# Classes that are mathematically impossible: finite sums of grid values cannot underflow to zero,
# an f16*f16 product is tiny next to the f32 overflow threshold, f16 -> f32 is always exact.
FORBIDDEN = {
    "f16_to_f32": {"tie", "inexact", "overflow", "underflow_zero"},
    "add_f16": {"underflow_zero"},
    "add_f32": {"underflow_zero"},
    "fmac_f32_f16": {"overflow", "underflow_zero"},
}


def _describe(op: str, args: tuple, got: int, want: int) -> str:
    in_kinds, out_kind = OPS[op]
    shown = ", ".join(to_hex(k, a) for k, a in zip(in_kinds, args, strict=True))
    return f"{op}({shown}) -> model {to_hex(out_kind, got)}, expected {to_hex(out_kind, want)}"


def _assert_no_mismatch(op: str, mismatches: list, total: int) -> None:
    assert total > 0, f"{op}: no vectors were checked"
    lines = [_describe(op, *m) for m in mismatches[:12]]
    assert not mismatches, f"{len(mismatches)}/{total} mismatches:\n" + "\n".join(lines)


def _nans(kind: str) -> list[int]:
    return [e for e in EDGES[kind] if is_nan(kind, e)]


def _random_cases(op: str, salt: str, n: int = N_RANDOM) -> list[tuple]:
    return random_operands(op, n, seed=f"tessera-golden-fp-{op}-{salt}")


# --- Tests: model vs exact reference --------------------------------------------------


def _check_against_reference(op: str, cases) -> tuple[list, int, set]:
    model, out = getattr(fp, op), OPS[op][1]
    mismatches, total, seen = [], 0, set()
    for args in cases:
        total += 1
        got = model(*args)
        if op == "mac_i32_i16":
            want = fx.mac_i32_i16(*args)
            seen |= coverage_classes(op, args)
        else:
            value = fx.exact(op, *args)
            want = fx.round_value(out, value)
            seen |= coverage_classes(op, args, value, want, fx.rounding_class)
        if got != want:
            mismatches.append((op, args, got, want))
    return mismatches, total, seen


@pytest.mark.parametrize("op", OPS)
def test_edge_classes_vs_reference(op):
    """Every combination of edge-class operands, model vs exact reference."""
    cases = itertools.product(*(EDGES[k] for k in OPS[op][0]))
    mismatches, total, _ = _check_against_reference(op, cases)
    _assert_no_mismatch(op, mismatches, total)


@pytest.mark.parametrize("op", OPS)
def test_random_vs_reference(op):
    """Seeded random mix, model vs exact reference, and the mix's coverage."""
    mismatches, total, seen = _check_against_reference(op, _random_cases(op, "ref"))
    _assert_no_mismatch(op, mismatches, total)
    if N_RANDOM >= 20000:  # coverage is only promised for the default run size
        missing = REQUIRED_CLASSES[op] - seen
        assert not missing, f"{op}: random mix never reached {sorted(missing)}"
    impossible = FORBIDDEN.get(op, set()) & seen
    assert not impossible, f"{op}: reference produced impossible classes {sorted(impossible)}"


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_any_nan_input_gives_canonical_nan(op):
    """A NaN (quiet or signalling, any sign/payload) in any position yields the canonical qNaN."""
    in_kinds, out = OPS[op]
    checked = 0
    for pos, kind in enumerate(in_kinds):
        others = [EDGES[k] if i != pos else _nans(kind) for i, k in enumerate(in_kinds)]
        for args in itertools.product(*others):
            for impl in (fp, fx):
                got = getattr(impl, op)(*args)
                assert got == QNAN[out], _describe(op, args, got, QNAN[out]) + f" [{impl.__name__}]"
            checked += 1
    assert checked >= len(_nans(in_kinds[0]))


# --- Hand-computed cases (checked against both the model and the reference) ----------

F32_ONE, F16_ONE = 0x3F800000, 0x3C00
F32_QNAN, F16_QNAN = QNAN["f32"], QNAN["f16"]

HAND_CASES = [
    # f16 -> f32: exact widening
    ("f16_to_f32", (0x0001,), 0x33800000, "min-subnormal"),
    ("f16_to_f32", (0x03FF,), 0x387FC000, "max-subnormal"),
    ("f16_to_f32", (0x7BFF,), 0x477FE000, "max-finite"),
    ("f16_to_f32", (0x8000,), 0x80000000, "neg-zero"),
    ("f16_to_f32", (0xFC00,), 0xFF800000, "neg-inf"),
    ("f16_to_f32", (0x7D00,), F32_QNAN, "snan-payload"),
    ("f16_to_f32", (0xFE00,), F32_QNAN, "neg-qnan"),
    # f32 -> f16: RNE narrowing
    ("f32_to_f16", (0x3F801000,), F16_ONE, "tie-even-down"),
    ("f32_to_f16", (0x3F803000,), 0x3C02, "tie-odd-up"),
    ("f32_to_f16", (0x3F801001,), 0x3C01, "above-tie"),
    ("f32_to_f16", (0x477FEF00,), 0x7BFF, "65519-to-max"),
    ("f32_to_f16", (0x477FF000,), 0x7C00, "65520-tie-to-inf"),
    ("f32_to_f16", (0x7F7FFFFF,), 0x7C00, "f32-max-to-inf"),
    ("f32_to_f16", (0x33000000,), 0x0000, "half-min-sub-to-zero"),
    ("f32_to_f16", (0xB3000000,), 0x8000, "neg-half-min-sub-to-neg-zero"),
    ("f32_to_f16", (0x33000001,), 0x0001, "above-half-min-sub"),
    ("f32_to_f16", (0x33400000,), 0x0001, "0.75-min-sub-up"),
    ("f32_to_f16", (0x33C00000,), 0x0002, "1.5-min-sub-tie-to-2"),
    ("f32_to_f16", (0x387FE000,), 0x0400, "max-sub-tie-up-to-min-normal"),
    ("f32_to_f16", (0x80000001,), 0x8000, "f32-min-sub-to-neg-zero"),
    ("f32_to_f16", (0xFF800000,), 0xFC00, "neg-inf"),
    ("f32_to_f16", (0x7FC00001,), F16_QNAN, "qnan-payload"),
    ("f32_to_f16", (0xFF800001,), F16_QNAN, "neg-snan"),
    # add_f32
    ("add_f32", (F32_ONE, 0x33800000), F32_ONE, "tie-even-down"),
    ("add_f32", (0x3F800001, 0x33800000), 0x3F800002, "tie-odd-up"),
    ("add_f32", (F32_ONE, 0x33800001), 0x3F800001, "above-tie"),
    ("add_f32", (0x7F7FFFFF, 0x7F7FFFFF), 0x7F800000, "overflow"),
    ("add_f32", (0x7F7FFFFF, 0x73000000), 0x7F800000, "max-plus-half-ulp-to-inf"),
    ("add_f32", (0x7F7FFFFF, 0x72FFFFFF), 0x7F7FFFFF, "max-plus-below-half-ulp"),
    ("add_f32", (0x00800000, 0x80000001), 0x007FFFFF, "min-normal-minus-min-sub"),
    ("add_f32", (0x007FFFFF, 0x00000001), 0x00800000, "max-sub-plus-min-sub"),
    ("add_f32", (F32_ONE, 0xBF800000), 0x00000000, "cancel-pos-first"),
    ("add_f32", (0xBF800000, F32_ONE), 0x00000000, "cancel-neg-first"),
    ("add_f32", (0x00000001, 0x80000001), 0x00000000, "cancel-subnormal"),
    ("add_f32", (0x80000000, 0x80000000), 0x80000000, "neg-zero-plus-neg-zero"),
    ("add_f32", (0x00000000, 0x80000000), 0x00000000, "pos-zero-plus-neg-zero"),
    ("add_f32", (0x80000000, 0x00000000), 0x00000000, "neg-zero-plus-pos-zero"),
    ("add_f32", (0x80000001, 0x80000001), 0x80000002, "neg-subnormals"),
    ("add_f32", (0x7F800000, 0xFF800000), F32_QNAN, "inf-minus-inf"),
    ("add_f32", (0xFF800000, F32_ONE), 0xFF800000, "neg-inf-plus-finite"),
    ("add_f32", (0x7F800001, F32_ONE), F32_QNAN, "snan"),
    ("add_f32", (F32_ONE, 0xFFC12345), F32_QNAN, "neg-qnan-payload"),
    # add_f16
    ("add_f16", (F16_ONE, 0x1000), F16_ONE, "tie-even-down"),
    ("add_f16", (0x3C01, 0x1000), 0x3C02, "tie-odd-up"),
    ("add_f16", (F16_ONE, 0x1001), 0x3C01, "above-tie"),
    ("add_f16", (0x7BFF, 0x4C00), 0x7C00, "max-plus-half-ulp-to-inf"),
    ("add_f16", (0x7BFF, 0x4BFF), 0x7BFF, "max-plus-below-half-ulp"),
    ("add_f16", (0xFBFF, 0xCC00), 0xFC00, "neg-overflow"),
    ("add_f16", (0x0400, 0x8001), 0x03FF, "min-normal-minus-min-sub"),
    ("add_f16", (0x03FF, 0x0001), 0x0400, "max-sub-plus-min-sub"),
    ("add_f16", (F16_ONE, 0xBC00), 0x0000, "cancel-pos-first"),
    ("add_f16", (0xBC00, F16_ONE), 0x0000, "cancel-neg-first"),
    ("add_f16", (0x8000, 0x8000), 0x8000, "neg-zero-plus-neg-zero"),
    ("add_f16", (0x0000, 0x8000), 0x0000, "pos-zero-plus-neg-zero"),
    ("add_f16", (0x7C00, 0xFC00), F16_QNAN, "inf-minus-inf"),
    ("add_f16", (0xFC00, F16_ONE), 0xFC00, "neg-inf-plus-finite"),
    ("add_f16", (0x7C01, F16_ONE), F16_QNAN, "snan"),
    # mul_f32
    ("mul_f32", (0x3F800001, 0x3FC00000), 0x3FC00002, "tie-odd-up"),
    ("mul_f32", (0x3F800003, 0x3FC00000), 0x3FC00004, "tie-even-down"),
    ("mul_f32", (0x00000001, 0x3F000000), 0x00000000, "half-min-sub-to-zero"),
    ("mul_f32", (0x80000001, 0x3F000000), 0x80000000, "half-min-sub-to-neg-zero"),
    ("mul_f32", (0x00000001, 0x3F400000), 0x00000001, "0.75-min-sub-up"),
    ("mul_f32", (0x00000001, 0x3FC00000), 0x00000002, "1.5-min-sub-tie-up"),
    ("mul_f32", (0x00000001, 0x40200000), 0x00000002, "2.5-min-sub-tie-down"),
    ("mul_f32", (0x00000001, 0x00000001), 0x00000000, "underflow"),
    ("mul_f32", (0x80000001, 0x00000001), 0x80000000, "underflow-neg"),
    ("mul_f32", (0x007FFFFF, 0x3F800001), 0x00800000, "round-up-to-min-normal"),
    ("mul_f32", (0x00800000, 0x3F000000), 0x00400000, "normal-to-subnormal-exact"),
    ("mul_f32", (0x7F7FFFFF, 0x40000000), 0x7F800000, "overflow"),
    ("mul_f32", (0xFF7FFFFF, 0x40000000), 0xFF800000, "overflow-neg"),
    ("mul_f32", (0x7F7FFFFF, 0x3F800001), 0x7F800000, "max-times-1+ulp"),
    ("mul_f32", (0x00000000, 0x7F800000), F32_QNAN, "zero-times-inf"),
    ("mul_f32", (0x80000000, 0x40A00000), 0x80000000, "neg-zero-times-5"),
    ("mul_f32", (0x80000000, 0x80000000), 0x00000000, "neg-zero-squared"),
    ("mul_f32", (0x7F800000, 0xC0000000), 0xFF800000, "inf-times-neg-2"),
    ("mul_f32", (0x7FA00001, F32_ONE), F32_QNAN, "snan"),
    # mul_f16
    ("mul_f16", (0x3C01, 0x3E00), 0x3E02, "tie-odd-up"),
    ("mul_f16", (0x3C03, 0x3E00), 0x3E04, "tie-even-down"),
    ("mul_f16", (0x0001, 0x3800), 0x0000, "half-min-sub-to-zero"),
    ("mul_f16", (0x0001, 0x3E00), 0x0002, "1.5-min-sub-tie-up"),
    ("mul_f16", (0x0001, 0x4100), 0x0002, "2.5-min-sub-tie-down"),
    ("mul_f16", (0x03FF, 0x3C01), 0x0400, "round-up-to-min-normal"),
    ("mul_f16", (0x0400, 0x3800), 0x0200, "normal-to-subnormal-exact"),
    ("mul_f16", (0x7BFF, 0x4000), 0x7C00, "overflow"),
    ("mul_f16", (0x8000, 0x7C00), F16_QNAN, "neg-zero-times-inf"),
    ("mul_f16", (0xFC00, 0xFC00), 0x7C00, "neg-inf-squared"),
    # fmac_f32_f16 (GEMM mode)
    ("fmac_f32_f16", (F32_ONE, 0x3C01, 0x3C01), 0x40002004, "exact-product-kept"),
    ("fmac_f32_f16", (0x00000000, 0x0001, 0x0001), 0x27800000, "min-sub-squared-is-f32-normal"),
    ("fmac_f32_f16", (0x4B800000, F16_ONE, F16_ONE), 0x4B800000, "tie-even-down"),
    ("fmac_f32_f16", (0x4B800001, F16_ONE, F16_ONE), 0x4B800002, "tie-odd-up"),
    ("fmac_f32_f16", (0x7F7FFFFF, 0x7BFF, 0x7BFF), 0x7F7FFFFF, "no-overflow-from-max-product"),
    ("fmac_f32_f16", (0x80000000, 0x8000, F16_ONE), 0x80000000, "neg-zero-plus-neg-zero"),
    ("fmac_f32_f16", (0x00000000, 0x8000, F16_ONE), 0x00000000, "pos-zero-plus-neg-zero"),
    ("fmac_f32_f16", (F32_ONE, 0xBC00, F16_ONE), 0x00000000, "cancel-neg-product"),
    ("fmac_f32_f16", (0xBF800000, F16_ONE, F16_ONE), 0x00000000, "cancel-neg-acc"),
    ("fmac_f32_f16", (F32_ONE, 0x7D00, F16_ONE), F32_QNAN, "f16-snan"),
    ("fmac_f32_f16", (0xFF800000, 0x7C00, F16_ONE), F32_QNAN, "inf-minus-inf"),
    ("fmac_f32_f16", (0x7F800000, 0x0000, 0x7C00), F32_QNAN, "zero-times-inf-with-inf-acc"),
    ("fmac_f32_f16", (0x42000000, 0xFC00, 0x4000), 0xFF800000, "inf-product-wins"),
    # fmac_f32
    ("fmac_f32", (0xBF800002, 0x3F800001, 0x3F800001), 0x28800000, "fused-rounding-error"),
    ("fmac_f32", (0x3F800001, 0x3F7FFFFE, 0x33800001), 0x3F800001, "fused-below-tie"),
    ("fmac_f32", (F32_ONE, 0x33800000, F32_ONE), F32_ONE, "tie-even-down"),
    ("fmac_f32", (0x3F800001, 0x33800000, F32_ONE), 0x3F800002, "tie-odd-up"),
    ("fmac_f32", (0x7F7FFFFF, 0x7F7FFFFF, F32_ONE), 0x7F800000, "overflow"),
    ("fmac_f32", (0x7F7FFFFF, 0x73000000, F32_ONE), 0x7F800000, "max-plus-half-ulp-to-inf"),
    ("fmac_f32", (0x7F7FFFFF, 0x72FFFFFF, F32_ONE), 0x7F7FFFFF, "max-plus-below-half-ulp"),
    ("fmac_f32", (0x00000000, 0x00000001, 0x00000001), 0x00000000, "underflow"),
    ("fmac_f32", (0x00000000, 0x00000001, 0x80000001), 0x80000000, "underflow-keeps-neg-sign"),
    ("fmac_f32", (0x80000000, 0x80000001, 0x80000001), 0x00000000, "underflow-keeps-pos-sign"),
    ("fmac_f32", (0x00800000, 0x80000001, F32_ONE), 0x007FFFFF, "to-max-subnormal"),
    ("fmac_f32", (0x007FFFFF, 0x00000001, F32_ONE), 0x00800000, "to-min-normal"),
    ("fmac_f32", (0x80000000, 0x80000000, F32_ONE), 0x80000000, "neg-zero-plus-neg-zero"),
    ("fmac_f32", (0x00000000, 0x80000000, F32_ONE), 0x00000000, "pos-zero-plus-neg-zero"),
    ("fmac_f32", (0x80000000, 0x00000000, F32_ONE), 0x00000000, "neg-zero-plus-pos-zero"),
    ("fmac_f32", (F32_ONE, 0xBF800000, F32_ONE), 0x00000000, "cancel-neg-product"),
    ("fmac_f32", (0xBF800000, F32_ONE, F32_ONE), 0x00000000, "cancel-neg-acc"),
    ("fmac_f32", (0x7F800000, 0x00000000, F32_ONE), 0x7F800000, "inf-acc-zero-product"),
    ("fmac_f32", (0x7F800000, 0x7F800000, 0xBF800000), F32_QNAN, "inf-minus-inf"),
    ("fmac_f32", (F32_ONE, 0x00000000, 0x7F800000), F32_QNAN, "zero-times-inf"),
    ("fmac_f32", (0xFF800000, F32_ONE, F32_ONE), 0xFF800000, "inf-acc"),
    ("fmac_f32", (F32_ONE, 0xFF800000, 0x40000000), 0xFF800000, "inf-product"),
    ("fmac_f32", (0x7FC00000, 0x00000000, 0x7F800000), F32_QNAN, "nan-acc-invalid-product"),
    # fmac_f16
    ("fmac_f16", (0xBC02, 0x3C01, 0x3C01), 0x0010, "fused-rounding-error"),
    ("fmac_f16", (0x3C01, 0x3BFE, 0x1001), 0x3C01, "fused-below-tie"),
    ("fmac_f16", (F16_ONE, 0x1000, F16_ONE), F16_ONE, "tie-even-down"),
    ("fmac_f16", (0x3C01, 0x1000, F16_ONE), 0x3C02, "tie-odd-up"),
    ("fmac_f16", (0x7BFF, 0x4C00, F16_ONE), 0x7C00, "max-plus-half-ulp-to-inf"),
    ("fmac_f16", (0x7BFF, 0x4BFF, F16_ONE), 0x7BFF, "max-plus-below-half-ulp"),
    ("fmac_f16", (0x0000, 0x0001, 0x0001), 0x0000, "underflow"),
    ("fmac_f16", (0x0000, 0x0001, 0x8001), 0x8000, "underflow-keeps-neg-sign"),
    ("fmac_f16", (0x0000, 0x0001, 0x3800), 0x0000, "half-min-sub-tie-to-zero"),
    ("fmac_f16", (0x8000, 0x0001, 0xB800), 0x8000, "neg-half-min-sub-tie-to-neg-zero"),
    ("fmac_f16", (0x0000, 0x0001, 0x3E00), 0x0002, "1.5-min-sub-tie-up"),
    ("fmac_f16", (0x03FF, 0x0001, F16_ONE), 0x0400, "to-min-normal"),
    ("fmac_f16", (0x8000, 0x8000, F16_ONE), 0x8000, "neg-zero-plus-neg-zero"),
    ("fmac_f16", (F16_ONE, 0xBC00, F16_ONE), 0x0000, "cancel-neg-product"),
    ("fmac_f16", (0x7C00, 0xFC00, F16_ONE), F16_QNAN, "inf-minus-inf"),
    ("fmac_f16", (F16_ONE, 0x0000, 0xFC00), F16_QNAN, "zero-times-inf"),
    ("fmac_f16", (F16_ONE, 0x7C01, F16_ONE), F16_QNAN, "snan"),
    # mac_i32_i16
    ("mac_i32_i16", (0x7FFFFFFF, 0x0001, 0x0001), 0x80000000, "wrap-up"),
    ("mac_i32_i16", (0x80000000, 0xFFFF, 0x0001), 0x7FFFFFFF, "wrap-down"),
    ("mac_i32_i16", (0x00000000, 0x8000, 0x8000), 0x40000000, "min-squared"),
    ("mac_i32_i16", (0x00000000, 0x8000, 0x7FFF), 0xC0008000, "min-times-max"),
    ("mac_i32_i16", (0x00000005, 0xFFFF, 0xFFFF), 0x00000006, "neg-times-neg"),
    ("mac_i32_i16", (0x7FFFFFFF, 0x8000, 0x8000), 0xBFFFFFFF, "wrap-with-min-squared"),
    ("mac_i32_i16", (0x00000000, 0x0003, 0xFFFE), 0xFFFFFFFA, "negative-result"),
]


@pytest.mark.parametrize(
    ("op", "args", "expected"),
    [pytest.param(op, args, exp, id=f"{op}-{name}") for op, args, exp, name in HAND_CASES],
)
def test_hand_computed_case(op, args, expected):
    for impl in (fp, fx):
        got = getattr(impl, op)(*args)
        assert got == expected, _describe(op, args, got, expected) + f" [{impl.__name__}]"


@pytest.mark.parametrize("kind", ["f16", "f32"])
def test_constructed_add_ties(kind):
    """x + ulp(x)/2 is a tie: even significands stay, odd ones step up (max finite steps to inf)."""
    exp_bits, man_bits = LAYOUT[kind]
    add = getattr(fp, f"add_{kind}")
    rng = random.Random(f"add-ties-{kind}")
    steps = set()
    for field in range(1 + man_bits + 1, (1 << exp_bits) - 1):  # half ulp must be representable
        for frac in (0, 1, (1 << man_bits) - 1, rng.getrandbits(man_bits), rng.getrandbits(man_bits)):
            sign = rng.getrandbits(1)
            x = make(kind, sign, field, frac)
            half_ulp = make(kind, sign, field - man_bits - 1, 0)
            expected = x + (frac & 1)  # carries into the exponent field (and into inf) on its own
            for a, b in ((x, half_ulp), (half_ulp, x)):
                got = add(a, b)
                assert got == expected, _describe(f"add_{kind}", (a, b), got, expected)
            exact_sum = fx.value_of(kind, x)[2] + fx.value_of(kind, half_ulp)[2]
            assert fx.rounding_class(kind, exact_sum) == "tie", f"construction broken for {to_hex(kind, x)}"
            steps.add(frac & 1)
    assert steps == {0, 1}


@pytest.mark.parametrize("kind", ["f16", "f32"])
def test_constructed_mul_ties(kind):
    """(1 + k*ulp) * 1.5 with odd k lands halfway; the even neighbour must be chosen."""
    _, man_bits = LAYOUT[kind]
    mul = getattr(fp, f"mul_{kind}")
    one = bias(kind) << man_bits
    outcomes = set()
    for k in range(1, (1 << man_bits) // 3, 2 if kind == "f16" else 4098):
        a, b = one | k, one | (1 << (man_bits - 1))
        exact = fx.exact(f"mul_{kind}", a, b)
        assert fx.rounding_class(kind, exact[2]) == "tie", f"construction broken for k={k}"
        lower = (3 * k - 1) // 2  # 1.5 + 1.5k ulp = 1.5 + (lower + 1/2) ulp
        chosen = lower + (lower & 1)
        expected = one | ((1 << (man_bits - 1)) + chosen)
        got = mul(a, b)
        assert got == expected, _describe(f"mul_{kind}", (a, b), got, expected)
        outcomes.add(chosen == lower)
    assert outcomes == {True, False}, "both round-down and round-up ties must be exercised"


# --- Fused vs unfused ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "acc", "a", "b"),
    [("f32", 0x3F800001, 0x3F7FFFFE, 0x33800001), ("f16", 0x3C01, 0x3BFE, 0x1001)],
)
def test_fmac_is_fused(kind, acc, a, b):
    """a*b lies just below ulp(acc)/2 but rounds to exactly ulp/2: only an unfused MAC sees a tie."""
    fused = getattr(fp, f"fmac_{kind}")(acc, a, b)
    unfused = getattr(fp, f"add_{kind}")(acc, getattr(fp, f"mul_{kind}")(a, b))
    assert fused == acc, f"fused fmac_{kind} must round down to acc, got {to_hex(kind, fused)}"
    assert unfused == acc + 1, f"unfused path expected to tie up, got {to_hex(kind, unfused)}"


def test_fmac_f32_f16_equals_unfused_f32():
    """The f16*f16 product is exact in f32, so fused GEMM mode equals mul_f32 then add_f32."""
    mismatches, total = [], 0
    for acc, a, b in _random_cases("fmac_f32_f16", "unfused") + list(
        itertools.product(EDGES["f32"], EDGES["f16"], EDGES["f16"])
    ):
        total += 1
        fused = fp.fmac_f32_f16(acc, a, b)
        unfused = fp.add_f32(acc, fp.mul_f32(fp.f16_to_f32(a), fp.f16_to_f32(b)))
        if fused != unfused:
            mismatches.append(("fmac_f32_f16", (acc, a, b), fused, unfused))
    _assert_no_mismatch("fmac_f32_f16", mismatches, total)


# --- Conversions: exhaustive f16 and numpy cross-checks ------------------------------

ALL_F16 = np.arange(1 << 16, dtype=np.uint32)


def _canonical(bits: np.ndarray, kind: str) -> np.ndarray:
    """Replace every NaN pattern by the canonical quiet NaN (numpy keeps payloads)."""
    mag = bits & (sign_bit(kind) - 1)
    return np.where(mag > inf_bits(kind), QNAN[kind], bits).astype(np.uint64)


def _model_array(op: str, columns) -> np.ndarray:
    fn = getattr(fp, op)
    return np.array([fn(*args) for args in zip(*(map(int, c) for c in columns), strict=True)], np.uint64)


def test_f16_to_f32_exhaustive_vs_numpy():
    want = _canonical(ALL_F16.astype(np.uint16).view(np.float16).astype(np.float32).view(np.uint32), "f32")
    got = _model_array("f16_to_f32", [ALL_F16])
    bad = np.flatnonzero(got != want)
    _assert_no_mismatch(
        "f16_to_f32", [("f16_to_f32", (int(i),), int(got[i]), int(want[i])) for i in bad], len(got)
    )


def test_f16_to_f32_exhaustive_vs_reference():
    mismatches, total, _ = _check_against_reference("f16_to_f32", ((int(h),) for h in ALL_F16))
    _assert_no_mismatch("f16_to_f32", mismatches, total)


def test_f16_round_trip_exhaustive():
    """f32_to_f16(f16_to_f32(h)) == h for every pattern; NaNs come back canonical."""
    mismatches = []
    for h in range(1 << 16):
        want = QNAN["f16"] if is_nan("f16", h) else h
        got = fp.f32_to_f16(fp.f16_to_f32(h))
        if got != want:
            mismatches.append(("f16_to_f32", (h,), got, want))
    _assert_no_mismatch("f16 round trip", mismatches, 1 << 16)


def test_f32_to_f16_all_midpoints():
    """Every f32 value halfway between adjacent f16 values (and its f32 neighbours), both signs.

    The midpoint itself must go to the even neighbour (computed here directly) and
    all three candidates must agree with numpy's float32 -> float16 conversion.
    """
    h = np.arange(0x7C00, dtype=np.uint32)  # all finite non-negative f16 patterns
    lo = h.astype(np.uint16).view(np.float16).astype(np.float64)
    hi = np.where(h + 1 == 0x7C00, 65536.0, (h + 1).astype(np.uint16).view(np.float16).astype(np.float64))
    mid = ((lo + hi) / 2).astype(np.float32).view(np.uint32)  # exact: 12 significant bits
    even = h + (h & 1)  # 0x7BFF is odd: its upper midpoint 65520 rounds to inf (0x7C00)
    mismatches, total = [], 0
    for sign in (0, 0x80000000):
        for delta in (-1, 0, 1):
            pats = (mid.astype(np.int64) + delta).astype(np.uint32) | np.uint32(sign)
            with np.errstate(over="ignore"):
                ref = pats.view(np.float32).astype(np.float16).view(np.uint16).astype(np.uint64)
            got = _model_array("f32_to_f16", [pats])
            want_tie = (even | (sign >> 16)).astype(np.uint64)
            for i in np.flatnonzero((got != ref) | ((got != want_tie) & (delta == 0))):
                want = int(want_tie[i]) if delta == 0 else int(ref[i])
                mismatches.append(("f32_to_f16", (int(pats[i]),), int(got[i]), want))
            total += len(pats)
    _assert_no_mismatch("f32_to_f16", mismatches, total)


# numpy float32 arithmetic is correctly rounded (IEEE, no FTZ by default).  numpy
# float16 arithmetic goes through float32 and rounds twice; that is harmless for +
# and * because 24 >= 2*11 + 2 (double rounding is innocuous with that much extra precision).
NUMPY_OPS = {
    "add_f32": (np.float32, np.add),
    "mul_f32": (np.float32, np.multiply),
    "add_f16": (np.float16, np.add),
    "mul_f16": (np.float16, np.multiply),
    "f32_to_f16": (np.float32, None),
}


@pytest.mark.parametrize("op", NUMPY_OPS)
def test_random_vs_numpy(op):
    dtype, ufunc = NUMPY_OPS[op]
    in_kinds, out = OPS[op]
    uint = np.uint16 if dtype is np.float16 else np.uint32
    cases = _random_cases(op, "numpy") + list(itertools.product(*(EDGES[k] for k in in_kinds)))
    columns = [np.array(col, dtype=uint) for col in zip(*cases, strict=True)]
    with np.errstate(all="ignore"):
        if ufunc is None:
            result = columns[0].view(np.float32).astype(np.float16)
        else:
            result = ufunc(*(c.view(dtype) for c in columns))
    want = _canonical(result.view(np.uint16 if out == "f16" else np.uint32), out)
    got = _model_array(op, columns)
    bad = np.flatnonzero(got != want)
    mismatches = [(op, tuple(int(c[i]) for c in columns), int(got[i]), int(want[i])) for i in bad]
    _assert_no_mismatch(op, mismatches, len(cases))


def test_mac_i32_i16_vs_numpy_wraparound():
    cases = _random_cases("mac_i32_i16", "numpy") + list(
        itertools.product(EDGES["i32"], EDGES["i16"], EDGES["i16"])
    )
    acc, a, b = (np.array(c, dtype=np.uint64) for c in zip(*cases, strict=True))
    # int32 array arithmetic wraps silently; (-2**15)**2 = 2**30 still fits an int32 product.
    a32 = a.astype(np.uint16).view(np.int16).astype(np.int32)
    b32 = b.astype(np.uint16).view(np.int16).astype(np.int32)
    want = (acc.astype(np.uint32).view(np.int32) + a32 * b32).view(np.uint32)
    got = _model_array("mac_i32_i16", [acc, a, b])
    bad = np.flatnonzero(got != want)
    mismatches = [("mac_i32_i16", cases[i], int(got[i]), int(want[i])) for i in bad]
    _assert_no_mismatch("mac_i32_i16", mismatches, len(cases))


# --- Helpers --------------------------------------------------------------------------


def test_host_float_helpers():
    assert fp.f32_bits(1.0) == 0x3F800000 and fp.f32_bits(-2.5) == 0xC0200000
    assert fp.f16_bits(1.0) == 0x3C00 and fp.f16_bits(-0.0) == 0x8000
    assert fp.bits_f32(0x3F800000) == 1.0 and fp.bits_f32(0x00000001) == 2.0**-149
    assert fp.bits_f16(0x7BFF) == 65504.0 and fp.bits_f16(0x0001) == 2.0**-24
    assert fp.is_nan_f32(0xFF800001) and fp.is_nan_f32(0x7FC00000) and not fp.is_nan_f32(0x7F800000)
    assert fp.is_nan_f16(0xFC01) and fp.is_nan_f16(0x7E00) and not fp.is_nan_f16(0xFC00)
    for h in EDGES["f16"]:
        if not is_nan("f16", h):
            assert fp.f16_bits(fp.bits_f16(h)) == h
            assert fp.f32_bits(fp.bits_f16(h)) == fp.f16_to_f32(h)


# --- Maximum (vmax) and the f32 -> f16 conversion of vcvt ------------------------------------

N_MAX_RANDOM = 300_000
N_CVT_RANDOM = 1_000_000


def _f16_classes() -> dict[str, list[int]]:
    """Every f16 class with both signs: zero, subnormal, normal, inf, quiet and signalling NaN."""
    pos = {"zero": [0x0000], "subnormal": [0x0001, 0x0200, 0x03FF], "normal": [0x0400, 0x3C00, 0x3C01, 0x7BFF],
           "inf": [0x7C00], "qnan": [0x7E00, 0x7FFF], "snan": [0x7C01, 0x7D55]}
    return {f"{sign}{name}": [v | (0x8000 if sign == "-" else 0) for v in vals]
            for name, vals in pos.items() for sign in "+-"}


def _max_by_value(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Maximum from numpy float values, written from docs/floating-point.md "Maximum": a NaN
    operand gives the canonical NaN; two zeros give -0 only if both are -0; otherwise the operand
    whose value is greater (it is then unique), its own pattern."""
    dtype = np.float16 if kind == "f16" else np.float32
    with np.errstate(invalid="ignore"):  # signalling NaNs
        x, y = a.view(dtype).astype(np.float64), b.view(dtype).astype(np.float64)
    sign = sign_bit(kind)
    both_zero = (x == 0) & (y == 0)
    zero = np.where((a & sign) & (b & sign), a, np.where(a & sign, b, a))
    out = np.where(both_zero, zero, np.where(x >= y, a, b))
    return np.where(np.isnan(x) | np.isnan(y), QNAN[kind], out).astype(np.uint64)


@pytest.mark.parametrize("kind", ["f16", "f32"])
def test_max_every_class_pair(kind):
    """Every pair of f16 classes (both signs, several members each) and of the edge set, in both
    orders: the model, the exact reference and the float64 reasoning agree bit for bit."""
    if kind == "f16":
        values = sorted({v for vals in _f16_classes().values() for v in vals} | set(EDGES["f16"]))
    else:
        values = sorted(set(EDGES["f32"]))
    uint = np.uint16 if kind == "f16" else np.uint32
    a = np.array([x for x in values for _ in values], uint)
    b = np.array([y for _ in values for y in values], uint)
    want = _max_by_value(kind, a, b)
    model, ref = getattr(fp, f"max_{kind}"), getattr(fx, f"max_{kind}")
    got = np.array([model(int(x), int(y)) for x, y in zip(a, b, strict=True)], np.uint64)
    exact = np.array([ref(int(x), int(y)) for x, y in zip(a, b, strict=True)], np.uint64)
    op = f"max_{kind}"
    _assert_no_mismatch(op, [(op, (int(a[i]), int(b[i])), int(got[i]), int(want[i]))
                             for i in np.flatnonzero(got != want)], len(a))
    _assert_no_mismatch(op + " (reference)", [(op, (int(a[i]), int(b[i])), int(exact[i]), int(want[i]))
                                              for i in np.flatnonzero(exact != want)], len(a))


def test_max_hand_values():
    """The rules of docs/floating-point.md "Maximum", one by one, in both operand orders."""
    cases = [
        ("f16", 0x8000, 0x0000, 0x0000),  # max(-0, +0) = +0
        ("f16", 0x8000, 0x8000, 0x8000),  # max(-0, -0) = -0
        ("f16", 0x7E00, 0x3C00, 0x7E00),  # a quiet NaN wins
        ("f16", 0xFD55, 0xFC00, 0x7E00),  # a negative signalling NaN: the canonical NaN
        ("f16", 0x7C01, 0x7C00, 0x7E00),
        ("f16", 0xFC00, 0x8001, 0x8001),  # -inf < -min subnormal
        ("f16", 0x7BFF, 0x7C00, 0x7C00),
        ("f16", 0x0001, 0x8000, 0x0001),  # min subnormal > -0
        ("f16", 0xBC00, 0xBC01, 0xBC00),  # -1 > -(1 + ulp)
        ("f32", 0x80000000, 0x00000000, 0x00000000),
        ("f32", 0xFFC00001, 0x00000000, 0x7FC00000),
        ("f32", 0x80000001, 0x80000002, 0x80000001),
        ("f32", 0x7F7FFFFF, 0xFF800000, 0x7F7FFFFF),
    ]
    for kind, a, b, want in cases:
        for impl in (fp, fx):
            fn = getattr(impl, f"max_{kind}")
            assert fn(a, b) == want and fn(b, a) == want, (impl.__name__, kind, hex(a), hex(b))


@pytest.mark.parametrize("kind", ["f16", "f32"])
def test_max_random_vs_numpy(kind):
    """Seeded random pairs: uniform patterns (NaNs, infinities, subnormals included) and pairs of
    nearby values of either sign, against numpy's float values."""
    rng = np.random.default_rng(2024 if kind == "f16" else 2025)
    width = 16 if kind == "f16" else 32
    uint = np.uint16 if kind == "f16" else np.uint32
    n = N_MAX_RANDOM // 2
    a = rng.integers(0, 1 << width, n, dtype=np.uint64).astype(uint)
    b = rng.integers(0, 1 << width, n, dtype=np.uint64).astype(uint)
    # near pairs: b = a +- a few ulps, sign bits random (so -x against +x and -0 against +0 occur)
    near = (a.astype(np.int64) + rng.integers(-3, 4, n)).clip(0, (1 << width) - 1).astype(uint)
    flip = (rng.integers(0, 2, n) << (width - 1)).astype(uint)
    a = np.concatenate([a, a])
    b = np.concatenate([b, near ^ flip])
    want = _max_by_value(kind, a, b)
    model = getattr(fp, f"max_{kind}")
    got = np.array([model(int(x), int(y)) for x, y in zip(a, b, strict=True)], np.uint64)
    op = f"max_{kind}"
    _assert_no_mismatch(op, [(op, (int(a[i]), int(b[i])), int(got[i]), int(want[i]))
                             for i in np.flatnonzero(got != want)], len(a))
    assert np.count_nonzero(got == QNAN[kind]) > 100  # NaNs were in the mix
    assert np.count_nonzero((a ^ b) == sign_bit(kind)) > 100  # and x against -x


def _f16_ordinal(bits: np.ndarray) -> np.ndarray:
    """Position of a non-NaN f16 pattern on the number line; adjacent values differ by 1 (one
    ulp), -0 and +0 are one point."""
    mag = (bits & 0x7FFF).astype(np.int64)
    return np.where(bits & 0x8000, -mag, mag)


# (f32 pattern, f16 pattern, why) for every kind of boundary of the conversion
F32_TO_F16_BOUNDARIES = [
    (0x3F801000, 0x3C00, "1 + 2**-11: a tie, to the even 1.0"),
    (0x3F800FFF, 0x3C00, "just below that tie"),
    (0x3F801001, 0x3C01, "just above that tie"),
    (0x3F803000, 0x3C02, "1 + 3 * 2**-11: a tie, to the even 1 + 2**-9 (up)"),
    (0x477FE000, 0x7BFF, "65504, the largest finite f16"),
    (0x477FEFFF, 0x7BFF, "just below 65520: the largest finite"),
    (0x477FF000, 0x7C00, "65520 = max + ulp/2: a tie, the even neighbour is past max: inf"),
    (0x47800000, 0x7C00, "65536: overflow"),
    (0x7F7FFFFF, 0x7C00, "the largest f32: overflow"),
    (0x33800000, 0x0001, "2**-24, the smallest subnormal"),
    (0x33000000, 0x0000, "2**-25: a tie between 0 and 2**-24, to the even 0"),
    (0x33000001, 0x0001, "just above 2**-25"),
    (0x32FFFFFF, 0x0000, "just below 2**-25: underflow to 0"),
    (0x33C00000, 0x0002, "1.5 * 2**-24: a tie, to the even 2 * 2**-24"),
    (0x33A00000, 0x0001, "1.25 * 2**-24"),
    (0x387FE000, 0x0400, "2**-14 - 2**-25: the largest subnormal's upper tie, to the even 2**-14"),
    (0x387FC000, 0x03FF, "2**-14 - 2**-24, the largest subnormal"),
    (0x38800000, 0x0400, "2**-14, the smallest normal"),
    (0x00000001, 0x0000, "an f32 subnormal: 0"),
    (0x7F800000, 0x7C00, "inf"),
    (0x7FC00000, 0x7E00, "quiet NaN"),
    (0x7F800001, 0x7E00, "signalling NaN"),
]


@pytest.mark.parametrize("f, h, why", F32_TO_F16_BOUNDARIES, ids=[w for _, _, w in F32_TO_F16_BOUNDARIES])
def test_f32_to_f16_boundaries(f, h, why):
    """Each boundary, both signs (a NaN stays the positive canonical NaN), in the model, the exact
    reference and numpy."""
    for sign in (0, 0x80000000):
        want = h if h == 0x7E00 else h | sign >> 16
        for impl in (fp, fx):
            assert impl.f32_to_f16(f | sign) == want, (impl.__name__, hex(f | sign), why)
        with np.errstate(over="ignore"):
            ref = int(np.array([f | sign], np.uint32).view(np.float32).astype(np.float16).view(np.uint16)[0])
        assert int(_canonical(np.array([ref], np.uint64), "f16")[0]) == want, (hex(f | sign), why)


def _random_f32_for_f16(rng, n) -> np.ndarray:
    """f32 patterns aimed at the conversion: a quarter uniform bits (mostly overflow or underflow,
    NaNs, infinities, f32 subnormals), the rest with exponents from below the f16 subnormal range to
    above its overflow threshold, and f16 midpoints (ties) with and without a nudge."""
    q = n // 4
    uniform = rng.integers(0, 1 << 32, q, dtype=np.uint64)
    exps = rng.integers(127 - 27, 127 + 17, 2 * q, dtype=np.uint64)  # 2**-27 .. 2**16
    ranged = rng.integers(0, 2, 2 * q, dtype=np.uint64) << 31 | exps << 23 | rng.integers(0, 1 << 23, 2 * q,
                                                                                         dtype=np.uint64)
    h = rng.integers(0, 0x7C00, n - 3 * q, dtype=np.uint64)  # a finite f16 and its upper midpoint
    lo = h.astype(np.uint16).view(np.float16).astype(np.float64)
    hi = np.where(h + 1 == 0x7C00, 65536.0, (h + 1).astype(np.uint16).view(np.float16).astype(np.float64))
    mid = ((lo + hi) / 2).astype(np.float32).view(np.uint32).astype(np.int64)
    ties = (mid + rng.integers(-1, 2, n - 3 * q)) | (rng.integers(0, 2, n - 3 * q) << 31)
    specials = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFFFFFFF, 0x00000001,
                         0x807FFFFF, 0x7F7FFFFF, 0xFF7FFFFF], np.uint64)
    out = np.concatenate([uniform, ranged, ties.astype(np.uint64) & 0xFFFFFFFF])
    out[:len(specials)] = specials
    return out.astype(np.uint32)


def test_f32_to_f16_million_random_correctly_rounded():
    """>= 10**6 seeded f32 inputs (range edges, subnormals, inf, NaN, ties) against numpy's float32 ->
    float16 conversion (round to nearest even): the largest error is 0 ulp, bit for bit; numpy's
    answers are themselves checked against the exact reference on a sample."""
    rng = np.random.default_rng(16)
    src = _random_f32_for_f16(rng, N_CVT_RANDOM)
    assert len(src) >= 10**6
    with np.errstate(over="ignore"):
        ref = _canonical(src.view(np.float32).astype(np.float16).view(np.uint16).astype(np.uint32), "f16")
    f32_to_f16 = fp.f32_to_f16
    got = np.fromiter((f32_to_f16(int(f)) for f in src), np.uint64, len(src))
    nan = (ref & 0x7FFF) > 0x7C00
    assert np.array_equal(nan, (got & 0x7FFF) > 0x7C00)
    finite = ~nan
    ulp = np.abs(_f16_ordinal(got[finite]) - _f16_ordinal(ref[finite]))
    bad = np.flatnonzero(got != ref)
    _assert_no_mismatch("f32_to_f16", [("f32_to_f16", (int(src[i]),), int(got[i]), int(ref[i])) for i in bad],
                        len(src))
    assert int(ulp.max()) == 0
    # the mix reached every class of result
    mag = got & 0x7FFF
    assert np.count_nonzero(mag == 0x7C00) > 1000 and np.count_nonzero(nan) > 1000  # overflow, NaN
    assert np.count_nonzero((mag > 0) & (mag < 0x400)) > 1000  # subnormal results
    assert np.count_nonzero((mag == 0) & ((src & 0x7FFFFFFF) != 0)) > 1000  # underflow to zero
    sample = rng.choice(len(src), 5000, replace=False)
    assert all(fx.f32_to_f16(int(src[i])) == int(ref[i]) for i in sample)


# ---- the array forms (numpy) equal the scalar functions ----------------------------------------

def _np_operands(rng, n):
    """Random patterns, values near 1, and every f32 edge class, mixed."""
    import numpy as np

    edges = np.array([0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
                      0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001, 0x3F800000, 0xBF800000], np.uint32)
    x = rng.integers(0, 2 ** 32, n, dtype=np.uint64).astype(np.uint32)
    near = rng.random(n) < 0.4
    x[near] = rng.integers(0x30000000, 0x50000000, int(near.sum())).astype(np.uint32) | (
        rng.integers(0, 2, int(near.sum())).astype(np.uint32) << 31)
    edge = rng.random(n) < 0.15
    x[edge] = rng.choice(edges, int(edge.sum()))
    return x


def test_array_forms_equal_the_scalar_functions():
    import numpy as np

    rng = np.random.default_rng(11)
    n = 20_000
    a, b, c = (_np_operands(rng, n) for _ in range(3))
    # fmac with a cancelling accumulator: acc = -(a * b) give or take a few ulps
    cancel = (fp.mul_f32_np(a, b) ^ np.uint32(0x80000000)) + rng.integers(-2, 3, n).astype(np.uint32)
    for name, arr, scalar, args in (
            ("add", fp.add_f32_np, fp.add_f32, (a, b)), ("mul", fp.mul_f32_np, fp.mul_f32, (a, b)),
            ("fmac", fp.fmac_f32_np, fp.fmac_f32, (c, a, b)), ("fmac_cancel", fp.fmac_f32_np, fp.fmac_f32,
                                                              (cancel.astype(np.uint32), a, b)),
            ("max", fp.max_f32_np, fp.max_f32, (a, b)), ("f32_to_f16", fp.f32_to_f16_np, fp.f32_to_f16, (a,))):
        want = np.array([scalar(*(int(v) for v in t)) for t in zip(*args, strict=True)])
        assert np.array_equal(arr(*args), want), name
    h = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    assert np.array_equal(fp.f16_to_f32_np(h), np.array([fp.f16_to_f32(int(v)) for v in h]))
