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
    random_program(seed, profile) -> (source, inputs)   a race-free constrained-random program
                                   (docs/isa.md rules) and its RAMP inputs
        management streams that start every PE of a mesh and give one PE a program that halts on
        an out-of-range store, and the fault word its row must then report (hdl/fault.py)
"""

from __future__ import annotations

import random

from golden.pe_model import PEModel
from hdl.isa import ErrorCode, pe_params
from hdl.loadmap import Ctrl
from hdl.profiles import get_profile
from sdk.asm import assemble
from sdk.loader import MeshLoader, ctrl_write, load_ops

__all__ = ["sparse_gemv_source", "HALT_WHERE_BAD", "FAULTY_PROGRAM", "faulty_pe_setup", "random_program"]

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


_ALU_R = ["add", "sub", "and", "or", "xor", "sll", "srl", "sra", "slt", "sltu", "mul"]
_ALU_I = ["addi", "slti", "sltiu", "andi", "ori", "xori", "slli", "srli", "srai"]
_FP16 = ["0", "1", "-1", "0.5", "2", "3.25", "-0.125", "65504", "6e-5", "1e-7", "inf", "-inf", "nan", "-0", "100"]


def random_program(seed: int, profile: str = "small") -> tuple[str, list]:
    """A race-free random program (docs/isa.md "Race-free programs") and its RAMP inputs.

    Layout: task 0 (started) runs a straight-line mix of scalar ALU ops, loads/stores into a
    scratch area, forward branches, DSR set-up and synchronous vector ops over private buffers,
    sends, and may activate task 2 or issue one async op (done=3) over its own buffers that nothing
    else touches until task 3 runs. Task 1 is a data task on color 1 (each wavelet adds its payload
    to a memory counter and echoes it on color 2). Data tasks read registers r8..r13 only; task 0
    uses r1..r7. Synchronous ops may read fabric input color 5 (no task is bound to it).
    Memory: 0x000..0x0FF scratch, 0x100..0x2FF vector buffers, 0x300..0x37F async
    buffers, 0x380 counter.
    """
    rng = random.Random(seed)
    lines = [".task 0, t0", ".start 0", ".task 1, t1, 1", ".task 2, t2", ".task 3, t3"]
    data = [".data 0"]
    for _ in range(64):
        data.append(f".word {rng.getrandbits(32)}")
    data.append(".data 0x100")
    for _ in range(128):
        data.append(f".f16 {rng.choice(_FP16)}" if rng.random() < 0.3 else f".half {rng.getrandbits(16)}")
    data.append(".data 0x200")
    for _ in range(64):
        data.append(f".word {rng.getrandbits(32)}")
    data.append(".data 0x300")
    for _ in range(32):
        data.append(f".word {rng.getrandbits(32) & 0x3C7F3C7F}")  # finite-ish f16 pairs
    code = ["t0:"]
    for r in range(1, 8):
        code.append(f"li r{r}, {rng.getrandbits(32)}")
    used_async = False
    fin_inputs = []
    n_ops = rng.randint(5, 30)
    label = 0
    for _ in range(n_ops):
        kind = rng.random()
        rd, ra, rb = (rng.randint(1, 7) for _ in range(3))
        if kind < 0.3:
            code.append(f"{rng.choice(_ALU_R)} r{rd}, r{ra}, r{rb}")
        elif kind < 0.45:
            op = rng.choice(_ALU_I)
            if op in ("slli", "srli", "srai"):
                k = rng.randint(0, 31)
            elif op in ("andi", "ori", "xori"):
                k = rng.getrandbits(16)
            else:
                k = rng.randint(-32768, 32767)
            code.append(f"{op} r{rd}, r{ra}, {k}")
        elif kind < 0.5:
            code.append(f"lui r{rd}, {rng.getrandbits(16)}")
        elif kind < 0.6:
            op = rng.choice(["lw", "lh", "lhu", "sw", "sh"])
            size = 4 if op in ("lw", "sw") else 2
            off = rng.randrange(0, 256, size)
            code.append(f"{op} r{rd}, {off}(r0)")
        elif kind < 0.66:
            br = rng.choice(["beq", "bne", "blt", "bge", "bltu", "bgeu"])
            label += 1
            code.append(f"{br} r{ra}, r{rb}, L{label}")
            code.append(f"addi r{rd}, r{rd}, {rng.randint(-100, 100)}")
            code.append(f"L{label}:")
        elif kind < 0.72:
            code.append(f"send r{rd}, {rng.choice([0, 3])}")
        elif kind < 0.84:
            code += _random_vector(rng)
        elif kind < 0.88:
            # a synchronous op with a fabric input on color 5 (its wavelets are in the inputs)
            t = rng.choice(["f16", "f32", "i16", "i32"])
            n = rng.randint(0, 6)
            size = 2 if t in ("f16", "i16") else 4
            op = rng.choice(["vadd", "vmul", "vmax", "vmov"])
            code += [f"li r1, {0x200 + rng.randrange(0, 32, size)}", f"li r2, {n}", "li r3, 1",
                     f"dmem.{t} d1, r1, r2, r3", f"li r1, {0x100 + rng.randrange(0, 32, size)}",
                     f"dmem.{t} d3, r1, r2, r3", f"dfin.{t} d5, 5, r2",
                     f"{op}.{t} d1, d5, d3" if op != "vmov" else f"vmov.{t} d1, d5"]
            fin_inputs += [(5, rng.getrandbits(32), rng.getrandbits(1)) for _ in range(n)]
        elif kind < 0.9:
            code += ["block 2", "activate 2", "unblock 2"] if rng.random() < 0.5 else ["block 1", "unblock 1"]
        elif kind < 0.95 and not used_async:
            used_async = True
            code += ["li r7, 0x300", "li r6, 8", "li r5, 1", "dmem.f16 d12, r7, r6, r5", "li r7, 0x310",
                     "dmem.f16 d13, r7, r6, r5", f"li r4, {rng.getrandbits(16)}",
                     f"{rng.choice(['vadds.f16', 'vmuls.f16', 'fmacs.f16', 'vmaxs.f16'])} d12, d13, r4, done=3"]
        elif kind < 0.97:
            code.append("activate 2")
        else:
            code.append("nop")
    code.append("end")
    # Tasks 1..3 may start in a timing-dependent order: each clears r14/r15 (written at every
    # start) before it ends, so the final registers do not depend on which one started last.
    clr = ["li r14, 0", "li r15, 0", "end"]
    code += ["t1:", "lw r8, 0x380(r0)", "add r8, r8, r15", "sw r8, 0x380(r0)", "send r15, 2", *clr]
    code += ["t2:", "li r9, 0x1234", "sw r9, 0x384(r0)", *clr]
    code += ["t3:", "lw r10, 0x300(r0)", "sw r10, 0x388(r0)", *clr]
    inputs = [(1, rng.getrandbits(32), 0) for _ in range(rng.randint(0, 4))] + fin_inputs
    return "\n".join(lines + data + [".text"] + code), inputs


def _random_vector(rng) -> list[str]:
    """One synchronous vector op over the buffers at 0x100..0x2FF (no overlap between operands)."""
    op = rng.choice(["vadd", "vadds", "vmul", "vmuls", "vmov", "vfill", "fmac", "fmacs", "fout", "vmax", "vmaxs",
                     "vcvt"])
    n = rng.randint(0, 12)
    if op == "vcvt":
        mode = rng.choice(["f32.f16", "f16.f32"])
        dt, ot = mode.split(".")
        acc16, op16 = dt == "f16", ot == "f16"
    elif op in ("fmac", "fmacs"):
        mode = rng.choice(["f32.f16", "f32", "f16", "i32.i16"])
        acc16 = mode == "f16"
        op16 = mode != "f32"
        dt = {"f32.f16": "f32", "f32": "f32", "f16": "f16", "i32.i16": "i32"}[mode]
        ot = {"f32.f16": "f16", "f32": "f32", "f16": "f16", "i32.i16": "i16"}[mode]
    else:
        t = rng.choice(["f16", "f32", "i16", "i32"])
        dt = ot = t
        acc16 = op16 = t in ("f16", "i16")
    sd = rng.choice([1, 1, 1, 2, -1])
    sa = rng.choice([1, 1, 2, 3])
    # destination at 0x200.., sources at 0x100.. and 0x180..: disjoint windows
    dbase = 0x200 + (rng.randrange(0, 16, 2) if acc16 else rng.randrange(0, 16, 4))
    if sd < 0:
        dbase += (n - 1) * (2 if acc16 else 4) if n else 0
    abase = 0x100 + (rng.randrange(0, 16, 2) if op16 else rng.randrange(0, 16, 4))
    bbase = 0x180 + (rng.randrange(0, 16, 2) if op16 else rng.randrange(0, 16, 4))
    out = [f"li r1, {dbase}", f"li r2, {n}", f"li r3, {sd & 0xFFFFFFFF}", f"dmem.{dt} d1, r1, r2, r3",
           f"li r1, {abase}", f"li r3, {sa}", f"dmem.{ot} d2, r1, r2, r3",
           f"li r1, {bbase}", "li r3, 1", f"dmem.{ot} d3, r1, r2, r3", f"li r4, {rng.getrandbits(32)}"]
    if op == "fout":
        out += [f"dfout.{dt} d4, 0, r2", f"vmov.{dt} d4, d2"]
    elif op in ("fmac",):
        out.append(f"fmac.{mode} d1, d2, d3")
    elif op == "fmacs":
        out.append(f"fmacs.{mode} d1, d2, r4")
    elif op in ("vadd", "vmul", "vmax"):
        out.append(f"{op}.{dt} d1, d2, d3")
    elif op == "vcvt":
        out.append(f"vcvt.{mode} d1, d2")
    elif op in ("vadds", "vmuls", "vmaxs"):
        out.append(f"{op}.{dt} d1, d2, r4")
    elif op == "vmov":
        out.append(f"vmov.{dt} d1, d2")
    else:
        out.append(f"vfill.{dt} d1, r4")
    return out
