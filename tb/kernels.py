"""PE programs (assembly source) shared by tests, benchmarks and host flows.

Interface:
    sparse_gemv_source(m, weights) -> str
        y += W x with W an m-row f16 matrix stored column-major at label W and y (f32) at 0:
        each nonzero x[j] arrives on color 3 as (j << 16 | f16 x[j]) and triggers one fmacs of
        column j; a control wavelet on color 3 sends y out on color 4 (docs/isa.md example).
        ``weights`` is the data directive holding W, e.g. ".f16 1, 2, 3" or ".half 0x3c00, ...".
    gemm_source(plan) -> str     the mesh GEMM PE program for a tb.gemm_host.GemmPlan (docs/kernels.md)
    gemv_source(plan) -> str     the mesh sparse-GEMV PE program for a tb.gemm_host.GemvPlan
    row_echo_setup(rows, cols, profile, cin=1, cout=2) -> (routes, image, streams)
                                 the front-door smoke program (payload + 1) with its routes and
                                 management streams, used by the tile-mesh, FPGA-core and board tests
"""

from __future__ import annotations

__all__ = ["sparse_gemv_source", "gemm_source", "gemv_source", "row_echo_setup", "ROW_ECHO"]

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


# Tasks: 0 start, 1/2 "panel received" (A/B), 3 step, 5 idle (the completion target of the
# fmacs, which need none). r10 = panels, r11 = the next panel to compute, r13 = receive events
# seen. No "panel computed" event is needed (docs/isa.md "Ordering"): memory-only vector ops are
# never overtaken by later ops, so the receive of panel p + 1 into the buffers of panel p - 1,
# issued after every fmacs of panel p - 1, cannot write them before those fmacs have read them;
# the fmacs of panel p see the C values of panel p - 1; and the final vmov of C sees them all.
_GEMM = """
    .equ MT, {mt}
    .equ NT, {nt}
    .equ KP, {kp}
    .equ P, {panels}
    .equ ES, {es}
    .equ CP, NT * 4                 ; C row pitch (bytes)
    .equ A0, {A0}
    .equ A1, {A1}
    .equ B0, {B0}
    .equ B1, {B1}
    .equ AW, KP * MT * ES // 4      ; wavelets per A panel
    .equ BW, KP * NT * ES // 4
    .task 0, start
    .task 1, ev_a
    .task 2, ev_b
    .task 3, step
    .task 5, idle
    .start 0
    .dsr d0, mem.f32, 0, NT, 1          ; C row i (fmacs accumulator)
    .dsr d1, mem.{t}, B0, NT, 1          ; B row kk of the panel
    .dsr d2, fin.f32, {ca}, AW          ; A panel from the west
    .dsr d3, fin.f32, {cb}, BW          ; B panel from the north
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
{inner}
    bne   r2, r7, iloop
    addi  r3, r3, NT * ES
    bne   r2, r6, kloop
    beq   r11, r10, drain
idle:
    end
drain:
    dld   d6, {PDSR}(r0)          ; FOUT f32, this PE's result color, MT * NT
    lw    r9, {PCOLOR}(r0)
    vmov.f32 d6, d7
    li    r1, 1                 ; ADVANCE: the switch now forwards the upstream tiles
    send.c r1, r9
    end
"""

_INNER_F16 = """    lw    r1, 0(r2)             ; A[i, k] and A[i + 1, k]
    dbase d0, r4, 0
    fmacs.f32.f16 d0, d1, r1, done=5
    srli  r1, r1, 16
    dbase d0, r4, CP
    fmacs.f32.f16 d0, d1, r1, done=5
    addi  r2, r2, 4
    addi  r4, r4, 2 * CP"""

_INNER_F32 = """    lw    r1, 0(r2)
    lw    r8, 4(r2)
    dbase d0, r4, 0
    fmacs.f32 d0, d1, r1, done=5
    dbase d0, r4, CP
    fmacs.f32 d0, d1, r8, done=5
    addi  r2, r2, 8
    addi  r4, r4, 2 * CP"""


def gemm_source(plan) -> str:
    from tb.gemm_host import CA, CB

    lay = plan.layout
    return _GEMM.format(mt=plan.mt, nt=plan.nt, kp=plan.kp, panels=plan.panels, es=plan.es, t=plan.dtype,
                        ca=CA, cb=CB, inner=_INNER_F16 if plan.dtype == "f16" else _INNER_F32, **lay)


# Sparse GEMV on the mesh: task 1 runs once per nonzero x[j] on color CX; its payload is
# (address of A's column j in this PE) << 16 | x_j, and it issues one asynchronous fmacs of that
# column into y (memory-only ops are ordered, docs/isa.md, so consecutive fmacs on y need no wait).
# The control wavelet that ends the stream starts the flush: y leaves on the result color, then a
# control wavelet ADVANCEs the router's switch to forward the tiles of the PEs to the west.
_GEMV = """
    .equ MT, {mt}
    .equ W, {W}
    .equ PARAM, {PARAM}
    .task 0, setup
    .start 0
    .task 1, on_x, {cx}
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
    dld   d2, PARAM(r0)         ; FOUT f32, this PE's result color, MT
    lw    r9, PARAM + 8(r0)
    vmov.f32 d2, d0
    li    r1, 1                 ; ADVANCE
    send.c r1, r9
    end
"""


def gemv_source(plan) -> str:
    from tb.gemm_host import CX

    return _GEMV.format(mt=plan.mt, cx=CX, **plan.layout)


# The front-door smoke program: every wavelet on color cin starts a data task that sends payload + 1
# on color cout. With row_echo_setup's routes each input entering a row's west edge reaches every
# PE of the row, and every result leaves the row's east edge.
ROW_ECHO = """
.task 1, on_x, {cin}          ; data task: every wavelet on color {cin} starts it
.text
on_x:
    addi  r1, r15, 1          ; r15 = the wavelet's payload
    send  r1, {cout}
    end
"""


def row_echo_setup(rows, cols, profile, cin=1, cout=2):
    """Routes (cin row-broadcast from the west edge, cout merged eastward), the assembled image
    and the management streams that load both and start every PE: (mesh_routes, image, streams)."""
    from golden.routing import ColorRoute, MeshRoutes, Port
    from hdl.loadmap import Ctrl
    from hdl.profiles import get_profile
    from sdk.asm import assemble
    from sdk.loader import MeshLoader, ctrl_write, load_ops

    prof = get_profile(profile)
    mesh = MeshRoutes(rows, cols, prof.colors)
    for r in range(rows):
        for c in range(cols):
            last = c == cols - 1
            mesh.set((r, c), cin, ColorRoute.simple([Port.W], [Port.RAMP] if last else [Port.RAMP, Port.E]))
            mesh.set((r, c), cout, ColorRoute.simple([Port.RAMP] if c == 0 else [Port.RAMP, Port.W], [Port.E]))
    image = assemble(ROW_ECHO.format(cin=cin, cout=cout), prof.name)
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    loader.pe_writes_all(load_ops(image.to_dict(), prof.sram_kib * 1024))
    loader.pe_writes_all([ctrl_write(Ctrl.RUN)], phase="post")
    return mesh, image, loader.streams()
