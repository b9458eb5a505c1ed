"""The vectorised golden matmul arithmetic (golden/matmul.py) against the scalar bit-exact golden
FP model (golden/fp.py, itself checked against an exact Fraction reference), on random values and
every special class; and the float64 error bound."""

import random

import numpy as np
import pytest

from golden import fp
from golden.matmul import add_f32_vec, float64_error, fmac_f32_f16_vec, fmac_f32_vec, gemm_bits, gemv_bits

F16_SPECIAL = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
               0x7E00, 0x7C01, 0xFE55, 0x3555, 0x0200]
F32_SPECIAL = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000, 0x3F800000, 0xBF800000,
               0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0xFFC12345, 0x33800000,
               0x3F800001, 0x4B000000, 0x34000000]


def _rand_f16(rng, n):
    return [rng.choice(F16_SPECIAL) if rng.random() < 0.2 else rng.getrandbits(16) for _ in range(n)]


def _rand_f32(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.2:
            out.append(rng.choice(F32_SPECIAL))
        elif r < 0.6:  # nearby exponents: cancellation and ties
            out.append((rng.getrandbits(1) << 31) | ((120 + rng.getrandbits(4)) << 23) | rng.getrandbits(23))
        else:
            out.append(rng.getrandbits(32))
    return out


@pytest.mark.parametrize("seed", range(3))
def test_fmac_f32_f16_vec_matches_scalar(seed):
    rng = random.Random(seed)
    n = 20000
    acc, a, b = _rand_f32(rng, n), _rand_f16(rng, n), _rand_f16(rng, n)
    got = fmac_f32_f16_vec(np.array(acc, np.uint32), np.array(a, np.uint16), np.array(b, np.uint16))
    want = [fp.fmac_f32_f16(x, y, z) for x, y, z in zip(acc, a, b, strict=True)]
    bad = [i for i in range(n) if int(got[i]) != want[i]]
    assert not bad, f"{len(bad)} mismatches, first: acc={acc[bad[0]]:#x} a={a[bad[0]]:#x} b={b[bad[0]]:#x} " \
                    f"got {int(got[bad[0]]):#x} want {want[bad[0]]:#x}"


@pytest.mark.parametrize("seed", range(3))
def test_fmac_f32_vec_matches_scalar(seed):
    rng = random.Random(100 + seed)
    n = 20000
    acc, a, b = _rand_f32(rng, n), _rand_f32(rng, n), _rand_f32(rng, n)
    # exact cancellation and halfway cases: acc = -(a*b) rounded, acc = a*b +- tiny
    got = fmac_f32_vec(np.array(acc, np.uint32), np.array(a, np.uint32), np.array(b, np.uint32))
    want = [fp.fmac_f32(x, y, z) for x, y, z in zip(acc, a, b, strict=True)]
    bad = [i for i in range(n) if int(got[i]) != want[i]]
    assert not bad, f"{len(bad)} mismatches, first: acc={acc[bad[0]]:#x} a={a[bad[0]]:#x} b={b[bad[0]]:#x} " \
                    f"got {int(got[bad[0]]):#x} want {want[bad[0]]:#x}"


def test_add_f32_vec_matches_scalar():
    rng = random.Random(7)
    a, b = _rand_f32(rng, 20000), _rand_f32(rng, 20000)
    got = add_f32_vec(np.array(a, np.uint32), np.array(b, np.uint32))
    assert [int(v) for v in got] == [fp.add_f32(x, y) for x, y in zip(a, b, strict=True)]


@pytest.mark.parametrize("dtype", ["f16", "f32"])
def test_gemm_bits_is_sequential_fmac(dtype):
    """gemm_bits equals the scalar loop over k (with padding steps) for a small random case."""
    rng = random.Random(3)
    m, k, n, k_pad = 3, 5, 4, 8
    gen = _rand_f16 if dtype == "f16" else _rand_f32
    a = np.array(gen(rng, m * k), np.uint16 if dtype == "f16" else np.uint32).reshape(m, k)
    b = np.array(gen(rng, k * n), np.uint16 if dtype == "f16" else np.uint32).reshape(k, n)
    f = fp.fmac_f32_f16 if dtype == "f16" else fp.fmac_f32
    got = gemm_bits(a, b, dtype, k_pad)
    for i in range(m):
        for j in range(n):
            acc = 0
            for kk in range(k_pad):
                acc = f(acc, int(a[i, kk]), int(b[kk, j])) if kk < k else f(acc, 0, 0)
            assert int(got[i, j]) == acc, (i, j)


def test_padding_turns_negative_zero_positive():
    a = np.array([[0x8000]], np.uint16)  # -0
    b = np.array([[0x3C00]], np.uint16)  # 1
    assert int(gemm_bits(a, b, "f16")[0, 0]) == 0x00000000  # +0 + (-0) = +0 already
    # -0 accumulations cannot arise from a +0 start in RNE, so padding never changes a result
    assert int(gemm_bits(a, b, "f16", k_pad=4)[0, 0]) == 0


def test_gemv_bits_order():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 8)).astype(np.float16).view(np.uint16)
    x = np.zeros(8, np.uint16)
    x[[1, 4, 6]] = np.array([1.5, -2.0, 0.25], np.float16).view(np.uint16)
    y = gemv_bits(a, x, [(0, 6)], [(0, 4), (4, 8)])
    want = []
    for i in range(6):
        p0 = fp.fmac_f32_f16(0, int(a[i, 1]), int(x[1]))
        p1 = fp.fmac_f32_f16(fp.fmac_f32_f16(0, int(a[i, 4]), int(x[4])), int(a[i, 6]), int(x[6]))
        want.append(fp.add_f32(p0, p1))
    assert [int(v) for v in y] == want


def test_float64_error_bound_holds_and_detects():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((16, 64)).astype(np.float16).view(np.uint16)
    b = rng.standard_normal((64, 16)).astype(np.float16).view(np.uint16)
    c = gemm_bits(a, b, "f16")
    err, ok, bound = float64_error(c, a, b, "f16")
    assert ok and err <= bound and err > 0
    bad = c.copy()
    bad[0, 0] ^= 1 << 22  # a large error in one entry must break the bound
    assert not float64_error(bad, a, b, "f16")[1]
