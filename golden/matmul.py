"""Golden matrix-multiply models for the mesh GEMM and sparse GEMV kernels (numpy, vectorised).

Role
----
The reference the mesh results are compared with, bit for bit. It reproduces the hardware's
arithmetic (``golden/fp.py``: ``fmac_f32_f16`` and the fused ``fmac_f32``, round to nearest even,
subnormals, canonical NaN) and **the hardware's accumulation order**, which is part of the
kernels' specification (docs/kernels.md):

* GEMM: every C element starts at +0 and takes one fused multiply-add per k, in increasing k,
  over the *padded* K (the host pads K to a whole number of panels with zeros; a padded step adds
  +0 * +0, which turns an accumulated -0 into +0, so it is modelled).
* GEMV: each PE accumulates its block of y from +0 over its nonzeros in the order they are sent
  (increasing column); the row's partial sums are then added west to east with f32 adds.

It does not import ``hdl/`` or ``tb/``. Vectorisation is over the output elements: one numpy
operation per k. ``tests/test_golden_matmul.py`` checks these functions against the scalar
``golden/fp.py`` on random and special values.

Interface (arrays of bit patterns: uint16 for f16, uint32 for f32):
    gemm_bits(a, b, dtype, k_pad=None) -> uint32 C       dtype "f16" (f32 <- f16 x f16) or "f32"
    gemv_bits(a, x, row_blocks, col_blocks) -> uint32 y  f16 A, sparse f16 x, f32 y; see the function
    fmac_f32_f16_vec(acc, a, b), fmac_f32_vec(acc, a, b), add_f32_vec(a, b)   elementwise
    float64_error(c_bits, a_bits, b_bits, dtype) -> (max_abs_error, bound_ok, bound)
    F32_NAN, F16_NAN  canonical NaNs
"""

from __future__ import annotations

import numpy as np

__all__ = ["gemm_bits", "gemv_bits", "fmac_f32_f16_vec", "fmac_f32_vec", "add_f32_vec", "float64_error",
           "F32_NAN", "F16_NAN", "to_f64"]

F32_NAN = 0x7FC00000
F16_NAN = 0x7E00


def _canon(out_f32: np.ndarray) -> np.ndarray:
    bits = out_f32.view(np.uint32).copy()
    bits[np.isnan(out_f32)] = F32_NAN
    return bits


def to_f64(bits: np.ndarray, dtype: str) -> np.ndarray:
    """Bit patterns -> float64 values (exact)."""
    if dtype == "f16":
        return np.asarray(bits, dtype=np.uint16).view(np.float16).astype(np.float64)
    return np.asarray(bits, dtype=np.uint32).view(np.float32).astype(np.float64)


def fmac_f32_f16_vec(acc: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """acc (uint32 f32 bits) + a * b (uint16 f16 bits), elementwise, bit-exact with fp.fmac_f32_f16.

    An f16 x f16 product is exact in f32 (22 significant bits, exponents within range), so the
    fused operation is one f32 addition with round to nearest even."""
    with np.errstate(all="ignore"):
        p = np.asarray(a, np.uint16).view(np.float16).astype(np.float32) * \
            np.asarray(b, np.uint16).view(np.float16).astype(np.float32)
        return _canon(np.asarray(acc, np.uint32).view(np.float32) + p)


def fmac_f32_vec(acc: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """acc + a * b on f32 bit patterns with ONE rounding, bit-exact with fp.fmac_f32.

    The product of two f32 values is exact in float64; the sum is formed with round-to-odd in
    float64 (TwoSum error, then the last bit forced to 1 when inexact), and rounding that to f32
    is then the correctly rounded fused result (53 >= 24 + 2 bits)."""
    with np.errstate(all="ignore"):
        c = np.asarray(acc, np.uint32).view(np.float32).astype(np.float64)
        x = np.asarray(a, np.uint32).view(np.float32).astype(np.float64)
        y = np.asarray(b, np.uint32).view(np.float32).astype(np.float64)
        p = x * y
        s = c + p
        bb = s - c
        err = (c - (s - bb)) + (p - bb)
        finite = np.isfinite(s) & np.isfinite(err)
        bits = s.view(np.uint64)
        make_odd = finite & (err != 0) & ((bits & 1) == 0)
        toward = np.where(err > 0, np.inf, -np.inf)
        s = np.where(make_odd, np.nextafter(s, toward), s)
        return _canon(s.astype(np.float32))


def add_f32_vec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b on f32 bit patterns, one rounding (numpy float32 addition is IEEE RNE)."""
    with np.errstate(all="ignore"):
        return _canon(np.asarray(a, np.uint32).view(np.float32) + np.asarray(b, np.uint32).view(np.float32))


def gemm_bits(a: np.ndarray, b: np.ndarray, dtype: str, k_pad: int | None = None) -> np.ndarray:
    """C = A.B as the mesh computes it: C[i, j] = fmac(... fmac(+0, a[i,0], b[0,j]) ..., a[i,K'-1], b[K'-1,j])
    with K' = k_pad >= K (the padded steps multiply +0 by +0). a: M x K, b: K x N bit patterns."""
    a = np.asarray(a)
    b = np.asarray(b)
    if dtype not in ("f16", "f32"):
        raise ValueError(f"dtype {dtype!r}: expected 'f16' or 'f32'")
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: A is {m}x{k}, B is {k2}x{n}")
    k_pad = k if k_pad is None else k_pad
    if k_pad < k:
        raise ValueError(f"k_pad={k_pad} < K={k}")
    fmac = fmac_f32_f16_vec if dtype == "f16" else fmac_f32_vec
    zero = np.zeros((), dtype=np.uint16 if dtype == "f16" else np.uint32)
    c = np.zeros((m, n), dtype=np.uint32)
    for kk in range(k_pad):
        if kk < k:
            c = fmac(c, a[:, kk:kk + 1], b[kk:kk + 1, :])
        else:
            c = fmac(c, zero, zero)
    return c


def gemv_bits(a: np.ndarray, x: np.ndarray, row_blocks: list[tuple[int, int]],
              col_blocks: list[tuple[int, int]]) -> np.ndarray:
    """y = A.x (f16 A and x, f32 y) as the mesh's sparse GEMV computes it.

    ``col_blocks`` are the [start, stop) column ranges of the mesh columns, west to east; in each,
    a PE accumulates from +0 over the nonzero x[j] in increasing j (zeros are never sent); the
    partial sums of a row of PEs are then added west to east: ((p0 + p1) + p2) + ...
    ``row_blocks`` are the row ranges of the mesh rows (they do not change the arithmetic)."""
    a = np.asarray(a, np.uint16)
    x = np.asarray(x, np.uint16)
    m = a.shape[0]
    y = None
    for c0, c1 in col_blocks:
        part = np.zeros(m, dtype=np.uint32)
        for j in range(c0, c1):
            if x[j] & 0x7FFF:  # +0 and -0 are not sent
                part = fmac_f32_f16_vec(part, a[:, j], x[j])
        y = part if y is None else add_f32_vec(y, part)
    return y if y is not None else np.zeros(m, dtype=np.uint32)


def float64_error(c_bits: np.ndarray, a_bits: np.ndarray, b_bits: np.ndarray, dtype: str):
    """Compare the f32 result with float64 numpy on the same inputs, over the entries where
    both are finite. The bound (docs/kernels.md) is the classic one for K sequential f32
    roundings: |c - c64| <= gamma_K * (|A| |B|)_ij + tiny, gamma_K = K u / (1 - K u), u = 2**-24.
    Returns (max absolute error, every entry within its bound, the largest bound)."""
    a64 = to_f64(a_bits, dtype)
    b64 = to_f64(b_bits, dtype)
    c = np.asarray(c_bits, np.uint32).view(np.float32).astype(np.float64)
    with np.errstate(all="ignore"):
        ref = a64 @ b64 if a64.ndim == 2 and b64.ndim == 2 else a64 @ b64
        mag = np.abs(a64) @ np.abs(b64)
    k = a64.shape[1]
    u = 2.0 ** -24
    gamma = k * u / (1 - k * u)
    ok_mask = np.isfinite(c) & np.isfinite(ref) & np.isfinite(mag)
    if not ok_mask.any():
        return 0.0, True, 0.0
    with np.errstate(all="ignore"):
        err = np.abs(c - ref)[ok_mask]
        bound = gamma * mag[ok_mask] + k * 2.0 ** -149
    return float(err.max()), bool((err <= bound).all()), float(bound.max())
