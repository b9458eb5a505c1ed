"""What the kernels of sdk/kernels share: their error type, test data, wavelet packing and the
bit-exact comparison that goes into a KernelRecord.

Interface:
    KernelError                              a request a kernel cannot run (bad shape, type, size)
    positive_int(name, v), round_up(x, m)
    words(block, dtype) -> [int]             a 2-D block of bit patterns, row-major, as 32-bit
                                             payloads (f16: two per word, low half first)
    check_bits(name, x, shape, dtype)        a matrix of bit patterns of the right shape and type
    random_matrix(rng, shape, dtype, kind)   "normal", "zeros" or "special" (inf, NaN, -0, subnormals)
    sparse_vector(rng, k, density)           an f16 vector with round(density * k) nonzeros
    compare(got, want) -> {"bit_exact", "mismatches", "first_mismatch"}
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import KernelError

__all__ = ["KernelError", "positive_int", "round_up", "words", "check_bits", "random_matrix", "sparse_vector",
           "compare"]


def positive_int(name, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise KernelError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def words(block, dtype: str) -> list:
    flat = np.ascontiguousarray(block).reshape(-1)
    if dtype == "f16":
        return [int(v) for v in flat.astype(np.uint16).view(np.uint32)]
    return [int(v) for v in flat.astype(np.uint32)]


def check_bits(name, x, shape, dtype):
    x = np.asarray(x)
    want = np.uint16 if dtype == "f16" else np.uint32
    if x.shape != shape:
        raise KernelError(f"{name} has shape {x.shape}, the plan expects {shape}")
    if x.dtype != want:
        raise KernelError(f"{name} must hold {dtype} bit patterns as {np.dtype(want).name}, got {x.dtype}")
    return x


def random_matrix(rng: np.random.Generator, shape, dtype="f16", kind="normal") -> np.ndarray:
    """Bit patterns of a test matrix: ``normal`` (N(0, 1) values), ``zeros``, ``special`` (normal
    values with infinities, NaNs, signed zeros and subnormals sprinkled in)."""
    ft, ut = (np.float16, np.uint16) if dtype == "f16" else (np.float32, np.uint32)
    if kind == "zeros":
        return np.zeros(shape, ut)
    x = rng.standard_normal(shape).astype(ft).view(ut)
    if kind == "special":
        specials = ([0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0001, 0x8200] if dtype == "f16" else
                    [0x7F800000, 0xFF800000, 0x7FC00000, 0x80000000, 0x00000001, 0x80400000])
        mask = rng.random(shape) < 0.05
        x[mask] = rng.choice(np.array(specials, ut), size=int(mask.sum()))
        x.flat[0], x.flat[-1] = specials[2], specials[0]  # at least one NaN and one infinity
    elif kind != "normal":
        raise KernelError(f"matrix kind {kind!r}: expected normal, zeros or special")
    return x


def sparse_vector(rng: np.random.Generator, k: int, density: float) -> np.ndarray:
    """An f16 vector with round(density * k) nonzeros (at least one when density > 0)."""
    if not (isinstance(density, (int, float)) and 0.0 <= density <= 1.0) or math.isnan(density):
        raise KernelError(f"density {density!r}: expected a number in [0, 1]")
    nnz = min(k, max(1 if density > 0 else 0, round(density * k)))
    x = np.zeros(k, np.uint16)
    idx = rng.choice(k, size=nnz, replace=False)
    vals = rng.standard_normal(nnz).astype(np.float16).view(np.uint16)
    vals[(vals & 0x7FFF) == 0] = 0x3C00  # a nonzero must not be a zero
    x[idx] = vals
    return x


def compare(got: np.ndarray, want: np.ndarray) -> dict:
    bad = np.argwhere(got != want)
    out = {"bit_exact": bool(bad.size == 0), "mismatches": int(bad.shape[0]), "first_mismatch": None}
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        out["first_mismatch"] = {"index": idx, "got": f"{int(got[idx]):#010x}", "want": f"{int(want[idx]):#010x}"}
    return out
