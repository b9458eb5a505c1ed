"""PE programs (assembly source) shared by tests, benchmarks and host flows.

Interface:
    sparse_gemv_source(m, weights) -> str
        y += W x with W an m-row f16 matrix stored column-major at label W and y (f32) at 0:
        each nonzero x[j] arrives on color 3 as (j << 16 | f16 x[j]) and triggers one fmacs of
        column j; a control wavelet on color 3 sends y out on color 4 (docs/isa.md example).
        ``weights`` is the data directive holding W, e.g. ".f16 1, 2, 3" or ".half 0x3c00, ...".
"""

from __future__ import annotations

__all__ = ["sparse_gemv_source"]

_SPARSE_GEMV = """
    .equ M, {m}
    .equ COL_BYTES, M * 2
    .task 0, setup
    .start 0
    .task 1, on_x, 3
    .dsr d0, mem.f32, y, M, 1
    .dsr d1, mem.f16, W, M, 1
    .dsr d2, fout.f32, 4, M
    .data 0x0
    y:  .space M * 4
    W:  {weights}
    .text
    setup:
        li    r2, W
        li    r3, COL_BYTES
        end
    on_x:
        andi  r4, r14, 32
        bne   r4, r0, flush
        srli  r1, r15, 16
        mul   r1, r1, r3
        add   r1, r1, r2
        dbase d1, r1, 0
        fmacs.f32.f16 d0, d1, r15
        end
    flush:
        vmov.f32 d2, d0
        end
"""


def sparse_gemv_source(m: int, weights: str) -> str:
    return _SPARSE_GEMV.format(m=m, weights=weights)
