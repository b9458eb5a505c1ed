"""Host side of the mesh GEMM and sparse GEMV: plan, partition, program, stream, decode.

Everything here is transport-independent: a *job* is the wavelets to put on mesh edge input links
and the number to expect on edge output links. ``tb/cocotb_gemm.py`` plays a job on the Verilator
mesh (a UART bridge could play the same job on a board). Links are named ``"W3"`` (the west input
of row 3, or the west output of row 3), ``"N0"``, ``"E3"``, ``"S0"``.

GEMM (docs/kernels.md): C (M x N, f32) = A (M x K) . B (K x N), inputs f16 (f32 accumulation) or
f32. PE (r, c) owns the C tile of row block r and column block c (``mt x nt``, padded). K is cut
into panels of ``kp``; the A panel of row block r enters row r at its west edge and is
row-broadcast (color CA), the B panel of column block c enters column c at its north edge and is
column-broadcast (color CB). Each PE receives panel p + 1 with two asynchronous ``vmov`` into its
second buffers while its ``fmacs`` rank-1 updates consume panel p (double buffering). At the end
the tiles leave through the east edge (eastern half of the columns, color CE) and the west edge
(western half, CW): each PE sends its tile and a control wavelet that ADVANCEs its router's switch
from "my RAMP" to "forward from upstream", so every edge link carries whole tiles in a fixed order.

Sparse GEMV: y (M, f32) = A (M x K, f16) . x (K, f16). The rows are shared out over all PEs, row
block b = r * C + c to PE (r, c), which holds its rows of A with every column, column-major, in SRAM
(loaded through the edge with the program). Only x's nonzeros travel, down every column from the
north edge (color CX, column broadcast): one wavelet (address of column j << 16 | x_j) per nonzero,
which starts a data task doing one ``fmacs`` of column j, so cycles are proportional to the
nonzeros. A control wavelet ends the stream; each PE then sends its block of y east (color CY, the
same switch-sequenced read-out as the GEMM's tiles).

Interface:
    plan_gemm(rows, cols, m, k, n, dtype="f16", profile="small") -> GemmPlan    (KernelError if bad)
    gemm_job(plan, a_bits, b_bits) -> job dict;   gemm_decode(plan, outputs) -> C bits (m x n)
    plan_gemv(rows, cols, m, k, profile="small") -> GemvPlan
    gemv_job(plan, a_bits, x_bits) -> job dict;   gemv_decode(plan, outputs) -> y bits (m)
    bridge_schedule(job, panels) -> (load, data, echo, results)   playing a job through edge links
    random_matrix(rng, shape, dtype, kind="normal"|"zeros"|"special"), sparse_vector(rng, k, density)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from golden.routing import ColorRoute, MeshRoutes, Port, mask_of
from hdl.loadmap import Ctrl, Region, load_addr
from hdl.mesh import check_mesh_shape
from hdl.profiles import get_profile
from hdl.wavelet import SwitchCmd
from sdk.loader import MeshLoader, ctrl_write, load_ops

__all__ = ["KernelError", "GemmPlan", "GemvPlan", "plan_gemm", "plan_gemv", "gemm_job", "gemm_decode",
           "bridge_schedule", "gemv_job", "gemv_decode", "random_matrix", "sparse_vector",
           "CA", "CB", "CE", "CW", "CX", "CY"]

# GEMM colors; GEMV colors (a mesh runs one kernel at a time: the routes are reloaded per job)
CA, CB, CE, CW = 0, 1, 2, 3
CX, CY = 0, 2
#: estimated cycles lost per panel (pipeline drain, the three completion tasks, the step task)
PANEL_OVERHEAD = 80


class KernelError(ValueError):
    """A kernel request that cannot run: bad shape, type or values, or a tile that does not fit."""


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise KernelError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _round_up(x, m):
    return -(-x // m) * m


# ------------------------------------------------------------------------------------------- GEMM
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
    layout: dict = field(default_factory=dict)

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
    except ValueError as e:
        raise KernelError(str(e)) from None
    m, k, n = (_positive_int(x, v) for x, v in (("M", m), ("K", k), ("N", n)))
    if dtype not in ("f16", "f32"):
        raise KernelError(f"dtype {dtype!r}: expected 'f16' (f32 accumulation) or 'f32'")
    prof = get_profile(profile)
    es = 2 if dtype == "f16" else 4
    # Two A scalars per loop iteration (mt even); the C and B row pitches are whole pairs of SRAM
    # rows so that the B operand and the C accumulator stream from banks of opposite parity.
    mt = _round_up(-(-m // rows), 2)
    nt = _round_up(-(-n // cols), 8 if dtype == "f16" else 4)
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
    lay = {"C": 0}
    lay["A0"] = c_bytes
    lay["A1"] = lay["A0"] + kp * mt * es
    lay["B0"] = _round_up(lay["A1"] + kp * mt * es, 16) + 8
    lay["B1"] = lay["B0"] + kp * nt * es
    lay["SCR"] = lay["B1"] + kp * nt * es
    lay["PDSR"] = lay["SCR"] + 8
    lay["PCOLOR"] = lay["PDSR"] + 8
    lay["END"] = lay["PCOLOR"] + 4
    assert lay["END"] <= sram and lay["B0"] % 16 == 8 and lay["PDSR"] % 8 == 0
    return GemmPlan(rows, cols, prof.name, m, k, n, dtype, mt, nt, kp, panels, lay)


def _fout_dsr(color, length, ctrl=0):
    """A packed FOUT f32 DSR (docs/isa.md: kind 3, type 1, length, color, ctrl)."""
    return 3 | 1 << 2 | length << 16 | color << 32 | ctrl << 37


def _fin_dsr(color, length):
    return 2 | 1 << 2 | length << 16 | color << 32


def _sram_words(addr, value64_or_32, words):
    return [(load_addr(Region.SRAM, addr // 4 + i), (value64_or_32 >> (32 * i)) & 0xFFFFFFFF) for i in range(words)]


def gemm_routes(plan: GemmPlan) -> MeshRoutes:
    R, C = plan.rows, plan.cols
    mesh = MeshRoutes(R, C, get_profile(plan.profile).colors)
    for r in range(R):
        for c in range(C):
            pe = (r, c)
            mesh.set(pe, CA, ColorRoute.simple([Port.W], [Port.RAMP] if c == C - 1 else [Port.RAMP, Port.E]))
            mesh.set(pe, CB, ColorRoute.simple([Port.N], [Port.RAMP] if r == R - 1 else [Port.RAMP, Port.S]))
            if c >= plan.west_cols:  # tile leaves east; forward the tiles of the columns to the west after it
                first = c == plan.west_cols
                pos = [(mask_of(Port.RAMP), mask_of(Port.E))] + ([] if first else [(mask_of(Port.W), mask_of(Port.E))])
                mesh.set(pe, CE, ColorRoute(tuple(pos)))
            else:
                first = c == plan.west_cols - 1
                pos = [(mask_of(Port.RAMP), mask_of(Port.W))] + ([] if first else [(mask_of(Port.E), mask_of(Port.W))])
                mesh.set(pe, CW, ColorRoute(tuple(pos)))
    return mesh


def _check_matrix(name, x, shape, dtype):
    x = np.asarray(x)
    want = np.uint16 if dtype == "f16" else np.uint32
    if x.shape != shape:
        raise KernelError(f"{name} has shape {x.shape}, the plan expects {shape}")
    if x.dtype != want:
        raise KernelError(f"{name} must hold {dtype} bit patterns as {np.dtype(want).name}, got {x.dtype}")
    return x


def _words(block, dtype):
    """A 2-D block of bit patterns, row-major, as little-endian 32-bit wavelet payloads."""
    flat = np.ascontiguousarray(block).reshape(-1)
    if dtype == "f16":
        flat = flat.astype(np.uint16)
        return [int(v) for v in flat.view(np.uint32)]
    return [int(v) for v in flat.astype(np.uint32)]


def _load_streams(plan_rows, plan_cols, profile, routes, image, per_pe):
    """Management streams: CLEAR every PE, the routes, the shared image (broadcast), the per-PE
    words, then RUN."""
    prof = get_profile(profile)
    loader = MeshLoader(plan_rows, plan_cols, prof)
    loader.routes(routes)
    loader.pe_writes_all([ctrl_write(Ctrl.CLEAR)] + load_ops(image, prof.sram_kib * 1024), phase="pre")
    for pe, writes in per_pe.items():
        loader.pe_writes(pe, writes)
    loader.pe_writes_all([ctrl_write(Ctrl.RUN)], phase="post")
    return {r: [list(w) for w in s] for r, s in loader.streams().items()}


def gemm_job(plan: GemmPlan, a_bits, b_bits) -> dict:
    """The wavelets a host sends and expects for C = A.B (A: M x K, B: K x N bit patterns)."""
    from sdk.asm import assemble
    from tb.kernels import gemm_source

    a = _check_matrix("A", a_bits, (plan.m, plan.k), plan.dtype)
    b = _check_matrix("B", b_bits, (plan.k, plan.n), plan.dtype)
    R, C, mt, nt, kp = plan.rows, plan.cols, plan.mt, plan.nt, plan.kp
    ap = np.zeros((R * mt, plan.k_pad), a.dtype)
    ap[:plan.m, :plan.k] = a
    bp = np.zeros((plan.k_pad, C * nt), b.dtype)
    bp[:plan.k, :plan.n] = b
    image = assemble(gemm_source(plan), plan.profile).to_dict()
    per_pe = {}
    for r in range(R):
        for c in range(C):
            color = CW if c < plan.west_cols else CE
            per_pe[(r, c)] = (_sram_words(plan.layout["PDSR"], _fout_dsr(color, mt * nt), 2)
                              + _sram_words(plan.layout["PCOLOR"], color, 1))
    inject = {}
    for r in range(R):
        words = []
        for p in range(plan.panels):  # A panel, k-major: A[i, k] at (k, i)
            words += _words(ap[r * mt:(r + 1) * mt, p * kp:(p + 1) * kp].T, plan.dtype)
        inject[f"W{r}"] = [[CA, w, 0] for w in words]
    for c in range(C):
        words = []
        for p in range(plan.panels):
            words += _words(bp[p * kp:(p + 1) * kp, c * nt:(c + 1) * nt], plan.dtype)
        inject[f"N{c}"] = [[CB, w, 0] for w in words]
    tile = mt * nt + 1  # the tile and its switch-advancing control wavelet
    expect = {}
    for r in range(R):
        if C - plan.west_cols:
            expect[f"E{r}"] = {"color": CE, "count": (C - plan.west_cols) * tile}
        if plan.west_cols:
            expect[f"W{r}"] = {"color": CW, "count": plan.west_cols * tile}
    return {"kind": "gemm", "plan": plan.summary(), "load": _load_streams(R, C, plan.profile, gemm_routes(plan),
                                                                          image, per_pe),
            "inject": inject, "expect": expect, "max_idle": 20 * plan.kp * plan.mt * plan.nt + 20000}


def bridge_schedule(job: dict, panels: int = 1):
    """How a link-level transport (the FPGA bridge) plays ``job``: ``(load, data, echo, results)``.
    ``load`` and ``data`` are lists of ``(side, index, wavelets)`` to inject in order: first the
    management streams into the west links, whose ``echo`` wavelets come back out of the east
    links; then the data streams panel by panel, so that a link whose PE has not yet posted its
    receive never holds up the bridge while another PE waits for its half of the current panel.
    ``results`` wavelets come out at the end."""
    load = [("w", int(r), [tuple(w) for w in stream]) for r, stream in job["load"].items()]
    data = []
    for p in range(panels):
        for name, wavelets in job["inject"].items():
            chunk = -(-len(wavelets) // panels)
            part = wavelets[p * chunk:(p + 1) * chunk]
            if part:
                data.append((name[0].lower(), int(name[1:]), [tuple(w) for w in part]))
    echo = sum(len(ws) for _, _, ws in load)
    return load, data, echo, sum(e["count"] for e in job["expect"].values())


def gemm_decode(plan: GemmPlan, outputs: dict) -> np.ndarray:
    """C (M x N uint32) from the wavelets collected on the edge links; checks the framing."""
    R, C, mt, nt = plan.rows, plan.cols, plan.mt, plan.nt
    cp = np.zeros((R * mt, C * nt), np.uint32)
    for r in range(R):
        for side, order, color in (("E", range(C - 1, plan.west_cols - 1, -1), CE), ("W", range(plan.west_cols), CW)):
            if not order:
                continue
            got = [w for w in outputs.get(f"{side}{r}", []) if w[0] == color]
            want = len(order) * (mt * nt + 1)
            if len(got) != want:
                raise AssertionError(f"{side}{r}: {len(got)} result wavelets on color {color}, expected {want}")
            for idx, c in enumerate(order):
                seg = got[idx * (mt * nt + 1):(idx + 1) * (mt * nt + 1)]
                if any(w[2] for w in seg[:-1]) or seg[-1][2] != 1 or seg[-1][1] != SwitchCmd.ADVANCE:
                    raise AssertionError(f"{side}{r}: tile of PE ({r}, {c}) is not framed by one ADVANCE "
                                         "control wavelet")
                cp[r * mt:(r + 1) * mt, c * nt:(c + 1) * nt] = np.array([w[1] for w in seg[:-1]],
                                                                         np.uint32).reshape(mt, nt)
    return cp[:plan.m, :plan.n]


# ------------------------------------------------------------------------------------------- GEMV
@dataclass
class GemvPlan:
    rows: int
    cols: int
    profile: str
    m: int
    k: int
    mt: int  # rows of A (and of y) per PE
    layout: dict = field(default_factory=dict)

    def block(self, r, c):
        """The row block of PE (r, c): blocks run along the rows of the mesh, row-major."""
        return r * self.cols + c

    def summary(self):
        return {"rows": self.rows, "cols": self.cols, "profile": self.profile, "M": self.m, "K": self.k,
                "tile": [self.mt, self.k]}


def plan_gemv(rows, cols, m, k, profile="small") -> GemvPlan:
    try:
        check_mesh_shape(rows, cols)
    except ValueError as e:
        raise KernelError(str(e)) from None
    m, k = _positive_int("M", m), _positive_int("K", k)
    prof = get_profile(profile)
    # Every PE holds all K columns of its rows, so every nonzero is one fmacs in every PE and no
    # partial sums need combining; each column is a whole number of SRAM rows (mt a multiple of 4).
    mt = _round_up(-(-m // (rows * cols)), 4)
    sram = prof.sram_kib * 1024
    lay = {"Y": 0, "W": mt * 4}
    lay["PARAM"] = _round_up(lay["W"] + mt * k * 2, 8)
    lay["END"] = lay["PARAM"] + 16
    if lay["END"] > sram or lay["END"] > 65535:
        raise KernelError(f"a {m}x{k} GEMV on a {rows}x{cols} mesh needs {mt} rows of A ({mt * k * 2} bytes) "
                          f"and of y ({mt * 4} bytes) per PE: more than the {sram} bytes of SRAM in profile "
                          f"{prof.name}; use a larger mesh or a smaller matrix")
    return GemvPlan(rows, cols, prof.name, m, k, mt, lay)


def gemv_routes(plan: GemvPlan) -> MeshRoutes:
    R, C = plan.rows, plan.cols
    mesh = MeshRoutes(R, C, get_profile(plan.profile).colors)
    for r in range(R):
        for c in range(C):
            pe = (r, c)
            mesh.set(pe, CX, ColorRoute.simple([Port.N], [Port.RAMP] if r == R - 1 else [Port.RAMP, Port.S]))
            pos = [(mask_of(Port.RAMP), mask_of(Port.E))] + ([(mask_of(Port.W), mask_of(Port.E))] if c else [])
            mesh.set(pe, CY, ColorRoute(tuple(pos)))
    return mesh


def gemv_job(plan: GemvPlan, a_bits, x_bits) -> dict:
    from sdk.asm import assemble
    from tb.kernels import gemv_source

    a = _check_matrix("A", a_bits, (plan.m, plan.k), "f16")
    x = _check_matrix("x", x_bits, (plan.k,), "f16")
    R, C, mt = plan.rows, plan.cols, plan.mt
    ap = np.zeros((R * C * mt, plan.k), np.uint16)
    ap[:plan.m] = a
    image = assemble(gemv_source(plan), plan.profile).to_dict()
    lay = plan.layout
    per_pe = {}
    for r in range(R):
        for c in range(C):
            b = plan.block(r, c)
            w = _words(ap[b * mt:(b + 1) * mt].T, "f16")  # column-major: column j contiguous
            writes = [(load_addr(Region.SRAM, lay["W"] // 4 + i), v) for i, v in enumerate(w)]
            writes += _sram_words(lay["PARAM"], _fout_dsr(CY, mt), 2)
            writes += _sram_words(lay["PARAM"] + 8, CY, 1)
            per_pe[(r, c)] = writes
    # one wavelet per nonzero (+0 and -0 are zeros): the column's address in every PE, and x_j
    stream = [[CX, (lay["W"] + j * mt * 2) << 16 | int(x[j]), 0] for j in range(plan.k) if int(x[j]) & 0x7FFF]
    stream.append([CX, 0, 1])  # end of x: flush (a control wavelet with no switch command)
    inject = {f"N{c}": stream for c in range(C)}
    expect = {f"E{r}": {"color": CY, "count": C * (mt + 1)} for r in range(R)}
    return {"kind": "gemv", "plan": plan.summary(), "load": _load_streams(R, C, plan.profile, gemv_routes(plan),
                                                                          image, per_pe),
            "inject": inject, "expect": expect, "max_idle": 20000, "nonzeros": len(stream) - 1}


def gemv_decode(plan: GemvPlan, outputs: dict) -> np.ndarray:
    R, C, mt = plan.rows, plan.cols, plan.mt
    y = np.zeros(R * C * mt, np.uint32)
    for r in range(R):
        got = [w for w in outputs.get(f"E{r}", []) if w[0] == CY]
        if len(got) != C * (mt + 1):
            raise AssertionError(f"E{r}: {len(got)} y wavelets on color {CY}, expected {C * (mt + 1)}")
        for idx, c in enumerate(range(C - 1, -1, -1)):
            seg = got[idx * (mt + 1):(idx + 1) * (mt + 1)]
            if any(w[2] for w in seg[:-1]) or seg[-1][2] != 1 or seg[-1][1] != SwitchCmd.ADVANCE:
                raise AssertionError(f"E{r}: the y block of PE ({r}, {c}) is not framed by one ADVANCE control wavelet")
            b = plan.block(r, c)
            y[b * mt:(b + 1) * mt] = [w[1] for w in seg[:-1]]
    return y[:plan.m]


# ------------------------------------------------------------------------------------------- data
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
