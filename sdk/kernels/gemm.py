"""Distributed GEMM: C (M x N, f32) = A (M x K) . B (K x N), inputs f16 (f32 accumulation) or f32.

SUMMA with the host as the panel owner (docs/kernels.md). PE (r, c) owns the C tile of row block r
and column block c (``mt x nt``, padded). K is cut into panels of ``kp``; the A panel of row block r
enters row r at its west edge and is row-broadcast (color CA), the B panel of column block c enters
column c at its north edge and is column-broadcast (CB). Each PE receives panel p + 1 with two
asynchronous ``vmov`` into its second buffers while its ``fmacs`` rank-1 updates consume panel p
(double buffering). At the end the tiles leave through the east edge (eastern half of the
columns, color CE) and the west edge (western half, CW), switch-sequenced (``routes.readout``):
each PE sends its tile and one ADVANCE control wavelet, so every edge link carries whole tiles in
a fixed order and the host needs no tags.

Program, layout, host flow and decode live together here; the golden result is
golden/matmul.py's (the hardware's accumulation order).

Interface:
    plan_gemm(rows, cols, m, k, n, dtype="f16", profile="small") -> GemmPlan   (KernelError if bad)
    Gemm(rows, cols, m, k, n, dtype="f16", profile="small")
        .plan  .layout() -> Layout  .inputs(a_bits, b_bits) -> {EdgeLink: (color, [payload])}
        .frames() -> the read-out plan   .expect() -> {EdgeLink: (color, count)}
        .decode(received) -> C bits (M x N uint32)   (sdk/readout.py: the framed read-out)
        .blocks(c_bits) -> {pe: [word]}   each PE's tile, the inverse of decode's reassembly
        .run(rt, a_bits, b_bits, progress=0, counters=False, trace=None) -> (C bits, RunResult)
                                                     on an sdk.Runtime (see Runtime.run)
        .golden(a_bits, b_bits) -> C bits   .check(c_bits, a_bits, b_bits) -> figures: bit-exact
                                                     against golden.matmul, float64 error
    CA, CB, CE, CW   the kernel's colors
    SOURCE, LIBRARY  the program and the libraries it includes ("gemm.dtype" is "gemm.f16" or
                     "gemm.f32", the macros of the input type; "readout", sdk/readout.py's)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from golden.matmul import float64_error, gemm_bits, to_f64
from hdl.isa import DsrKind, ElemType, pack_dsr
from hdl.mesh import EdgeLink, MeshShapeError, check_mesh_shape
from hdl.profiles import ProfileError, get_profile
from hdl.wavelet import Port

from .. import readout, routes
from ..engines.base import Until
from ..layout import Layout, Region, SramMap
from .common import KernelError, check_bits, compare, positive_int, round_up, words

__all__ = ["GemmPlan", "plan_gemm", "Gemm", "CA", "CB", "CE", "CW", "SOURCE", "LIBRARY"]

CA, CB, CE, CW = 0, 1, 2, 3
#: estimated cycles lost per panel (pipeline drain, the three completion tasks, the step task)
PANEL_OVERHEAD = 80

# Tasks: 0 start, 1/2 "panel received" (A/B), 3 step, 5 idle (the completion target of the
# fmacs, which need none). r10 = panels, r11 = the next panel to compute, r13 = receive events
# seen. No "panel computed" event is needed (docs/isa.md "Ordering"): memory-only vector ops are
# never overtaken by later ops, so the receive of panel p + 1 into the buffers of panel p - 1,
# issued after every fmacs of panel p - 1, cannot write them before those fmacs have read them;
# the fmacs of panel p see the C values of panel p - 1; and the final vmov of C sees them all.
# Parameters (assembler symbols from the layout): MT, NT, KP, P, ES, A0, A1, B0, B1, CA, CB;
# symbols pdsr (this PE's FOUT DSR) and pcolor (its result color).
SOURCE = """
    .include "gemm.dtype"           ; b_view and rank2 for the input type (LIBRARY)
    .include "readout"
    .equ CP, NT * 4                 ; C row pitch (bytes)
    .equ AW, KP * MT * ES // 4      ; wavelets per A panel
    .equ BW, KP * NT * ES // 4
    .task 0, start
    .task 1, ev_a
    .task 2, ev_b
    .task 3, step
    .task 5, idle
    .start 0
    .dsr d0, mem.f32, 0, NT, 1          ; C row i (fmacs accumulator)
    b_view d1                           ; B row kk of the panel
    .dsr d2, fin.f32, CA, AW            ; A panel from the west
    .dsr d3, fin.f32, CB, BW            ; B panel from the north
    .dsr d4, mem.f32, A0, AW, 1         ; where the A panel goes
    .dsr d5, mem.f32, B0, BW, 1
    .dsr d7, mem.f32, 0, MT * NT, 1     ; the whole C tile
    .text
start:
    vfill.f32 d7, r0, done=5    ; C = +0
    li    r10, P
    li    r11, 0
    li    r13, 0
    vmov.f32 d4, d2, done=1
    vmov.f32 d5, d3, done=2
    end
ev_a:
    addi  r13, r13, 1
    activate 3
    end
ev_b:
    addi  r13, r13, 1
    activate 3
    end
step:
    li    r1, 2
    bne   r13, r1, idle         ; panel p not wholly received yet
    li    r13, 0
    andi  r1, r11, 1
    li    r2, A0
    li    r3, B0
    beq   r1, r0, even
    li    r2, A1
    li    r3, B1
even:
    addi  r11, r11, 1
    beq   r11, r10, compute     ; the last panel: nothing more to receive
    li    r4, A0 + A1           ; the other buffers take panel p + 1
    sub   r4, r4, r2
    li    r5, B0 + B1
    sub   r5, r5, r3
    dbase d4, r4, 0
    dbase d5, r5, 0
    vmov.f32 d4, d2, done=1
    vmov.f32 d5, d3, done=2
compute:
    addi  r6, r2, KP * MT * ES  ; end of the A panel (k-major: A[i, k] at r2 + (k * MT + i) * ES)
kloop:
    dbase d1, r3, 0
    li    r4, 0
    addi  r7, r2, MT * ES
iloop:
    rank2                       ; C rows i and i + 1 += A[i, k] B[k], A[i + 1, k] B[k]
    bne   r2, r7, iloop
    addi  r3, r3, NT * ES
    bne   r2, r6, kloop
    beq   r11, r10, drain
idle:
    end
drain:
    send_tile d6, d7            ; C on this PE's result color (pdsr: FOUT f32, MT * NT), then
    end                         ; ADVANCE: the switch now forwards the upstream tiles
"""

#: The pieces that depend on the input type, as macros (one library per type): b_view d, the DSR
#: preset of a B row of the panel; rank2, two rank-1 updates of C rows i and i + 1 (r2 walks the
#: A panel, r4 the C rows, d1 is the B row). With the read-out macros, everything SOURCE includes.
LIBRARY = {
    "gemm.f16": r"""
.macro b_view d
    .dsr \d, mem.f16, B0, NT, 1
.endm
.macro rank2
    lw    r1, 0(r2)             ; A[i, k] and A[i + 1, k]
    dbase d0, r4, 0
    fmacs.f32.f16 d0, d1, r1, done=5
    srli  r1, r1, 16
    dbase d0, r4, CP
    fmacs.f32.f16 d0, d1, r1, done=5
    addi  r2, r2, 4
    addi  r4, r4, 2 * CP
.endm
""",
    "gemm.f32": r"""
.macro b_view d
    .dsr \d, mem.f32, B0, NT, 1
.endm
.macro rank2
    lw    r1, 0(r2)
    lw    r8, 4(r2)
    dbase d0, r4, 0
    fmacs.f32 d0, d1, r1, done=5
    dbase d0, r4, CP
    fmacs.f32 d0, d1, r8, done=5
    addi  r2, r2, 8
    addi  r4, r4, 2 * CP
.endm
""",
    **readout.LIBRARY,
}


@dataclass
class GemmPlan:
    rows: int
    cols: int
    profile: str
    m: int
    k: int
    n: int
    dtype: str
    mt: int  # C tile rows per PE (padded)
    nt: int  # C tile columns per PE (padded)
    kp: int  # K panel width
    panels: int
    sram: SramMap = None  # the SRAM buffers: sram[name] -> byte address

    @property
    def es(self):
        return 2 if self.dtype == "f16" else 4

    @property
    def k_pad(self):
        return self.kp * self.panels

    @property
    def lanes(self):
        return get_profile(self.profile).simd_f16 // 2

    @property
    def useful_macs(self):
        return self.m * self.k * self.n

    @property
    def padded_macs(self):
        """The MACs the PEs perform: every PE's padded tile over the padded K (zeros included)."""
        return self.rows * self.cols * self.mt * self.nt * self.k_pad

    @property
    def west_cols(self):
        """Columns whose tiles leave through the west edge (the western half)."""
        return self.cols // 2

    def ideal_cycles(self):
        return self.mt * self.nt * self.k_pad / self.lanes

    def summary(self):
        return {"rows": self.rows, "cols": self.cols, "profile": self.profile, "M": self.m, "K": self.k,
                "N": self.n, "dtype": self.dtype, "tile": [self.mt, self.nt], "kp": self.kp, "panels": self.panels}


def plan_gemm(rows, cols, m, k, n, dtype="f16", profile="small") -> GemmPlan:
    """Choose tiles, panel width and the SRAM layout; clear errors for anything that cannot run."""
    try:
        check_mesh_shape(rows, cols)
    except MeshShapeError as e:
        raise KernelError(str(e)) from None
    m, k, n = (positive_int(x, v) for x, v in (("M", m), ("K", k), ("N", n)))
    if dtype not in ("f16", "f32"):
        raise KernelError(f"dtype {dtype!r}: expected 'f16' (f32 accumulation) or 'f32'")
    try:
        prof = get_profile(profile)
    except ProfileError as e:
        raise KernelError(str(e)) from None
    es = 2 if dtype == "f16" else 4
    # Two A scalars per loop iteration (mt even); the C and B row pitches are whole pairs of SRAM
    # rows so that the B operand and the C accumulator stream from banks of opposite parity.
    mt = round_up(-(-m // rows), 2)
    nt = round_up(-(-n // cols), 8 if dtype == "f16" else 4)
    sram = prof.sram_kib * 1024
    c_bytes = mt * nt * 4
    fixed = c_bytes + 8 + 8 + 16 + 16  # alignment slack, scratch word, FOUT DSR, colour word
    per_kp = 2 * (mt + nt) * es
    kp_max = (sram - fixed) // per_kp
    if kp_max < 1 or mt * nt > 65535:
        raise KernelError(
            f"a {m}x{k}x{n} {dtype} GEMM on a {rows}x{cols} mesh needs a {mt}x{nt} f32 C tile per PE "
            f"({c_bytes} bytes) plus two panel buffers ({per_kp} bytes at the narrowest): more than the "
            f"{sram} bytes of SRAM in profile {prof.name}; use a larger mesh or smaller matrices")
    best = None
    for kp in range(1, min(kp_max, k) + 1):
        panels = -(-k // kp)
        if kp * mt * es // 4 > 65535 or kp * nt * es // 4 > 65535:
            break
        # compute, the per-panel overhead, and receiving the first panel (not overlapped)
        cost = panels * kp * mt * nt / (prof.simd_f16 // 2) + panels * PANEL_OVERHEAD + kp * max(mt, nt) * es / 4
        if best is None or cost < best[0]:
            best = (cost, kp, panels)
    _, kp, panels = best
    return GemmPlan(rows, cols, prof.name, m, k, n, dtype, mt, nt, kp, panels, _sram_map(prof, mt, nt, kp, es))


def _sram_map(prof, mt, nt, kp, es) -> SramMap:
    """C at 0, the two A panel buffers, the two B panel buffers on the SRAM rows of the other bank
    parity (B0 = 8 mod 16), a scratch word, this PE's FOUT DSR and its result color."""
    mem = SramMap(prof.sram_kib * 1024, f"the SRAM of profile {prof.name}")
    mem.buffer("C", mt * nt * 4)
    mem.buffer("A0", kp * mt * es, align=4)
    mem.buffer("A1", kp * mt * es, align=4)
    mem.buffer("BANK", 8, align=16)  # unused: B0 starts half a row pair after a 16-byte boundary
    mem.buffer("B0", kp * nt * es, align=4)
    mem.buffer("B1", kp * nt * es, align=4)
    mem.buffer("SCR", 8)
    mem.buffer("PDSR", 8)
    mem.buffer("PCOLOR", 4)
    assert mem["B0"] % 16 == 8
    return mem


class Gemm:
    def __init__(self, rows, cols, m, k, n, dtype="f16", profile="small"):
        self.plan = plan_gemm(rows, cols, m, k, n, dtype, profile)

    def result_color(self, c: int) -> int:
        return CW if c < self.plan.west_cols else CE

    def layout(self) -> Layout:
        p = self.plan
        # The kernel initialises everything it reads (vfill of C, panels received before use), so
        # the load skips the memory-zeroing sweep.
        lay = Layout(p.rows, p.cols, p.profile, clear_memory=False, sram=p.sram)
        colors = {name: lay.color(name, c) for name, c in (("CA", CA), ("CB", CB), ("CE", CE), ("CW", CW))}
        lay.route(colors["CA"], routes.row_broadcast(from_edge="W"))
        lay.route(colors["CB"], routes.col_broadcast(from_edge="N"))
        if p.cols - p.west_cols:
            lay.route(colors["CE"], routes.readout(to_edge="E"),
                      lay.region(0, p.west_cols, p.rows, p.cols - p.west_cols))
        if p.west_cols:
            lay.route(colors["CW"], routes.readout(to_edge="W"), lay.region(0, 0, p.rows, p.west_cols))
        params = {"MT": p.mt, "NT": p.nt, "KP": p.kp, "P": p.panels, "ES": p.es, "CA": CA, "CB": CB,
                  **{k: p.sram[k] for k in ("A0", "A1", "B0", "B1")}}
        libraries = {**LIBRARY, "gemm.dtype": LIBRARY[f"gemm.{p.dtype}"]}
        prog = lay.program(SOURCE, name="gemm", params=params, libraries=libraries,
                           symbols={"pdsr": ("u32", 2, p.sram["PDSR"]), "pcolor": ("u32", 1, p.sram["PCOLOR"])})

        def pdsr(pe):
            v = pack_dsr(DsrKind.FOUT, ElemType.F32, p.mt * p.nt, color=self.result_color(pe[1]))
            return np.array([v & 0xFFFFFFFF, v >> 32], np.uint32)

        lay.place(prog, lay.all(), values={"pdsr": pdsr,
                                           "pcolor": lambda pe: np.array([self.result_color(pe[1])], np.uint32)})
        return lay

    def inputs(self, a_bits, b_bits) -> dict:
        """{EdgeLink: (color, [payload])}: the A panels into every row's west link, the B panels into
        every column's north link, panel after panel."""
        p = self.plan
        a = check_bits("A", a_bits, (p.m, p.k), p.dtype)
        b = check_bits("B", b_bits, (p.k, p.n), p.dtype)
        ap = np.zeros((p.rows * p.mt, p.k_pad), a.dtype)
        ap[:p.m, :p.k] = a
        bp = np.zeros((p.k_pad, p.cols * p.nt), b.dtype)
        bp[:p.k, :p.n] = b
        out = {}
        for r in range(p.rows):  # A panel, k-major: A[i, k] at (k, i)
            out[EdgeLink(Port.W, r)] = (CA, [w for q in range(p.panels) for w in
                                             words(ap[r * p.mt:(r + 1) * p.mt, q * p.kp:(q + 1) * p.kp].T, p.dtype)])
        for c in range(p.cols):
            out[EdgeLink(Port.N, c)] = (CB, [w for q in range(p.panels) for w in
                                             words(bp[q * p.kp:(q + 1) * p.kp, c * p.nt:(c + 1) * p.nt], p.dtype)])
        return out

    def frames(self) -> dict:
        """The read-out plan (sdk/readout.py ``frames``): the east half's tiles on CE to the east
        links, the west half's on CW to the west links, nearest PE first."""
        p = self.plan
        plan = {}
        if p.cols - p.west_cols:
            plan.update(readout.frames(Region(0, p.west_cols, p.rows, p.cols - p.west_cols), "E", CE))
        if p.west_cols:
            plan.update(readout.frames(Region(0, 0, p.rows, p.west_cols), "W", CW))
        return plan

    def expect(self) -> dict:
        return readout.expect(self.frames(), self.plan.mt * self.plan.nt)

    def max_idle(self) -> int:
        p = self.plan
        return 20 * p.kp * p.mt * p.nt + 20000

    def decode(self, received: dict) -> np.ndarray:
        """C (M x N uint32) from the wavelets received on the edge links; checks the framing
        (sdk/readout.py ``decode``: ReadoutError, a KernelError, naming the link and the PE)."""
        p = self.plan
        tiles = readout.decode(received, self.frames(), p.mt * p.nt, what="GEMM C tiles")
        cp = np.zeros((p.rows * p.mt, p.cols * p.nt), np.uint32)
        for (r, c), tile in tiles.items():
            cp[r * p.mt:(r + 1) * p.mt, c * p.nt:(c + 1) * p.nt] = np.array(tile, np.uint32).reshape(p.mt, p.nt)
        return cp[:p.m, :p.n]

    def blocks(self, c_bits) -> dict:
        """{pe: [word]}: each PE's tile of C (padded), what ``decode`` reassembles."""
        p = self.plan
        cp = np.zeros((p.rows * p.mt, p.cols * p.nt), np.uint32)
        cp[:p.m, :p.n] = c_bits
        return {(r, c): [int(v) for v in cp[r * p.mt:(r + 1) * p.mt, c * p.nt:(c + 1) * p.nt].reshape(-1)]
                for r in range(p.rows) for c in range(p.cols)}

    def run(self, rt, a_bits, b_bits, progress: int = 0, counters: bool = False, trace=None):
        """Load, stream A and B through the edge, run until every tile has left; (C bits, RunResult).
        The panels go out panel by panel over all links: an engine that injects one message at a
        time (the FPGA bridge) then never holds a PE's next panel behind another PE's current one."""
        p = self.plan
        feeds = self.inputs(a_bits, b_bits)
        rt.load(self.layout())
        for q in range(p.panels):
            for link, (color, payloads) in feeds.items():
                part = len(payloads) // p.panels
                rt.send(link, color, payloads[q * part:(q + 1) * part])
        res = rt.run(Until.outputs(self.expect()), max_idle=self.max_idle(), progress=progress, counters=counters,
                     trace=trace)
        return self.decode(rt.receive()), res

    def golden(self, a_bits, b_bits) -> np.ndarray:
        """C bits from golden/matmul.py: the hardware's accumulation order over the padded K."""
        return gemm_bits(a_bits, b_bits, self.plan.dtype, self.plan.k_pad)

    def check(self, c_bits, a_bits, b_bits) -> dict:
        """Figures of a result: bit-exact against golden/matmul.py (the hardware's order, padded K),
        the largest error against float64 and whether every element is within its bound."""
        golden = self.golden(a_bits, b_bits)
        err, ok, bound = float64_error(c_bits, a_bits, b_bits, self.plan.dtype)
        return {**compare(c_bits, golden), "max_abs_err_f64": err, "f64_bound_ok": ok, "f64_bound": bound,
                "nan_outputs": int(np.isnan(to_f64(c_bits, "f32")).sum())}
