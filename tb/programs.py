"""PE programs used as stimulus by the testbenches (not kernels: those live in sdk/kernels/).

Interface:
    sparse_gemv_source(m, weights) -> str
        y += W x with W an m-row f16 matrix stored column-major at label W and y (f32) at 0:
        each nonzero x[j] arrives on color 3 as (j << 16 | f16 x[j]) and triggers one fmacs of
        column j; a control wavelet on color 3 sends y out on color 4 (docs/isa.md example).
        ``weights`` is the data directive holding W, e.g. ".f16 1, 2, 3" or ".half 0x3c00, ...".
    HALT_WHERE_BAD                 task 0 (started) stores beyond the SRAM when the parameter BAD is
                                   nonzero: place it with params=lambda pe: {"BAD": ...} to make
                                   chosen PEs halt with SRAM_RANGE at pc 4
    FAULTY_PROGRAM, faulty_pe_setup(rows, cols, profile, pe) -> (streams, fault fields)
        management streams that start every PE of a mesh and give one PE a program that halts on
        an out-of-range store, and the fault word its row must then report (hdl/fault.py)
"""

from __future__ import annotations

from golden.pe_model import PEModel
from hdl.isa import ErrorCode, pe_params
from hdl.loadmap import Ctrl
from hdl.profiles import get_profile
from sdk.asm import assemble
from sdk.loader import MeshLoader, ctrl_write, load_ops

__all__ = ["sparse_gemv_source", "HALT_WHERE_BAD", "FAULTY_PROGRAM", "faulty_pe_setup"]

HALT_WHERE_BAD = """
    .task 0, main
    .start 0
    .text
main:
    li    r1, BAD
    beq   r1, r0, ok
    li    r2, 0x7ffc        ; beyond the 8 KiB SRAM
    sw    r1, 0(r2)
ok:
    end
"""

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


# The fault_report program: task 3 (started at load) stores beyond the SRAM and halts the PE with
# SRAM_RANGE at the instruction labelled ``bad``; task 0 is never run.
FAULTY_PROGRAM = """
.task 0, idle
.task 3, t3
.start 3
.text
idle:
    end
t3:
    li    r1, 0x1234
    li    r2, {base}
bad:
    sw    r1, {offset}(r2)    ; {base} + {offset} = {addr:#x}: beyond the {sram} bytes of SRAM
    end
"""


def faulty_pe_setup(rows, cols, profile, pe):
    """Management streams ({row: wavelets} for the west links) that start every PE and give PE
    ``pe`` FAULTY_PROGRAM, and the fields of the fault word its row must then report (the PE status
    word the golden PE model predicts: SRAM_RANGE, task 3, the store's PC, halted)."""
    prof = get_profile(profile)
    sram = prof.sram_kib * 1024
    base, offset = 0x6000, 0x1FFC
    assert base + offset + 4 > sram, "the store must leave the SRAM"
    image = assemble(FAULTY_PROGRAM.format(base=base, offset=offset, addr=base + offset, sram=sram), prof.name)
    params = pe_params(prof.name)
    golden = PEModel(**params)
    golden.load(image.to_dict())
    assert golden.run() == "halted"
    st = golden.status
    assert (st.code, st.task, st.pc) == (ErrorCode.SRAM_RANGE, 3, image.symbols["bad"]), st
    loader = MeshLoader(rows, cols, prof)
    loader.pe_writes(pe, load_ops(image, sram))
    loader.pe_writes_all([ctrl_write(Ctrl.RUN)], phase="post")  # every PE runs; only one has tasks
    fields = {"valid": 1, "col": pe[1], "pe_status.code": st.code, "pe_status.halted": 1,
              "pe_status.async_": int(st.async_), "pe_status.task": st.task, "pe_status.pc": st.pc,
              "pe_status.rsv": 0, "router_errors": 0, "mgmt_error": 0}
    return loader.streams(), fields
