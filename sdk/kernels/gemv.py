"""Sparse GEMV: y (M, f32) = A (M x K, f16) . x (K, f16), where only x's nonzeros travel.

The rows are shared out over all PEs, row block b = r * C + c to PE (r, c), which holds its rows of
A with every column, column-major, in SRAM (loaded through the edge with the program). Only x's
nonzeros travel, down every column from the north edge (color CX, column broadcast): one wavelet
(address of column j << 16 | x_j) per nonzero, which starts a data task doing one asynchronous
``fmacs`` of column j, so cycles are proportional to the nonzeros. A control wavelet ends the
stream; each PE then sends its block of y east (color CY, switch-sequenced like the GEMM's tiles).
Golden order (golden/matmul.py ``gemv_bits`` with one column block): each y element starts at +0
and takes one fused multiply-add per nonzero, in increasing j (docs/kernels.md).

Interface:
    plan_gemv(rows, cols, m, k, profile="small") -> GemvPlan   (KernelError if bad)
    Gemv(rows, cols, m, k, profile="small")
        .plan  .layout(a_bits) -> Layout (A is loaded with the program)  .inputs(x_bits)
        .frames() -> the read-out plan  .expect()  .decode(received) -> y bits (uint32)  .nonzeros(x_bits)
        .blocks(y_bits) -> {pe: [word]}   each PE's block of y, the inverse of decode's reassembly
        .run(rt, a_bits, x_bits, progress=0) -> (y bits, RunResult)
        .golden(a_bits, x_bits) -> y bits   .check(y_bits, a_bits, x_bits) -> figures
    CX, CY   the kernel's colors
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.matmul import float64_error, gemv_bits, to_f64
from hdl.isa import DsrKind, ElemType, pack_dsr
from hdl.mesh import EdgeLink, MeshShapeError, check_mesh_shape
from hdl.profiles import ProfileError, get_profile
from hdl.wavelet import Port

from .. import readout, routes
from ..engines.base import Until
from ..layout import Layout, LayoutError, Region, SramMap
from .common import KernelError, check_bits, compare, positive_int, round_up, words

__all__ = ["GemvPlan", "plan_gemv", "Gemv", "CX", "CY", "SOURCE"]

CX, CY = 0, 2

# Task 1 runs once per nonzero x[j] on color CX; its payload is (address of A's column j in this
# PE) << 16 | x_j, and it issues one asynchronous fmacs of that column into y (memory-only ops are
# ordered, docs/isa.md, so consecutive fmacs on y need no wait). The control wavelet that ends the
# stream starts the flush: y leaves on the result color, then a control wavelet ADVANCEs the
# router's switch to forward the blocks of the PEs to the west.
# Parameters: MT (rows of y per PE), W (address of A), CX; symbols pdsr (FOUT DSR), pcolor (color
# word), which the read-out macro send_tile (sdk/readout.py LIBRARY) takes.
SOURCE = """
    .include "readout"
    .task 0, setup
    .start 0
    .task 1, on_x, CX
    .task 5, idle
    .dsr d0, mem.f32, 0, MT, 1
    .dsr d1, mem.f16, W, MT, 1
    .text
setup:
    vfill.f32 d0, r0, done=5
idle:
    end
on_x:
    andi  r4, r14, 32
    bne   r4, r0, flush
    srli  r1, r15, 16
    dbase d1, r1, 0
    fmacs.f32.f16 d0, d1, r15, done=5
    end
flush:
    send_tile d2, d0            ; y on this PE's result color (pdsr: FOUT f32, MT), then ADVANCE
    end
"""


@dataclass
class GemvPlan:
    rows: int
    cols: int
    profile: str
    m: int
    k: int
    mt: int  # rows of A (and of y) per PE
    sram: SramMap = None  # the SRAM buffers: sram[name] -> byte address

    def block(self, r, c):
        """The row block of PE (r, c): blocks run along the rows of the mesh, row-major."""
        return r * self.cols + c

    def summary(self):
        return {"rows": self.rows, "cols": self.cols, "profile": self.profile, "M": self.m, "K": self.k,
                "tile": [self.mt, self.k]}


def plan_gemv(rows, cols, m, k, profile="small") -> GemvPlan:
    try:
        check_mesh_shape(rows, cols)
    except MeshShapeError as e:
        raise KernelError(str(e)) from None
    m, k = positive_int("M", m), positive_int("K", k)
    try:
        prof = get_profile(profile)
    except ProfileError as e:
        raise KernelError(str(e)) from None
    # Every PE holds all K columns of its rows, so every nonzero is one fmacs in every PE and no
    # partial sums need combining; each column is a whole number of SRAM rows (mt a multiple of 4).
    mt = round_up(-(-m // (rows * cols)), 4)
    sram = prof.sram_kib * 1024
    mem = SramMap(min(sram, 0xFFFF))  # a column's address travels in the upper 16 bits of a wavelet
    try:
        mem.buffer("Y", mt * 4)
        mem.buffer("W", mt * k * 2)
        mem.buffer("PARAM", 16)  # pdsr (this PE's FOUT DSR), pcolor (its result color)
    except LayoutError:
        raise KernelError(f"a {m}x{k} GEMV on a {rows}x{cols} mesh needs {mt} rows of A ({mt * k * 2} bytes) "
                          f"and of y ({mt * 4} bytes) per PE: more than the {sram} bytes of SRAM in profile "
                          f"{prof.name}; use a larger mesh or a smaller matrix") from None
    return GemvPlan(rows, cols, prof.name, m, k, mt, mem)


class Gemv:
    def __init__(self, rows, cols, m, k, profile="small"):
        self.plan = plan_gemv(rows, cols, m, k, profile)

    def layout(self, a_bits) -> Layout:
        p = self.plan
        a = check_bits("A", a_bits, (p.m, p.k), "f16")
        ap = np.zeros((p.rows * p.cols * p.mt, p.k), np.uint16)
        ap[:p.m] = a
        lay = Layout(p.rows, p.cols, p.profile, clear_memory=False, sram=p.sram)  # the program zeroes y
        cx, cy = lay.color("CX", CX), lay.color("CY", CY)
        lay.route(cx, routes.col_broadcast(from_edge="N"))
        lay.route(cy, routes.readout(to_edge="E"))
        n_words = p.mt * p.k // 2
        prog = lay.program(SOURCE, name="gemv", params={"MT": p.mt, "W": p.sram["W"], "CX": CX},
                           libraries=readout.LIBRARY,
                           symbols={"a": ("u32", n_words, p.sram["W"]), "pdsr": ("u32", 2, p.sram["PARAM"]),
                                    "pcolor": ("u32", 1, p.sram["PARAM"] + 8)})
        dsr = pack_dsr(DsrKind.FOUT, ElemType.F32, p.mt, color=CY)

        def a_block(pe):
            b = p.block(*pe)
            return np.array(words(ap[b * p.mt:(b + 1) * p.mt].T, "f16"), np.uint32)  # column-major

        lay.place(prog, lay.all(), values={"a": a_block, "pdsr": np.array([dsr & 0xFFFFFFFF, dsr >> 32], np.uint32),
                                           "pcolor": np.array([CY], np.uint32)})
        return lay

    def inputs(self, x_bits) -> dict:
        """One wavelet per nonzero x_j (+0 and -0 are zeros): the address of column j in every PE and
        x_j; then a control wavelet (no switch command) that ends it. The same stream enters every
        column's north link."""
        p = self.plan
        x = check_bits("x", x_bits, (p.k,), "f16")
        stream = [((p.sram["W"] + j * p.mt * 2) << 16 | int(x[j]), 0) for j in range(p.k) if int(x[j]) & 0x7FFF]
        stream.append((0, 1))
        return {EdgeLink(Port.N, c): (CX, stream) for c in range(p.cols)}

    @staticmethod
    def nonzeros(x_bits) -> int:
        return int(np.count_nonzero(np.asarray(x_bits) & 0x7FFF))

    def frames(self) -> dict:
        """The read-out plan (sdk/readout.py ``frames``): every PE's y block on CY to its row's east
        link, easternmost first."""
        p = self.plan
        return readout.frames(Region(0, 0, p.rows, p.cols), "E", CY)

    def expect(self) -> dict:
        return readout.expect(self.frames(), self.plan.mt)

    def decode(self, received: dict) -> np.ndarray:
        """y (M uint32) from the wavelets received on the east links; checks the framing
        (sdk/readout.py ``decode``: ReadoutError, a KernelError, naming the link and the PE)."""
        p = self.plan
        y = np.zeros(p.rows * p.cols * p.mt, np.uint32)
        for pe, block in readout.decode(received, self.frames(), p.mt, what="GEMV y").items():
            b = p.block(*pe)
            y[b * p.mt:(b + 1) * p.mt] = block
        return y[:p.m]

    def blocks(self, y_bits) -> dict:
        """{pe: [word]}: each PE's block of y (padded), what ``decode`` reassembles."""
        p = self.plan
        y = np.zeros(p.rows * p.cols * p.mt, np.uint32)
        y[:p.m] = y_bits
        return {(r, c): [int(v) for v in y[p.block(r, c) * p.mt:(p.block(r, c) + 1) * p.mt]]
                for r in range(p.rows) for c in range(p.cols)}

    def run(self, rt, a_bits, x_bits, progress: int = 0, counters: bool = False, trace=None):
        feeds = self.inputs(x_bits)
        rt.load(self.layout(a_bits))
        for link, (color, stream) in feeds.items():
            data = [w for w in stream if not w[1]]
            if data:
                rt.send(link, color, [pl for pl, _ in data])
            rt.send(link, color, [stream[-1][0]], ctrl=1)
        res = rt.run(Until.outputs(self.expect()), max_idle=20000, progress=progress, counters=counters, trace=trace)
        return self.decode(rt.receive()), res

    def golden(self, a_bits, x_bits) -> np.ndarray:
        """y bits from golden/matmul.py (one column block: every nonzero in increasing j)."""
        return gemv_bits(a_bits, x_bits, [(0, self.plan.k)], [(0, self.plan.k)])

    def check(self, y_bits, a_bits, x_bits) -> dict:
        golden = self.golden(a_bits, x_bits)
        err, ok, bound = float64_error(y_bits[:, None], a_bits, x_bits[:, None], "f16")
        return {**compare(y_bits, golden), "max_abs_err_f64": err, "f64_bound_ok": ok, "f64_bound": bound,
                "nan_outputs": int(np.isnan(to_f64(y_bits, "f32")).sum())}
