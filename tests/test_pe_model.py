"""Directed tests of the golden PE model (golden/pe_model.py) and the PE mesh model, from docs/isa.md.

Expected values are written down by hand or computed with golden/fp.py from the inputs, never
taken from the model. Programs are built with the assembler (sdk/asm.py); the model itself
decodes the words with its own tables, and ``test_model_tables_match_isa`` checks those agree
with hdl/isa.py.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from golden import fp
from golden import pe_model as pm
from golden.pe_mesh_model import PEMeshModel
from golden.pe_model import PEModel
from golden.routing import ColorRoute, MeshRoutes, Port, mask_of
from hdl.isa import RESERVED_OPCODES, ErrorCode, Opcode, encode_i, encode_r, pe_params
from sdk.asm import assemble
from tb.programs import sparse_gemv_source

PARAMS = pe_params("small")
MODEL_KEYS = ("sram_kib", "sram_banks", "simd_f16", "colors", "imem_words", "uthreads")


def make(src: str, deliveries=(), run=True, **overrides) -> PEModel:
    """Assemble ``src``, load a fresh model, queue ``deliveries`` and run it (state in ``m.state``)."""
    params = {**PARAMS, **overrides}
    image = assemble(src, **params)
    m = PEModel(**{k: params[k] for k in MODEL_KEYS})
    m.load(image.to_dict())
    m.symbols = image.symbols
    for d in deliveries:
        m.deliver(*d)
    m.state = m.run() if run else None
    return m


def main(body: str, head: str = "") -> str:
    """A program whose task 0 (pending at load) runs ``body`` and ends."""
    return f".task 0, main\n.start 0\n{head}\n.text\nmain:\n{body}\n    end\n"


def u32(m, addr):
    return int.from_bytes(m.sram[addr:addr + 4], "little")


def u16(m, addr):
    return int.from_bytes(m.sram[addr:addr + 2], "little")


def words(bits, size):
    """A .half/.word directive for a list of bit patterns."""
    return (".half " if size == 2 else ".word ") + ", ".join(hex(b) for b in bits)


# ---- the model's own decode tables agree with hdl/isa.py --------------------------------------

def test_model_tables_match_isa():
    for op in Opcode:
        if op != Opcode.ILLEGAL:
            assert getattr(pm, op.name) == op, op.name
    assert pm.ERROR_NAMES == [e.name for e in ErrorCode]
    assert set(range(64)) - {getattr(pm, o.name) for o in Opcode if o != Opcode.ILLEGAL} == RESERVED_OPCODES


# ---- scalar instructions ----------------------------------------------------------------------

def test_alu_register_ops():
    m = make(main("""
        li r1, 0x80000001
        li r2, 3
        add r3, r1, r2
        sub r4, r1, r2
        and r5, r1, r2
        or r6, r1, r2
        xor r7, r1, r2
        sll r8, r1, r2
        srl r9, r1, r2
        sra r10, r1, r2
        slt r11, r1, r2
        sltu r12, r1, r2
        mul r13, r1, r2
        add r0, r1, r2
    """))
    assert m.state == "idle" and m.status.code == 0
    assert m.regs[:14] == [0, 0x80000001, 3, 0x80000004, 0x7FFFFFFE, 1, 0x80000003, 0x80000002,
                           0x00000008, 0x10000000, 0xF0000000, 1, 0, 0x80000003]


def test_alu_immediate_ops_and_r0():
    m = make(main("""
        li r1, -2
        addi r2, r1, -3
        andi r3, r1, 0xff0f
        ori r4, r1, 1
        xori r5, r1, 0xffff
        slli r6, r1, 4
        srli r7, r1, 28
        srai r8, r1, 1
        slti r9, r1, -1
        sltiu r10, r1, -1
        sltiu r11, r1, 5
        lui r12, 0xabcd
        li r13, 0x12345678
        addi r0, r0, 7
    """))
    assert m.regs[:14] == [0, 0xFFFFFFFE, 0xFFFFFFFB, 0x0000FF0E, 0xFFFFFFFF, 0xFFFF0001, 0xFFFFFFE0, 0xF,
                           0xFFFFFFFF, 1, 1, 0, 0xABCD0000, 0x12345678]


def test_branches_and_jumps():
    m = make(main("""
            li r1, -1
            li r2, 1
            beq r1, r1, t1
            addi r5, r5, 1
        t1: bne r1, r1, bad
            blt r1, r2, t2
            addi r5, r5, 2
        t2: bltu r1, r2, bad
            bge r2, r1, t3
            addi r5, r5, 4
        t3: bgeu r2, r1, bad
            bgeu r1, r2, t4
            addi r5, r5, 8
        t4: jal r6, t5
        bad: addi r5, r5, 100
            end
        t5: li r9, t6
            jalr r7, r9, 1
            addi r5, r5, 16
        t6: addi r5, r5, 32
            addi r8, r8, 1
    """))
    s = m.symbols
    assert m.regs[5] == 0  # every taken branch skipped its add, every untaken one fell through
    assert m.regs[6] == s["bad"]  # jal links pc + 1
    assert m.regs[7] == s["t6"] - 1  # jalr links the next PC (t6 - 1) and jumps past t6
    assert m.regs[8] == 1


def test_loads_and_stores():
    m = make(main("""
        li r1, 0x100
        li r2, 0x8765abcd
        sw r2, 0(r1)
        sh r2, 8(r1)
        lw r3, 0(r1)
        lh r4, 8(r1)
        lhu r5, 8(r1)
        lh r6, 2(r1)
        lw r7, -4(r1)
    """, ".data 0xfc\n.word 0x11223344"))
    assert m.sram[0x100:0x104] == bytes([0xCD, 0xAB, 0x65, 0x87])
    assert m.sram[0x108:0x10A] == bytes([0xCD, 0xAB]) and m.sram[0x10A:0x10C] == b"\0\0"
    assert m.regs[3:8] == [0x8765ABCD, 0xFFFFABCD, 0xABCD, 0xFFFF8765, 0x11223344]


# ---- DSR set-up -------------------------------------------------------------------------------

def _mem(kind, etype, length, base=0, stride=0):
    return kind | etype << 2 | length << 16 | base << 32 | (stride & 0xFFFF) << 48


def test_dsr_setup_instructions():
    m = make(main("""
        li r1, 0x40
        li r2, 10
        li r3, -2
        dmem.i16 d1, r1, r2, r3
        dfin.f32 d2, 5, r2
        dfout.f16 d3, 7, r2, ctrl
        dmem.f32 d4, r1, r2, r2
        dbase d4, r1, 0x20
        dlen d4, r2, -3
        dlen d2, r0, 3
        li r4, 0x200
        dld d5, 8(r4)
    """, ".data 0x208\n.word 0x00040005, 0x00010080"))  # a packed MEM f32 DSR: len 4, base 0x80, stride 1
    assert m.dsrs[1] == 1 | 2 << 2 | 10 << 16 | 0x40 << 32 | 0xFFFE << 48
    assert m.dsrs[2] == 2 | 1 << 2 | 3 << 16 | 5 << 32
    assert m.dsrs[3] == 3 | 0 << 2 | 10 << 16 | 7 << 32 | 1 << 37
    assert m.dsrs[4] == 1 | 1 << 2 | 7 << 16 | 0x60 << 32 | 10 << 48
    assert m.dsrs[5] == 0x00010080_00040005
    d = m.dsr(1)
    assert (d.kind, d.type, d.length, d.base, d.stride) == (1, 2, 10, 0x40, -2)


# ---- vector instructions ----------------------------------------------------------------------

F16 = [fp.f16_bits(v) for v in (1.5, -2.0, 0.1, 65504.0)] + [0x0001, 0x7C00, 0x7E00, 0x8000]
F16B = [fp.f16_bits(v) for v in (2.0, 0.5, -3.0, 2.0)] + [0x3C00, 0xFC00, 0x3C00, 0x0000]
F32 = [fp.f32_bits(v) for v in (1.0, -1e30, 0.1, 3.0)] + [0x00000001, 0x7F800000, 0x7FC00001, 0x80000000]
F32B = [fp.f32_bits(v) for v in (0.25, 1e30, 3.0, -7.5)] + [0x80000001, 0xFF800000, 0x3F800000, 0x80000000]
I16 = [1, 0x7FFF, 0xFFFF, 0x8000, 300, 0xFFFE, 0, 12]
I16B = [2, 1, 1, 0x8000, 300, 3, 5, 0xFFFF]
I32 = [10, 0x7FFFFFFF, 0xFFFFFFFF, 3, 0x10000, 0x80000000, 0, 7]
I32B = [5, 1, 2, 0xFFFFFFFF, 0x10000, 0x80000000, 9, 0xFFFFFFF9]
DATA = {0: (F16, F16B, 2), 1: (F32, F32B, 4), 2: (I16, I16B, 2), 3: (I32, I32B, 4)}
TNAME = {0: "f16", 1: "f32", 2: "i16", 3: "i32"}


def _vector_run(insn, dst_type, dst, a_type, a, b=None, scalar=None):
    """dst at 0x000, a at 0x100, b at 0x200 (8 elements each); returns the dst elements after ``insn``."""
    dsize, asize = (2 if dst_type in (0, 2) else 4), (2 if a_type in (0, 2) else 4)
    head = f"""
        .dsr d1, mem.{TNAME[dst_type]}, 0, 8, 1
        .dsr d2, mem.{TNAME[a_type]}, 0x100, 8, 1
        .dsr d3, mem.{TNAME[a_type]}, 0x200, 8, 1
        .data 0
        {words(dst, dsize)}
        .data 0x100
        {words(a, asize)}
        .data 0x200
        {words(b or [0] * 8, asize)}
    """
    m = make(main(f"li r5, {scalar or 0}\n{insn}", head))
    assert m.status.code == 0 and m.state == "idle"
    return [int.from_bytes(m.sram[i * dsize:(i + 1) * dsize], "little") for i in range(8)]


FMAC_MODES = {"f32.f16": (1, 0, fp.fmac_f32_f16), "f32": (1, 1, fp.fmac_f32), "f16": (0, 0, fp.fmac_f16),
              "i32.i16": (3, 2, fp.mac_i32_i16)}


@pytest.mark.parametrize("mode", FMAC_MODES)
def test_fmac_elementwise_and_scalar(mode):
    acc_t, op_t, mac = FMAC_MODES[mode]
    acc, a, b = DATA[acc_t][0], DATA[op_t][0], DATA[op_t][1]
    want = [mac(*z) for z in zip(acc, a, b, strict=True)]
    assert _vector_run(f"fmac.{mode} d1, d2, d3", acc_t, acc, op_t, a, b) == want
    s = b[0]
    want = [mac(c, x, s) for c, x in zip(acc, a, strict=True)]
    assert _vector_run(f"fmacs.{mode} d1, d2, r5", acc_t, acc, op_t, a, scalar=s) == want


def test_fmac_hand_values():
    # f32 1.0 + f16 2 * f16 0.25 = 1.5; i32 10 + (-2) * 3 = 4; i32 0x7FFFFFFF + 1 * 1 wraps
    assert _vector_run("fmacs.f32.f16 d1, d2, r5", 1, [fp.f32_bits(1.0)] * 8, 0, [fp.f16_bits(2.0)] * 8,
                       scalar=fp.f16_bits(0.25))[0] == fp.f32_bits(1.5)
    got = _vector_run("fmac.i32.i16 d1, d2, d3", 3, [10, 0x7FFFFFFF] + [0] * 6, 2, [0xFFFE, 1] + [0] * 6,
                      [3, 1] + [0] * 6)
    assert got[:2] == [4, 0x80000000]


@pytest.mark.parametrize("t", [0, 1, 2, 3], ids=TNAME.get)
def test_vadd_vmul_elementwise_and_scalar(t):
    a, b, _ = DATA[t]
    add = {0: fp.add_f16, 1: fp.add_f32, 2: lambda x, y: (x + y) & 0xFFFF, 3: lambda x, y: (x + y) & 0xFFFFFFFF}[t]
    mul = {0: fp.mul_f16, 1: fp.mul_f32, 2: lambda x, y: (x * y) & 0xFFFF, 3: lambda x, y: (x * y) & 0xFFFFFFFF}[t]
    n = TNAME[t]
    zeros = [0] * 8
    assert _vector_run(f"vadd.{n} d1, d2, d3", t, zeros, t, a, b) == [add(x, y) for x, y in zip(a, b, strict=True)]
    assert _vector_run(f"vmul.{n} d1, d2, d3", t, zeros, t, a, b) == [mul(x, y) for x, y in zip(a, b, strict=True)]
    assert _vector_run(f"vadds.{n} d1, d2, r5", t, zeros, t, a, scalar=b[1]) == [add(x, b[1]) for x in a]
    assert _vector_run(f"vmuls.{n} d1, d2, r5", t, zeros, t, a, scalar=b[2]) == [mul(x, b[2]) for x in a]
    assert _vector_run(f"vmov.{n} d1, d2", t, zeros, t, a) == a
    assert _vector_run(f"vfill.{n} d1, r5", t, zeros, t, a, scalar=b[3]) == [b[3]] * 8


def test_integer_vector_hand_values():
    assert _vector_run("vadd.i16 d1, d2, d3", 2, [0] * 8, 2, I16, I16B)[:4] == [3, 0x8000, 0, 0]
    assert _vector_run("vmul.i32 d1, d2, d3", 3, [0] * 8, 3, I32, I32B)[:6] == [50, 0x7FFFFFFF, 0xFFFFFFFE,
                                                                                0xFFFFFFFD, 0, 0]


def test_strides_and_scalar_width():
    # d1: 4 f32 written backwards from 0x0C (stride -1); d2: every other f32 from 0x100 (stride 2)
    m = make(main("""
        li r5, 0xffff3c00
        vfill.f16 d3, r5
        vmov.f32 d1, d2
    """, """
        .dsr d1, mem.f32, 0x0c, 4, -1
        .dsr d2, mem.f32, 0x100, 4, 2
        .dsr d3, mem.f16, 0x200, 3, 1
        .data 0x100
        .word 1, 2, 3, 4, 5, 6, 7, 8
    """))
    assert [u32(m, 4 * i) for i in range(4)] == [7, 5, 3, 1]
    assert [u16(m, 0x200 + 2 * i) for i in range(4)] == [0x3C00] * 3 + [0]  # rS[15:0] only, length 3


def test_zero_length_op_and_dsr_not_advanced():
    m = make(main("vfill.i32 d1, r5\nvfill.i32 d2, r6", ".dsr d1, mem.i32, 0, 0, 1\n.dsr d2, mem.i32, 8, 1, 1\n")
             .replace("main:\n", "main:\nli r5, 9\nli r6, 4\n"))
    assert u32(m, 0) == 0 and u32(m, 8) == 4
    assert m.dsr(2).base == 8 and m.dsr(2).length == 1


# ---- fabric ------------------------------------------------------------------------------------

def test_send_data_and_control_wavelets():
    m = make(main("""
        li r1, 0xdeadbeef
        li r2, 5
        send r1, 3
        send.c r1, r2
        send r2, r2+1
        send r0, r2-5
    """))
    assert m.emitted == [(3, 0xDEADBEEF, 0), (5, 0xDEADBEEF, 1), (6, 5, 0), (0, 0, 0)]


def test_vector_fabric_output_and_input():
    f = [fp.f16_bits(v) for v in (1.0, -0.5, 3.0)]
    m = make(main("""
        vmov.f16 d2, d1
        vmov.f32 d4, d3
        vadd.f32 d6, d5, d4
    """, f"""
        .dsr d1, mem.f16, 0x10, 3, 1
        .dsr d2, fout.f16, 6, 3, ctrl
        .dsr d3, fin.f32, 1, 2
        .dsr d4, mem.f32, 0x40, 2, 1
        .dsr d5, fin.f32, 2, 2
        .dsr d6, fout.f32, 7, 2
        .data 0x10
        {words(f, 2)}
    """), deliveries=[(1, fp.f32_bits(2.0)), (1, fp.f32_bits(-4.0)), (2, fp.f32_bits(0.5)), (2, fp.f32_bits(1.0))])
    assert m.emitted[:3] == [(6, b, 1) for b in f]  # 16-bit elements travel in payload[15:0]
    assert [u32(m, 0x40), u32(m, 0x44)] == [fp.f32_bits(2.0), fp.f32_bits(-4.0)]
    assert m.emitted[3:] == [(7, fp.f32_bits(2.5), 0), (7, fp.f32_bits(-3.0), 0)]


def test_fabric_16bit_input_ignores_high_half_and_two_reads_of_one_color_pair_up():
    m = make(main("vmov.f16 d2, d1\nvadd.i32 d4, d3, d3", """
        .dsr d1, fin.f16, 1, 2
        .dsr d2, mem.f16, 0, 2, 1
        .dsr d3, fin.i32, 2, 2
        .dsr d4, mem.i32, 8, 2, 1
    """), deliveries=[(1, 0xABCD3C00), (1, 0x0000C000), (2, 1), (2, 2), (2, 3), (2, 4)])
    assert [u16(m, 0), u16(m, 2)] == [0x3C00, 0xC000]
    assert [u32(m, 8), u32(m, 12)] == [3, 7]  # (1 + 2), (3 + 4): dA's wavelet first, then dB's


def test_synchronous_op_waits_for_fabric_input():
    src = main("vmov.i32 d2, d1\nli r3, 1", ".dsr d1, fin.i32, 4, 3\n.dsr d2, mem.i32, 0, 3, 1\n")
    m = make(src, deliveries=[(4, 11), (4, 22)])
    assert m.state == "waiting" and m.regs[3] == 0 and u32(m, 4) == 22
    m.deliver(4, 33)
    assert m.run() == "idle"
    assert [u32(m, 0), u32(m, 4), u32(m, 8)] == [11, 22, 33] and m.regs[3] == 1


# ---- tasks ------------------------------------------------------------------------------------

def test_priority_lowest_id_first():
    m = make("""
        .task 5, t5
        .task 2, t2
        .task 7, t7
        .task 1, t1
        .start 7
        .start 5
        .start 2
        t5: activate 1
            end
        t2: end
        t7: end
        t1: end
    """)
    assert m.task_activations == [2, 5, 1, 7]  # 1 is activated by 5 and overtakes the already pending 7


def test_block_and_unblock():
    src = """
        .task 0, t0
        .task 1, t1
        .task 2, t2, 3
        .start 0
        t0: activate 1
            block 1
            end
        t1: addi r9, r9, 1
            end
        t2: li r1, 1
            unblock r1
            end
    """
    m = make(src)
    assert m.task_activations == [0] and m.state == "idle"  # 1 is pending but blocked
    m.deliver(3, 0)
    assert m.run() == "idle"
    assert m.task_activations == [0, 2, 1] and m.regs[9] == 1


def test_blocked_data_task_keeps_its_wavelets():
    src = ".task 4, t4, 2\n.blocked 4\n.task 0, t0\nt4: addi r9, r9, 1\nend\nt0: unblock 4\nend\n"
    m = make(src, deliveries=[(2, 1), (2, 2)])
    assert m.task_activations == [] and m.input_queue(2) == [(1, 0), (2, 0)]
    m.pending[0] = True  # (test backdoor) let task 0 unblock it
    assert m.run() == "idle"
    assert m.task_activations == [0, 4, 4] and m.regs[9] == 2


def test_data_task_wavelet_in_r14_r15_one_wavelet_per_start():
    src = """
        .task 9, on_w, 3
        on_w: sw r15, 0(r10)
              sw r14, 4(r10)
              addi r10, r10, 8
              end
    """
    m = make(src, deliveries=[(3, 0x12345678, 0), (3, 0xCAFE, 1), (3, 7, 0)])
    assert m.task_activations == [9, 9, 9]
    info = 3 | 1 << 6 | 9 << 8
    assert [u32(m, a) for a in range(0, 24, 4)] == [0x12345678, info, 0xCAFE, info | 1 << 5, 7, info]
    assert m.start_log[1] == (9, info | 1 << 5, 0xCAFE)  # the control wavelet started the task too


def test_local_start_of_a_data_task_and_wavelet_first():
    src = """
        .task 0, t0
        .task 1, t1, 2
        .start 0
        t0: activate 1
            end
        t1: end
    """
    m = make(src, deliveries=[(2, 0xAA)])
    # 1 is both pending and wavelet-ready: the wavelet start comes first and leaves it pending.
    assert m.start_log == [(0, 0 << 8, 0), (1, 2 | 1 << 6 | 1 << 8, 0xAA), (1, 1 << 8, 0)]


def test_unbound_color_waits_and_bind_unbind_instructions():
    src = """
        .task 0, t0, 1
        .task 6, t6
        t0: bind 2, 6
            unbind 1
            end
        t6: addi r9, r9, 1
            end
    """
    m = make(src, deliveries=[(2, 1), (2, 2)])
    assert m.task_activations == [] and len(m.input_queue(2)) == 2
    m.deliver(1, 0)
    assert m.run() == "idle"
    assert m.task_activations == [0, 6, 6] and m.regs[9] == 2
    m.deliver(1, 0)  # color 1 is unbound now: the wavelet waits
    assert m.run() == "idle" and m.input_queue(1) == [(0, 0)]


def test_two_colors_bound_to_one_task_lowest_color_first():
    m = make(".task 3, t\n.bind 5, 3\n.bind 2, 3\nt: end\n", deliveries=[(5, 50), (2, 20)])
    assert [(r14 & 31, r15) for _, r14, r15 in m.start_log] == [(2, 20), (5, 50)]


# ---- asynchronous vector ops ------------------------------------------------------------------

def test_async_op_completion_activates_task_and_dsrs_are_latched():
    m = make("""
        .task 0, t0
        .task 3, t3
        .start 0
        .dsr d1, mem.i32, 0x100, 4, 1
        .dsr d2, mem.i32, 0, 4, 1
        .data 0x100
        .word 1, 2, 3, 4
        .text
        t0: vmov.i32 d2, d1, done=3
            dbase d2, r0, 0x40
            li r9, 5
            end
        t3: lw r8, 12(r0)
            end
    """)
    assert m.task_activations == [0, 3]
    assert [u32(m, 4 * i) for i in range(4)] == [1, 2, 3, 4] and u32(m, 0x40) == 0
    assert m.regs[8] == 4


def test_async_fabric_op_runs_beside_tasks_and_completes_later():
    src = """
        .task 0, t0
        .task 4, t4
        .task 1, t1, 6
        .start 0
        .dsr d1, fin.i32, 2, 3
        .dsr d2, mem.i32, 0, 3, 1
        t0: vmov.i32 d2, d1, done=4
            end
        t1: addi r9, r9, 1
            end
        t4: lw r8, 8(r0)
            end
    """
    m = make(src, deliveries=[(2, 10), (2, 20)])
    assert m.state == "waiting" and m.task_activations == [0]
    m.deliver(6, 0)  # another task runs while the micro-thread waits for its third element
    assert m.run() == "waiting" and m.task_activations == [0, 1]
    m.deliver(2, 30)
    assert m.run() == "idle"
    assert m.task_activations == [0, 1, 4] and m.regs[8] == 30


def test_no_free_micro_thread_stalls_the_issuer():
    src = """
        .task 0, t0
        .task 5, t5
        .start 0
        .dsr d1, fin.i32, 1, 1
        .dsr d2, fin.i32, 2, 1
        .dsr d3, fin.i32, 3, 1
        .dsr d4, mem.i32, 0, 1, 1
        .dsr d5, mem.i32, 4, 1, 1
        .dsr d6, mem.i32, 8, 1, 1
        t0: vmov.i32 d4, d1, done=5
            vmov.i32 d5, d2, done=5
            vmov.i32 d6, d3, done=5
            li r9, 1
            end
        t5: addi r8, r8, 1
            end
    """
    m = make(src, uthreads=2)
    assert m.state == "waiting" and m.regs[9] == 0 and m.instructions_retired == 2
    m.deliver(3, 33)  # the third op still cannot issue: both micro-threads wait on colors 1 and 2
    assert m.run() == "waiting" and m.regs[9] == 0
    m.deliver(2, 22)  # frees a micro-thread; the third op issues and finds its wavelet
    assert m.run() == "waiting" and m.regs[9] == 1 and u32(m, 8) == 33
    m.deliver(1, 11)
    assert m.run() == "idle"
    assert [u32(m, 0), u32(m, 4), u32(m, 8)] == [11, 22, 33]
    assert m.task_activations.count(5) >= 1 and m.regs[8] == m.task_activations.count(5)


def test_oldest_op_takes_the_wavelets_of_its_color_first():
    src = main("""
        vmov.i32 d2, d1, done=1
        vmov.i32 d3, d1
        end
    fin:
    """, ".task 1, fin\n.dsr d1, fin.i32, 1, 2\n.dsr d2, mem.i32, 0, 2, 1\n.dsr d3, mem.i32, 8, 2, 1\n")
    m = make(src, deliveries=[(1, v) for v in (1, 2, 3, 4)])
    assert [u32(m, a) for a in (0, 4, 8, 12)] == [1, 2, 3, 4]


def test_younger_op_waits_while_an_older_one_holds_its_color():
    # The async op needs colors 1 and 2 per element; the younger sync op reads color 2 only. With
    # only color 2 present the older op cannot move, and the younger must not take its wavelets.
    src = main("""
        vadd.i32 d3, d1, d2, done=1
        vmov.i32 d5, d4
        end
    fin:
    """, """
        .task 1, fin
        .dsr d1, fin.i32, 1, 2
        .dsr d2, fin.i32, 2, 2
        .dsr d3, mem.i32, 0, 2, 1
        .dsr d4, fin.i32, 2, 2
        .dsr d5, mem.i32, 8, 2, 1
    """)
    m = make(src, deliveries=[(2, v) for v in (10, 20, 30, 40)])
    assert m.state == "waiting" and len(m.input_queue(2)) == 4
    m.deliver(1, 1)
    m.deliver(1, 2)
    assert m.run() == "idle"
    assert [u32(m, a) for a in (0, 4, 8, 12)] == [11, 22, 30, 40]


# ---- errors -----------------------------------------------------------------------------------

def _raw(word):
    return f".word {word:#x}"


ERROR_CASES = [
    # (name, program body in task 0 (the failing line is marked "<-"), head, code)
    ("illegal_zero", ".word 0  ; <-", "", ErrorCode.ILLEGAL),
    ("illegal_reserved", ".word 0x1b  ; <-", "", ErrorCode.ILLEGAL),
    ("sram_range_lw", "li r1, 0x2000\nlw r2, 0(r1)  ; <-", "", ErrorCode.SRAM_RANGE),
    ("sram_range_sw_negative", "li r1, -4\nsw r2, 0(r1)  ; <-", "", ErrorCode.SRAM_RANGE),
    ("sram_range_dld", "li r1, 0x1ffc\ndld d1, 0(r1)  ; <-", "", ErrorCode.SRAM_RANGE),
    ("misaligned_lw", "li r1, 2\nlw r2, 0(r1)  ; <-", "", ErrorCode.MISALIGNED),
    ("misaligned_sh", "li r1, 3\nsh r2, 0(r1)  ; <-", "", ErrorCode.MISALIGNED),
    ("misaligned_dld", "li r1, 4\ndld d1, 0(r1)  ; <-", "", ErrorCode.MISALIGNED),
    ("misaligned_vector", "li r1, 2\nli r2, 4\nli r3, 1\ndmem.f32 d1, r1, r2, r3\nvfill.f32 d1, r0  ; <-", "",
     ErrorCode.MISALIGNED),
    ("dsr_kind_none", "vmov.f32 d1, d2  ; <-", ".dsr d1, mem.f32, 0, 1, 1", ErrorCode.DSR_KIND),
    ("dsr_kind_fout_acc", "fmacs.f32 d1, d2, r0  ; <-", ".dsr d1, fout.f32, 1, 1\n.dsr d2, mem.f32, 0, 1, 1",
     ErrorCode.DSR_KIND),
    ("dsr_kind_fin_dst", "vfill.f32 d1, r0  ; <-", ".dsr d1, fin.f32, 1, 1", ErrorCode.DSR_KIND),
    ("dsr_kind_fout_src", "vmov.f32 d1, d2  ; <-", ".dsr d1, mem.f32, 0, 1, 1\n.dsr d2, fout.f32, 1, 1",
     ErrorCode.DSR_KIND),
    ("dsr_kind_dbase_fabric", "dbase d1, r0, 0  ; <-", ".dsr d1, fin.f32, 1, 1", ErrorCode.DSR_KIND),
    ("dsr_kind_dlen_none", "dlen d1, r0, 1  ; <-", "", ErrorCode.DSR_KIND),
    ("dsr_type_acc", "fmacs.f32.f16 d1, d2, r0  ; <-", ".dsr d1, mem.f16, 0, 1, 1\n.dsr d2, mem.f16, 8, 1, 1",
     ErrorCode.DSR_TYPE),
    ("dsr_type_operand", "vadd.i32 d1, d2, d3  ; <-",
     ".dsr d1, mem.i32, 0, 1, 1\n.dsr d2, mem.i32, 8, 1, 1\n.dsr d3, mem.i16, 16, 1, 1", ErrorCode.DSR_TYPE),
    ("arg_range_send", "li r1, 8\nsend r0, r1  ; <-", "", ErrorCode.ARG_RANGE),
    ("arg_range_dmem_len", "li r2, 70000\ndmem.f32 d1, r0, r2, r0  ; <-", "", ErrorCode.ARG_RANGE),
    ("arg_range_dmem_stride", "li r3, -40000\ndmem.f32 d1, r0, r0, r3  ; <-", "", ErrorCode.ARG_RANGE),
    ("arg_range_dbase", "li r1, 0x10000\ndbase d1, r1, 0  ; <-", ".dsr d1, mem.f32, 0, 1, 1", ErrorCode.ARG_RANGE),
    ("arg_range_fabric_dsr", "li r1, 0x200\ndld d1, 0(r1)\nvfill.i32 d1, r0  ; <-",
     ".data 0x200\n.word 0x0001000f, 30", ErrorCode.ARG_RANGE),  # a FOUT i32 DSR of color 30 from memory
    ("task_range", "li r1, 40\nactivate r1  ; <-", "", ErrorCode.TASK),
    ("task_no_entry", "li r1, 6\nblock r1  ; <-", "", ErrorCode.TASK),
    ("task_bind_no_entry", _raw(encode_i(Opcode.BIND, 0, 0, 0, 1 | 6 << 8)) + "  ; <-", "", ErrorCode.TASK),
    ("task_done_no_entry", _raw(encode_r(Opcode.VFILL, 1, 0, 1, 0, 0, 1, 6)) + "  ; <-",
     ".dsr d1, mem.f32, 0, 1, 1", ErrorCode.TASK),
]


@pytest.mark.parametrize("body, head, code", [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES])
def test_error_codes_halt_with_status(body, head, code):
    src = main("li r9, 0\n" + body + "\nli r9, 1", head + "\n.task 1, other, 5")
    src += "other: li r8, 1\nend\n"
    image = assemble(src)
    failing_line = next(i for i, line in enumerate(src.splitlines(), start=1) if "<-" in line)
    failing_pc = max(pc for pc, line in image.source_lines.items() if line == failing_line)
    m = make(src, deliveries=[(5, 0)])
    assert m.state == "halted"
    assert (m.status.code, m.status.pc, m.status.task, m.status.halted, m.status.async_) == (
        code, failing_pc, 0, True, False)
    assert m.regs[9] == 0 and m.regs[8] == 0  # nothing after the error; no other task scheduled
    assert m.status.word() == code | 1 << 4 | failing_pc << 16
    assert m.input_queue(5) == [(0, 0)]
    m.deliver(5, 1)
    assert m.run() == "halted" and m.task_activations == [0]


def test_pc_range_on_jump_and_on_running_off_the_end():
    m = make(main("jal r0, 2000"))
    assert (m.status.code, m.status.pc, m.state) == (ErrorCode.PC_RANGE, 2000, "halted")
    m = make(".task 0, t\n.start 0\nt: nop\nnop\nnop\nnop\n", imem_words=4)
    assert (m.status.code, m.status.pc) == (ErrorCode.PC_RANGE, 4)
    assert m.instructions_retired == 4


def test_vector_element_error_keeps_earlier_elements():
    # 4 f32 elements from 0x1ff8: elements 0 and 1 fit, element 2 (0x2000) leaves the 8 KiB SRAM
    m = make(main("li r1, 0x1ff8\nli r2, 4\nli r3, 1\nli r5, 7\ndmem.i32 d1, r1, r2, r3\nvfill.i32 d1, r5"))
    assert m.status.code == ErrorCode.SRAM_RANGE and not m.status.async_
    assert u32(m, 0x1FF8) == 7 and u32(m, 0x1FFC) == 7


def test_async_element_error_reports_the_issuing_instruction():
    src = """
        .task 0, t0
        .task 2, t2
        .start 0
        t0: li r1, 0x1ffc
            li r2, 2
            li r3, 1
            dmem.i32 d1, r1, r2, r3
            vfill.i32 d1, r2, done=2
            end
        t2: end
    """
    m = make(src)
    vfill_line = next(i for i, line in enumerate(src.splitlines(), start=1) if "vfill" in line)
    issue_pc = next(pc for pc, line in assemble(src).source_lines.items() if line == vfill_line)
    assert (m.status.code, m.status.pc, m.status.task, m.status.async_) == (ErrorCode.SRAM_RANGE, issue_pc, 0, True)
    assert m.task_activations == [0] and u32(m, 0x1FFC) == 2  # element 0 was done, 2 never started


def test_instruction_budget():
    m = make(main("loop: j loop"), run=False)
    assert m.run(max_instructions=100) == "limit" and m.instructions_retired == 100


# ---- programs ---------------------------------------------------------------------------------

def _doc_example() -> str:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "isa.md").read_text()
    return re.search(r"```\n(\.equ M, 4.*?)```", doc, re.S).group(1)


def test_sparse_gemv_matches_reference_arithmetic():
    rng = random.Random(7)
    rows, cols = 8, 6

    def rand_f16():
        return rng.choice([fp.f16_bits(rng.uniform(-4, 4)), rng.randrange(0, 0x7C00) | rng.randrange(2) << 15])
    w = [[rand_f16() for _ in range(rows)] for _ in range(cols)]  # w[j][i], column-major in memory
    nonzeros = [(rng.randrange(cols), rand_f16()) for _ in range(12)]
    src = sparse_gemv_source(rows, words([v for col in w for v in col], 2))
    m = make(src, deliveries=[(3, j << 16 | v) for j, v in nonzeros] + [(3, 0, 1)])
    y = [0] * rows
    for j, v in nonzeros:
        y = [fp.fmac_f32_f16(y[i], w[j][i], v) for i in range(rows)]
    assert m.state == "idle" and m.status.code == 0
    assert [u32(m, 4 * i) for i in range(rows)] == y
    assert m.emitted == [(4, yi, 0) for yi in y]
    assert m.task_activations == [0] + [1] * (len(nonzeros) + 1)


def test_docs_example_runs():
    m = make(_doc_example(), deliveries=[(3, 1 << 16 | fp.f16_bits(2.0)), (3, fp.f16_bits(1.0)), (3, 0, 1)])
    # y = W[:, 1] * 2 + W[:, 0] * 1 with W[:, 0] = 1, 2, 3, 4 and W[:, 1] = 0.5, 0.25, -1, 8
    assert [p for _, p, _ in m.emitted] == [fp.f32_bits(v) for v in (2.0, 2.5, 1.0, 20.0)]


# ---- mesh --------------------------------------------------------------------------------------

def test_two_pe_mesh_exchange():
    """PE (0,0) streams a vector east; PE (0,1) adds a vector of its own and streams the sum back
    west; PE (0,0) collects it with an async op whose completion task signals on a third color to
    the east edge."""
    routes = MeshRoutes(1, 2, 8)
    routes.set((0, 0), 1, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    routes.set((0, 1), 1, ColorRoute.simple(mask_of("W"), mask_of("RAMP")))
    routes.set((0, 1), 2, ColorRoute.simple(mask_of("RAMP"), mask_of("W")))
    routes.set((0, 0), 2, ColorRoute.simple(mask_of("E"), mask_of("RAMP")))
    routes.set((0, 0), 3, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    routes.set((0, 1), 3, ColorRoute.simple(mask_of("W"), mask_of("E")))
    x = [fp.f32_bits(v) for v in (1.0, 2.5, -3.0, 0.125)]
    b = [fp.f32_bits(v) for v in (0.5, 0.5, 0.5, 0.5)]
    pe0 = assemble(f"""
        .task 0, t0
        .task 7, done
        .start 0
        .dsr d1, mem.f32, 0, 4, 1
        .dsr d2, fout.f32, 1, 4
        .dsr d3, fin.f32, 2, 4
        .dsr d4, mem.f32, 0x40, 4, 1
        .data 0
        {words(x, 4)}
        .text
        t0: vmov.f32 d4, d3, done=7
            vmov.f32 d2, d1
            end
        done: li r1, 0x6000  ; payload[1:0] = 0: no switch command
              send.c r1, 3
              end
    """)
    pe1 = assemble(f"""
        .task 0, t0
        .start 0
        .dsr d1, fin.f32, 1, 4
        .dsr d2, mem.f32, 0x80, 4, 1
        .dsr d3, fout.f32, 2, 4
        .data 0x80
        {words(b, 4)}
        .text
        t0: vadd.f32 d3, d1, d2
            end
    """)
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    mesh.load((0, 0), pe0)
    mesh.load((0, 1), pe1)
    assert mesh.run() == "quiescent"
    want = [fp.add_f32(p, q) for p, q in zip(x, b, strict=True)]
    assert [u32(mesh.pe[(0, 0)], 0x40 + 4 * i) for i in range(4)] == want
    assert mesh.edge_out[((0, 1), Port.E)] == [(3, 0x6000, 1)]
    assert mesh.states == {(0, 0): "idle", (0, 1): "idle"} and not mesh.drops
    assert mesh.pe[(0, 0)].task_activations == [0, 7]


def test_mesh_edge_injection():
    routes = MeshRoutes(1, 1, 8)
    routes.set((0, 0), 0, ColorRoute.simple(mask_of("W"), mask_of("RAMP")))
    routes.set((0, 0), 1, ColorRoute.simple(mask_of("RAMP"), mask_of("E")))
    img = assemble(".task 2, t, 0\nt: addi r15, r15, 1\nsend r15, 1\nend\n")
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    mesh.load((0, 0), img)
    for v in (10, 20):
        mesh.inject((0, 0), Port.W, 0, v)
    assert mesh.run() == "quiescent"
    assert mesh.edge_out[((0, 0), Port.E)] == [(1, 11, 0), (1, 21, 0)]


def test_mesh_switch_sequenced_readout():
    """Switch routes across rounds: every PE of a 1 x 3 row sends its value and an ADVANCE control
    wavelet on one color; position 0 takes the PE's own RAMP, position 1 forwards from the west.
    The east edge sees the PEs' values from east to west, each followed by its control wavelet,
    although the westernmost PE runs (and sends) first."""
    routes = MeshRoutes(1, 3, 8)
    for c in range(3):
        pos = [(mask_of("RAMP"), mask_of("E"))] + ([(mask_of("W"), mask_of("E"))] if c else [])
        routes.set((0, c), 4, ColorRoute(tuple(pos)))
    mesh = PEMeshModel(routes, **{k: PARAMS[k] for k in MODEL_KEYS})
    for c in range(3):
        mesh.load((0, c), assemble(f".task 0, t\n.start 0\nt: li r1, {100 + c}\nsend r1, 4\nli r1, 1\n"
                                   "send.c r1, 4\nend\n"))
    assert mesh.run() == "quiescent" and not mesh.stuck
    assert mesh.edge_out[((0, 2), Port.E)] == [(4, 102, 0), (4, 1, 1), (4, 101, 0), (4, 1, 1), (4, 100, 0), (4, 1, 1)]
