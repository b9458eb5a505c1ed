"""Directed PE programs, written from docs/isa.md: every instruction, task scheduling, asynchronous
ops, every error code. The golden PE model's directed tests (tests/test_pe_model.py) run them and
check the results against values written down by hand; the PE testbench (tests/test_pe.py)
replays every one on the RTL against the golden model. Stimulus only: nothing here predicts a
result.

A program is its assembly source and the wavelets queued on its PE's RAMP input before it runs,
each (color, payload) or (color, payload, ctrl). Programs run on the default ("small") PE
parameters unless they name others.

Interface
    directed_programs() -> [(name, source, deliveries)]
        every program below that runs on the default parameters, in a stable order under a stable
        name: the list the RTL replays. The golden model's tests run these and the few with other
        ``params`` (the RTL is built for the default ones)
    Program(source, deliveries=(), params=None)
        ``params``: PE parameters that differ from the default (the golden model's keywords)
    PROGRAMS: name -> Program              the fixed programs, named after what they exercise
    VectorProgram(insn, dst_type, dst, a_type, a, b=None, scalar=None)
        one vector instruction in task 0 over 8-element operands: dst at 0x000 (DSR d1), a at
        0x100 (d2), b at 0x200 (d3), ``scalar`` in r5; types are 0 f16, 1 f32, 2 i16, 3 i32
        (TNAME); ``.program`` is the Program
    VECTOR_PROGRAMS: name -> VectorProgram
    operand_kind_programs() -> {name: Program}
        one program per legal (vector opcode, destination kind, operand A kind, operand B kind,
        sync/async) of docs/isa.md: memory or fabric operands (FIN colors 1 and 2, FOUT color 3),
        4 i32/i16 elements, ``done=1`` for the asynchronous form
        "fmac.<mode>" / "fmacs.<mode>" for every mode of FMAC_MODES, "<op>.<type>" for every op of
        ELEMENTWISE_MNEMONICS and every type, "vcvt.<mode>" for both directions, and hand-value cases
        "<insn>-hand"
    FMAC_MODES: mode -> (accumulator type, operand type); DATA: type -> (a, b, bytes)
    ELEMENTWISE_MNEMONICS: the element-wise vector mnemonics VECTOR_PROGRAMS runs in every element
        type (a subset of hdl.isa.VECTOR_MNEMONICS)
    CVT_MODES: mode -> (destination type, source type)
    BIT_OPS: the i32 shift and logic mnemonics -> the scalar of their VectorProgram
    F16_EDGES, F32_EDGES, F32_TO_F16_BOUNDARIES
        edge-class patterns of each format (every class, both signs, NaNs with payloads) and the f32
        values at the f16 rounding boundaries, the operands of the vmax / vcvt edge programs
    ERROR_CASES: [(name, body, head, code)]
        a task-0 body whose line marked "<-" must halt the PE with ``code`` (hdl.isa.ErrorCode);
        error_program(body, head) -> Program puts it in its frame (task 1 bound to color 5 must
        never start)
    SPARSE_GEMV_ROWS, SPARSE_GEMV_W, SPARSE_GEMV_X
        the operands of PROGRAMS["sparse_gemv"]: W[j][i] (f16 bits, column-major) and the nonzeros
        [(j, f16 bits of x[j])] in arrival order
    main(body, head="") -> str    a program whose task 0 (pending at load) runs ``body`` and ends
    math_program(name, fmt, x, dsrs, y, scratch) -> str   a math routine over the patterns x at 0x000
    math_inputs(fmt, n, seed)     every edge class of the format, then random patterns
    words(bits, size) -> str      a .half (size 2) or .word (size 4) directive of bit patterns
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import NamedTuple

from golden import fp
from hdl.isa import ErrorCode, Opcode, encode_i, encode_r
from sdk.kernels import mathlib
from tb.programs import sparse_gemv_source

__all__ = ["directed_programs", "operand_kind_programs", "Program", "PROGRAMS", "VectorProgram", "VECTOR_PROGRAMS",
           "FMAC_MODES",
           "ELEMENTWISE_MNEMONICS", "BIT_OPS", "DATA", "TNAME", "ERROR_CASES", "error_program", "SPARSE_GEMV_ROWS",
           "SPARSE_GEMV_W", "SPARSE_GEMV_X", "main", "words", "math_program", "math_inputs"]

_ISA_DOC = Path(__file__).resolve().parents[1] / "docs" / "isa.md"


class Program(NamedTuple):
    source: str
    deliveries: tuple = ()
    params: dict | None = None


def main(body: str, head: str = "") -> str:
    """A program whose task 0 (pending at load) runs ``body`` and ends."""
    return f".task 0, main\n.start 0\n{head}\n.text\nmain:\n{body}\n    end\n"


def words(bits, size):
    """A .half/.word directive for a list of bit patterns."""
    return (".half " if size == 2 else ".word ") + ", ".join(hex(b) for b in bits)


# ---- vector operands: 8 elements per type, ordinary values first, then edge cases --------------

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
FMAC_MODES = {"f32.f16": (1, 0), "f32": (1, 1), "f16": (0, 0), "i32.i16": (3, 2)}
ELEMENTWISE_MNEMONICS = ("vadd", "vmul", "vadds", "vmuls", "vmov", "vfill", "vmax", "vmaxs")
CVT_MODES = {"f32.f16": (1, 0), "f16.f32": (0, 1)}
#: the i32 bit ops (vsh, vlogs) and the scalar of their VECTOR_PROGRAMS
BIT_OPS = {"vsll.i32": 35, "vsrl.i32": 35, "vsra.i32": 35, "vands.i32": 0x8000FFF0, "vors.i32": 0x7F800001,
           "vxors.i32": 0xFFFFFFFF}

# every class of each format, both signs: zeros, smallest / a middle / largest subnormal, smallest
# normal, ordinary values, largest finite, infinities, quiet and signalling NaNs with payloads
_F16_POS = [0x0000, 0x0001, 0x0155, 0x03FF, 0x0400, 0x3BFF, 0x3C00, 0x3C01, 0x4248, 0x7BFF, 0x7C00, 0x7E00,
            0x7C01, 0x7F3F]
F16_EDGES = _F16_POS + [h | 0x8000 for h in _F16_POS]
_F32_POS = [0x00000000, 0x00000001, 0x00400000, 0x007FFFFF, 0x00800000, 0x3F7FFFFF, 0x3F800000, 0x3F800001,
            0x477FE000, 0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x7F800001, 0x7FA5A5A5]
F32_EDGES = _F32_POS + [f | 0x80000000 for f in _F32_POS]


def _f32_boundaries() -> list[int]:
    """f32 values at every kind of f16 rounding boundary (docs/floating-point.md), both signs."""
    one = 0x3F800000
    f16_ulp_at_one = 1 << 13  # an f16 ulp of 1.0 in f32 fraction units
    pos = [
        one + f16_ulp_at_one // 2,  # 1 + 2**-11: a tie, to even 1.0
        one + f16_ulp_at_one // 2 - 1, one + f16_ulp_at_one // 2 + 1,  # below / above that tie
        one + 3 * f16_ulp_at_one // 2,  # 1 + 3 * 2**-11: a tie, to even 1 + 2**-9 (up)
        0x477FE000,  # 65504, the largest finite f16
        0x477FEFFF,  # just below 65520: 65504
        0x477FF000,  # 65520 = 65504 + ulp/2: a tie past the largest finite, inf
        0x47800000,  # 65536: inf
        0x7F7FFFFF,  # the largest f32: inf
        0x33800000,  # 2**-24, the smallest f16 subnormal
        0x33000000,  # 2**-25: a tie between 0 and 2**-24, to even 0
        0x33000001,  # just above 2**-25: 2**-24
        0x32FFFFFF,  # just below 2**-25: 0
        0x33C00000,  # 1.5 * 2**-24: a tie, to even 2 * 2**-24
        0x387FE000,  # 2**-14 - 2**-25: the tie between the largest subnormal and 2**-14, up (even)
        0x38800000,  # 2**-14, the smallest f16 normal
        0x00000001, 0x00800000,  # f32 subnormal / smallest normal: 0
        0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF,  # inf, NaNs
    ]
    return pos + [f | 0x80000000 for f in pos]


F32_TO_F16_BOUNDARIES = _f32_boundaries()


def _vector_source(insn, dst_type, dst, a_type, a, b=None, scalar=None):
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
    return main(f"li r5, {scalar or 0}\n{insn}", head)


class VectorProgram(NamedTuple):
    insn: str
    dst_type: int
    dst: list
    a_type: int
    a: list
    b: list | None = None
    scalar: int | None = None

    @property
    def program(self) -> Program:
        return Program(_vector_source(*self))


def _vector_programs() -> dict[str, VectorProgram]:
    progs = {}
    for mode, (acc_t, op_t) in FMAC_MODES.items():
        acc, a, b = DATA[acc_t][0], DATA[op_t][0], DATA[op_t][1]
        progs[f"fmac.{mode}"] = VectorProgram(f"fmac.{mode} d1, d2, d3", acc_t, acc, op_t, a, b)
        progs[f"fmacs.{mode}"] = VectorProgram(f"fmacs.{mode} d1, d2, r5", acc_t, acc, op_t, a, scalar=b[0])
    # f32 1.0 + f16 2 * f16 0.25 = 1.5; i32 10 + (-2) * 3 = 4; i32 0x7FFFFFFF + 1 * 1 wraps
    progs["fmacs.f32.f16-hand"] = VectorProgram("fmacs.f32.f16 d1, d2, r5", 1, [fp.f32_bits(1.0)] * 8, 0,
                                                [fp.f16_bits(2.0)] * 8, scalar=fp.f16_bits(0.25))
    progs["fmac.i32.i16-hand"] = VectorProgram("fmac.i32.i16 d1, d2, d3", 3, [10, 0x7FFFFFFF] + [0] * 6, 2,
                                               [0xFFFE, 1] + [0] * 6, [3, 1] + [0] * 6)
    for t, n in TNAME.items():
        a, b, _ = DATA[t]
        zeros = [0] * 8
        progs[f"vadd.{n}"] = VectorProgram(f"vadd.{n} d1, d2, d3", t, zeros, t, a, b)
        progs[f"vmul.{n}"] = VectorProgram(f"vmul.{n} d1, d2, d3", t, zeros, t, a, b)
        progs[f"vadds.{n}"] = VectorProgram(f"vadds.{n} d1, d2, r5", t, zeros, t, a, scalar=b[1])
        progs[f"vmuls.{n}"] = VectorProgram(f"vmuls.{n} d1, d2, r5", t, zeros, t, a, scalar=b[2])
        progs[f"vmov.{n}"] = VectorProgram(f"vmov.{n} d1, d2", t, zeros, t, a)
        progs[f"vfill.{n}"] = VectorProgram(f"vfill.{n} d1, r5", t, zeros, t, a, scalar=b[3])
        progs[f"vmax.{n}"] = VectorProgram(f"vmax.{n} d1, d2, d3", t, zeros, t, a, b)
        # the 16-bit scalars carry junk in r5[31:16] (ignored); f16's is +0: a ReLU, max(-0, +0) = +0
        scalar = {0: 0xFFFF0000, 1: b[4], 2: 0x5A5A0000 | b[4], 3: b[4]}[t]
        progs[f"vmaxs.{n}"] = VectorProgram(f"vmaxs.{n} d1, d2, r5", t, zeros, t, a, scalar=scalar)
    for mode, (dst_t, src_t) in CVT_MODES.items():
        progs[f"vcvt.{mode}"] = VectorProgram(f"vcvt.{mode} d1, d2", dst_t, [0] * 8, src_t, DATA[src_t][0])
    # the i32 bit ops: the shift amount is r5[4:0] (r5 = 35 shifts by 3; the junk above is ignored)
    for insn, scalar in BIT_OPS.items():
        progs[insn] = VectorProgram(f"{insn} d1, d2, r5", 3, [0] * 8, 3, I32, scalar=scalar)
    progs["vsra.i32-by-31"] = VectorProgram("vsra.i32 d1, d2, r5", 3, [0] * 8, 3, I32, scalar=31)
    progs["vsll.i32-by-0"] = VectorProgram("vsll.i32 d1, d2, r5", 3, [0] * 8, 3, I32, scalar=0xFFFFFFE0)
    return progs


VECTOR_PROGRAMS = _vector_programs()


# ---- every operand-kind combination of every vector opcode ------------------------------------

def operand_kind_programs() -> dict[str, Program]:
    """{"<insn>-<dest>-<a>-<b>-<sync|async>": Program} for every legal combination (docs/isa.md
    "Vector operations"): fmac accumulates in memory; FIN is a source kind, FOUT a destination.
    Both vcvt directions run every combination."""
    n = 4
    forms = {  # mnemonic -> (destination type, operand type, has A, B: "dsr" | "scalar" | None, fmac)
        "fmac.i32.i16": ("i32", "i16", True, "dsr", True), "fmacs.i32.i16": ("i32", "i16", True, "scalar", True),
        "vadd.i32": ("i32", "i32", True, "dsr", False), "vadds.i32": ("i32", "i32", True, "scalar", False),
        "vmul.i32": ("i32", "i32", True, "dsr", False), "vmuls.i32": ("i32", "i32", True, "scalar", False),
        "vmov.i32": ("i32", "i32", True, None, False), "vfill.i32": ("i32", "i32", False, None, False),
        "vmax.f32": ("f32", "f32", True, "dsr", False), "vmaxs.f16": ("f16", "f16", True, "scalar", False),
        "vcvt.f32.f16": ("f32", "f16", True, None, False), "vcvt.f16.f32": ("f16", "f32", True, None, False),
        "vsra.i32": ("i32", "i32", True, "scalar", False), "vxors.i32": ("i32", "i32", True, "scalar", False),
    }
    progs = {}
    for insn, (dtype, otype, has_a, b_form, fmac) in forms.items():
        for dest in (("mem",) if fmac else ("mem", "fout")):
            for a in (("mem", "fin") if has_a else ("none",)):
                for b in (("mem", "fin") if b_form == "dsr" else ("none",)):
                    for mode in ("sync", "async"):
                        head = [".task 1, fin" if mode == "async" else "",
                                f".dsr d1, mem.{dtype}, 0x000, {n}, 1" if dest == "mem"
                                else f".dsr d1, fout.{dtype}, 3, {n}"]
                        deliveries = []
                        for reg, kind, color, base in (("d2", a, 1, 0x100), ("d3", b, 2, 0x200)):
                            if kind == "mem":
                                head += [f".dsr {reg}, mem.{otype}, {base:#x}, {n}, 1", f".data {base:#x}",
                                         words(_kind_data(otype, color, n), 2 if otype in ("i16", "f16") else 4)]
                            elif kind == "fin":
                                head.append(f".dsr {reg}, fin.{otype}, {color}, {n}")
                                fin = (_kind_data(otype, color + 8, n) if otype in ("f16", "f32")
                                       else [5 * k + color for k in range(n)])
                                deliveries += [(color, v) for v in fin]
                        ops = ["d1"] + (["d2"] if has_a else []) + (["d3"] if b_form == "dsr" else [])
                        ops += ["r5"] if b_form == "scalar" or insn.startswith("vfill") else []
                        line = f"{insn} {', '.join(ops)}" + (", done=1" if mode == "async" else "")
                        src = main(f"    li r5, 7\n    {line}", "\n".join(head))
                        if mode == "async":
                            src += "fin: end\n"
                        progs[f"{insn}-{dest}-{a}-{b}-{mode}"] = Program(src, tuple(deliveries))
    return progs


def _kind_data(otype, salt, n):
    """Operand values of the operand-kind programs: small integers, or edge-class floats."""
    if otype in ("f16", "f32"):
        edges = F16_EDGES if otype == "f16" else F32_EDGES
        return [edges[(salt * 5 + 3 * k) % len(edges)] for k in range(n)]
    return [3 + k + salt for k in range(n)]


# ---- errors ------------------------------------------------------------------------------------

def _raw(word):
    return f".word {word:#x}"


ERROR_CASES = [
    # (name, program body in task 0 (the failing line is marked "<-"), head, code)
    ("illegal_zero", ".word 0  ; <-", "", ErrorCode.ILLEGAL),
    ("illegal_reserved", ".word 0x1d  ; <-", "", ErrorCode.ILLEGAL),
    ("illegal_vsh_mode_3", f"{_raw(encode_r(Opcode.VSH, a=1, b=2, m=3, c=5))}  ; <-",
     ".dsr d1, mem.i32, 0, 1, 1\n.dsr d2, mem.i32, 8, 1, 1", ErrorCode.ILLEGAL),
    ("illegal_vlogs_mode_3", f"{_raw(encode_r(Opcode.VLOGS, a=1, b=2, m=3, c=5))}  ; <-",
     ".dsr d1, mem.i32, 0, 1, 1\n.dsr d2, mem.i32, 8, 1, 1", ErrorCode.ILLEGAL),
    ("dsr_type_vsll_f32", "vsll.i32 d1, d2, r0  ; <-", ".dsr d1, mem.i32, 0, 1, 1\n.dsr d2, mem.f32, 8, 1, 1",
     ErrorCode.DSR_TYPE),
    ("dsr_kind_vands_fout_operand", "vands.i32 d1, d2, r0  ; <-",
     ".dsr d1, mem.i32, 0, 1, 1\n.dsr d2, fout.i32, 3, 1", ErrorCode.DSR_KIND),
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
    # vcvt's reserved modes 2 and 3: ILLEGAL, before the DSRs are looked at (d1, d2 are NONE)
    ("illegal_vcvt_mode2", _raw(encode_r(Opcode.VCVT, 1, 2, 2)) + "  ; <-", "", ErrorCode.ILLEGAL),
    ("illegal_vcvt_mode3_async", _raw(encode_r(Opcode.VCVT, 1, 2, 3, 0, 0, 1, 1)) + "  ; <-",
     ".dsr d1, mem.f32, 0, 1, 1\n.dsr d2, mem.f16, 8, 1, 1", ErrorCode.ILLEGAL),
    ("dsr_type_vcvt_source", "vcvt.f16.f32 d1, d2  ; <-", ".dsr d1, mem.f16, 0, 1, 1\n.dsr d2, mem.f16, 8, 1, 1",
     ErrorCode.DSR_TYPE),
    ("dsr_type_vcvt_dest", "vcvt.f32.f16 d1, d2  ; <-", ".dsr d1, mem.f16, 0, 1, 1\n.dsr d2, mem.f16, 8, 1, 1",
     ErrorCode.DSR_TYPE),
    ("dsr_kind_vcvt_fin_dest", "vcvt.f32.f16 d1, d2  ; <-", ".dsr d1, fin.f32, 1, 1\n.dsr d2, mem.f16, 8, 1, 1",
     ErrorCode.DSR_KIND),
    ("dsr_kind_vmax_fout_operand", "vmax.f32 d1, d2, d3  ; <-",
     ".dsr d1, mem.f32, 0, 1, 1\n.dsr d2, mem.f32, 8, 1, 1\n.dsr d3, fout.f32, 1, 1", ErrorCode.DSR_KIND),
    ("dsr_type_vmaxs", "vmaxs.f16 d1, d2, r0  ; <-", ".dsr d1, mem.f16, 0, 1, 1\n.dsr d2, mem.i16, 8, 1, 1",
     ErrorCode.DSR_TYPE),
    ("misaligned_vcvt_source", "li r1, 0x102\ndbase d2, r1, 0\nvcvt.f16.f32 d1, d2  ; <-",
     ".dsr d1, mem.f16, 0, 2, 1\n.dsr d2, mem.f32, 0x100, 2, 1", ErrorCode.MISALIGNED),
]


def error_program(body: str, head: str) -> Program:
    """``body`` between r9 := 0 and r9 := 1 in task 0; task 1 (color 5, one wavelet waiting) sets
    r8: after the error neither r9 nor r8 may change."""
    src = main("li r9, 0\n" + body + "\nli r9, 1", head + "\n.task 1, other, 5")
    src += "other: li r8, 1\nend\n"
    return Program(src, ((5, 0),))


# ---- the sparse GEMV of docs/isa.md on random f16 operands (zeros, subnormals, large values) ----

def _sparse_gemv_operands(seed=7, rows=8, cols=6, nonzeros=12):
    rng = random.Random(seed)

    def rand_f16():
        return rng.choice([fp.f16_bits(rng.uniform(-4, 4)), rng.randrange(0, 0x7C00) | rng.randrange(2) << 15])
    w = [[rand_f16() for _ in range(rows)] for _ in range(cols)]
    return w, [(rng.randrange(cols), rand_f16()) for _ in range(nonzeros)]


SPARSE_GEMV_ROWS = 8
SPARSE_GEMV_W, SPARSE_GEMV_X = _sparse_gemv_operands(rows=SPARSE_GEMV_ROWS)


def _doc_example() -> str:
    return re.search(r"```\n(\.equ M, 4.*?)```", _ISA_DOC.read_text(), re.S).group(1)


# ---- the inference ops: vmax over every class pair, vcvt at every rounding boundary -------------

def _vmax_class_pairs(t):
    """vmax.<t> over every (a, b) of the edge classes: 784 elements. f16: dst, a, b apart; f32 in
    place (dD = dA, allowed: an element is read before it is written)."""
    edges = F16_EDGES if t == "f16" else F32_EDGES
    a = [x for x in edges for _ in edges]
    b = [y for _ in edges for y in edges]
    n, size = len(a), 2 if t == "f16" else 4
    if t == "f16":
        head = (f".dsr d1, mem.f16, 0, {n}, 1\n.dsr d2, mem.f16, 0x700, {n}, 1\n.dsr d3, mem.f16, 0xe00, {n}, 1\n"
                f".data 0x700\n{words(a, size)}\n.data 0xe00\n{words(b, size)}")
        return main("vmax.f16 d1, d2, d3", head)
    head = (f".dsr d2, mem.f32, 0, {n}, 1\n.dsr d3, mem.f32, 0xc80, {n}, 1\n"
            f".data 0\n{words(a, size)}\n.data 0xc80\n{words(b, size)}")
    return main("vmax.f32 d2, d2, d3", head)


def _f16_sweep():
    """512 f16 patterns: every exponent field with several fractions, both signs."""
    return [(k * 0x80 + (k * 37) % 0x80) & 0xFFFF for k in range(512)]


def _cvt_programs() -> dict[str, Program]:
    rng = random.Random(16)
    # f32 values around the f16 range: every exponent from 2**-30 to 2**20 with random fractions
    rand32 = [rng.getrandbits(1) << 31 | rng.randint(97, 147) << 23 | rng.getrandbits(23) for _ in range(120)]
    narrow = F32_TO_F16_BOUNDARIES + F32_EDGES + rand32
    n = len(narrow)
    narrow_src = main(
        "vcvt.f16.f32 d1, d2\nvcvt.f32.f16 d3, d1",  # and back: the f16 results widen exactly
        f".dsr d1, mem.f16, 0, {n}, 1\n.dsr d2, mem.f32, 0x200, {n}, 1\n.dsr d3, mem.f32, 0x600, {n}, 1\n"
        f".data 0x200\n{words(narrow, 4)}")
    widen = F16_EDGES + _f16_sweep()
    m = len(widen)
    widen_src = main(
        f"vcvt.f32.f16 d1, d2\nli r1, {m}\ndfout.f32 d4, 2, r1\nvcvt.f32.f16 d4, d2, done=1\nend\nfin:",
        f".task 1, fin\n.dsr d1, mem.f32, 0x500, {m}, 1\n.dsr d2, mem.f16, 0, {m}, 1\n"
        f".data 0\n{words(widen, 2)}")
    return {"vcvt_f32_to_f16_boundaries_and_back": Program(narrow_src),
            "vcvt_f16_to_f32_classes_to_memory_and_fabric": Program(widen_src)}


# a small inference epilogue, docs/isa.md "Ordering": f32 accumulators through an async ReLU
# (vmaxs with +0) and an async narrowing to f16 that reads the ReLU's results, then an FOUT vmov of
# the f16 values, all issued back to back; a FIN -> FOUT conversion streams beside it, then odd
# strides and offsets: a narrowing written backwards to a half-row offset from every other source
# element, a 16-bit max from unaligned rows, an f32 max with stride 3, a widening of a reversed
# source
_EPILOGUE_ACC = [fp.f32_bits(v) for v in (1.5, -2.0, 0.0, -0.0, 1e-30, -1e30, 70000.0, 65519.0, 3.0e-8, -3.0e-8)] \
    + [0x7FC00001, 0xFF800000]
_STRIDE_F16 = [fp.f16_bits(v) for v in (0.5, -1.0, 2.0, -0.0, 0.0, 3.5, -7.0, 1e-7, 65504.0, -65504.0, 0.25, 5.0,
                                        -0.125, 9.0)]

_INFERENCE_PROGRAMS = {
    "vmax_f16_every_class_pair": Program(_vmax_class_pairs("f16")),
    "vmax_f32_every_class_pair": Program(_vmax_class_pairs("f32")),
    **_cvt_programs(),
    "relu_narrow_send_epilogue": Program(f"""
        .task 0, t0
        .start 0
        .task 1, e1
        .task 2, e2
        .task 3, e3
        .dsr d0, mem.f32, 0x100, 12, 1
        .dsr d1, mem.f16, 0x200, 12, 1
        .dsr d2, fout.f16, 4, 12
        .dsr d3, fin.f32, 1, 5
        .dsr d4, fout.f16, 6, 5, ctrl
        .data 0x100
        {words(_EPILOGUE_ACC, 4)}
        .text
        t0: vmaxs.f32 d0, d0, r0, done=1
            vcvt.f16.f32 d1, d0, done=2
            vmov.f16 d2, d1, done=3
            vcvt.f16.f32 d4, d3
            end
        e1: end
        e2: end
        e3: end
    """, tuple((1, v) for v in (fp.f32_bits(1.0), 0x477FF000, 0x33000001, 0xFF7FFFFF, 0x7F800001))),
    "vmax_vcvt_strides_and_offsets": Program(main("""
        vcvt.f16.f32 d1, d2
        vmax.f16 d3, d4, d5
        li r5, 0x3f800000
        vmaxs.f32 d6, d7, r5, done=1
        vcvt.f32.f16 d8, d9
        end
    fin:
    """, f"""
        .task 1, fin
        .dsr d1, mem.f16, 0x01a, 7, -1
        .dsr d2, mem.f32, 0x100, 7, 2
        .dsr d3, mem.f16, 0x402, 13, 1
        .dsr d4, mem.f16, 0x206, 13, 1
        .dsr d5, mem.f16, 0x302, 13, 1
        .dsr d6, mem.f32, 0x500, 5, 3
        .dsr d7, mem.f32, 0x100, 5, 3
        .dsr d8, mem.f32, 0x604, 9, 1
        .dsr d9, mem.f16, 0x21a, 9, -1
        .data 0x100
        {words(F32_TO_F16_BOUNDARIES[:16], 4)}
        .data 0x200
        {words(_STRIDE_F16 + F16_EDGES[:2], 2)}
        .data 0x300
        {words(F16_EDGES[14:], 2)}
    """)),
}


# ---- the fixed programs ------------------------------------------------------------------------

_F16_OUT = [fp.f16_bits(v) for v in (1.0, -0.5, 3.0)]

PROGRAMS: dict[str, Program] = {
    # scalar instructions: every ALU op on a sign-bit operand, r0 as a destination
    "alu_register_ops": Program(main("""
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
    """)),
    "alu_immediate_ops_and_r0": Program(main("""
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
    """)),
    # every taken branch skips an add into r5, every untaken one falls through to a branch to bad
    "branches_and_jumps": Program(main("""
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
    """)),
    "loads_and_stores": Program(main("""
        li r1, 0x100
        li r2, 0x8765abcd
        sw r2, 0(r1)
        sh r2, 8(r1)
        lw r3, 0(r1)
        lh r4, 8(r1)
        lhu r5, 8(r1)
        lh r6, 2(r1)
        lw r7, -4(r1)
    """, ".data 0xfc\n.word 0x11223344")),
    # DSR set-up; the data at 0x208 is a packed MEM f32 DSR: len 4, base 0x80, stride 1
    "dsr_setup_instructions": Program(main("""
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
    """, ".data 0x208\n.word 0x00040005, 0x00010080")),
    # d1: 4 f32 written backwards from 0x0C (stride -1); d2: every other f32 from 0x100 (stride 2);
    # d3: a fill of length 3 from a scalar whose high half is set
    "strides_and_scalar_width": Program(main("""
        li r5, 0xffff3c00
        vfill.f16 d3, r5
        vmov.f32 d1, d2
    """, """
        .dsr d1, mem.f32, 0x0c, 4, -1
        .dsr d2, mem.f32, 0x100, 4, 2
        .dsr d3, mem.f16, 0x200, 3, 1
        .data 0x100
        .word 1, 2, 3, 4, 5, 6, 7, 8
    """)),
    "zero_length_op_and_dsr_not_advanced": Program(main("li r5, 9\nli r6, 4\nvfill.i32 d1, r5\nvfill.i32 d2, r6",
                                                        ".dsr d1, mem.i32, 0, 0, 1\n.dsr d2, mem.i32, 8, 1, 1\n")),
    # fabric
    "send_data_and_control_wavelets": Program(main("""
        li r1, 0xdeadbeef
        li r2, 5
        send r1, 3
        send.c r1, r2
        send r2, r2+1
        send r0, r2-5
    """)),
    # three f16 (1.0, -0.5, 3.0) out on color 6 with ctrl; two f32 in on color 1 (2.0, -4.0) to
    # memory; their sum with two on color 2 (0.5, 1.0) out on color 7
    "vector_fabric_output_and_input": Program(main("""
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
        {words(_F16_OUT, 2)}
    """), ((1, fp.f32_bits(2.0)), (1, fp.f32_bits(-4.0)), (2, fp.f32_bits(0.5)), (2, fp.f32_bits(1.0)))),
    "fabric_16bit_input_and_two_reads_of_one_color": Program(main("vmov.f16 d2, d1\nvadd.i32 d4, d3, d3", """
        .dsr d1, fin.f16, 1, 2
        .dsr d2, mem.f16, 0, 2, 1
        .dsr d3, fin.i32, 2, 2
        .dsr d4, mem.i32, 8, 2, 1
    """), ((1, 0xABCD3C00), (1, 0x0000C000), (2, 1), (2, 2), (2, 3), (2, 4))),
    # two of the three wavelets the op needs: the PE waits with the task still running
    "synchronous_op_waits_for_fabric_input": Program(
        main("vmov.i32 d2, d1\nli r3, 1", ".dsr d1, fin.i32, 4, 3\n.dsr d2, mem.i32, 0, 3, 1\n"), ((4, 11), (4, 22))),
    # tasks: 5 activates 1, which overtakes the already pending 7
    "priority_lowest_id_first": Program("""
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
    """),
    # t0 leaves task 1 pending but blocked; a wavelet on color 3 (none here) would start t2, which
    # unblocks it
    "block_and_unblock": Program("""
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
    """),
    "blocked_data_task_keeps_its_wavelets": Program(
        ".task 4, t4, 2\n.blocked 4\n.task 0, t0\nt4: addi r9, r9, 1\nend\nt0: unblock 4\nend\n", ((2, 1), (2, 2))),
    # the middle wavelet is a control wavelet: it starts the task too
    "data_task_wavelet_in_r14_r15": Program("""
        .task 9, on_w, 3
        on_w: sw r15, 0(r10)
              sw r14, 4(r10)
              addi r10, r10, 8
              end
    """, ((3, 0x12345678, 0), (3, 0xCAFE, 1), (3, 7, 0))),
    # task 1 both activated locally and wavelet-ready
    "local_start_of_a_data_task_and_wavelet_first": Program("""
        .task 0, t0
        .task 1, t1, 2
        .start 0
        t0: activate 1
            end
        t1: end
    """, ((2, 0xAA),)),
    # color 2 is bound only once a wavelet on color 1 has run task 0
    "unbound_color_waits_and_bind_unbind": Program("""
        .task 0, t0, 1
        .task 6, t6
        t0: bind 2, 6
            unbind 1
            end
        t6: addi r9, r9, 1
            end
    """, ((2, 1), (2, 2))),
    "two_colors_bound_to_one_task": Program(".task 3, t\n.bind 5, 3\n.bind 2, 3\nt: end\n", ((5, 50), (2, 20))),
    # asynchronous ops: the DSRs are latched at issue (dbase after the op does not move it)
    "async_op_completion_and_latched_dsrs": Program("""
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
    """),
    # two of the three wavelets the async op needs
    "async_fabric_op_beside_tasks": Program("""
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
    """, ((2, 10), (2, 20))),
    # three async ops waiting for fabric input on a PE with two micro-threads
    "no_free_micro_thread": Program("""
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
    """, params={"uthreads": 2}),
    "oldest_op_takes_the_wavelets_of_its_color_first": Program(main("""
        vmov.i32 d2, d1, done=1
        vmov.i32 d3, d1
        end
    fin:
    """, ".task 1, fin\n.dsr d1, fin.i32, 1, 2\n.dsr d2, mem.i32, 0, 2, 1\n.dsr d3, mem.i32, 8, 2, 1\n"),
        ((1, 1), (1, 2), (1, 3), (1, 4))),
    # the async op needs colors 1 and 2 per element, the younger sync op color 2 only; only color 2
    # is delivered
    "younger_op_waits_while_an_older_one_holds_its_color": Program(main("""
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
    """), ((2, 10), (2, 20), (2, 30), (2, 40))),
    # errors beyond ERROR_CASES
    "pc_range_on_jump": Program(main("jal r0, 2000")),
    "pc_range_off_the_end": Program(".task 0, t\n.start 0\nt: nop\nnop\nnop\nnop\n", params={"imem_words": 4}),
    # 4 f32 elements from 0x1ff8: elements 0 and 1 fit, element 2 (0x2000) leaves the 8 KiB SRAM
    "vector_element_error": Program(
        main("li r1, 0x1ff8\nli r2, 4\nli r3, 1\nli r5, 7\ndmem.i32 d1, r1, r2, r3\nvfill.i32 d1, r5")),
    # the async fill's element 1 leaves the SRAM
    "async_element_error": Program("""
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
    """),
    "endless_loop": Program(main("loop: j loop")),
    # programs
    "sparse_gemv": Program(
        sparse_gemv_source(SPARSE_GEMV_ROWS, words([v for col in SPARSE_GEMV_W for v in col], 2)),
        tuple((3, j << 16 | v) for j, v in SPARSE_GEMV_X) + ((3, 0, 1),)),
    # x[1] = 2 and x[0] = 1 arrive, then the control wavelet that sends y
    "docs_example": Program(_doc_example(), ((3, 1 << 16 | fp.f16_bits(2.0)), (3, fp.f16_bits(1.0)), (3, 0, 1))),
    **_INFERENCE_PROGRAMS,
}


# ---- the math library's routines (tests/test_mathlib.py, tests/test_pe.py) ------------------------

def math_program(name, fmt, x, dsrs=("d10", "d11", "d12", "d13", "d14", "d15"), y=0x100, scratch=0x200):
    """A task-0 program running the math routine (sdk/kernels/mathlib.py) over x (at 0x000) into y."""
    lines = mathlib.emit(name, len(x), 0x000, y, scratch, fmt, dsrs=dsrs)
    directive = ".half" if fmt == "f16" else ".word"
    return (".task 0, m\n.start 0\n.data 0\n" + f"{directive} " + ", ".join(hex(int(v)) for v in x)
            + "\n.text\nm:\n" + "\n".join(f"    {ln}" for ln in lines) + "\n    end\n")


def math_inputs(fmt, n, seed):
    """Every edge class of the format, then random patterns: n elements (a numpy array)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    edges = F16_EDGES if fmt == "f16" else F32_EDGES
    extra = rng.integers(0, 1 << (16 if fmt == "f16" else 32), n - len(edges))
    return np.concatenate([np.array(edges), extra]).astype(np.uint16 if fmt == "f16" else np.uint32)


def directed_programs() -> list[tuple[str, str, list]]:
    """(name, source, deliveries) of every directed program that runs on the default parameters."""
    every = [*PROGRAMS.items(), *((f"vector_{k}", v.program) for k, v in VECTOR_PROGRAMS.items()),
             *((f"error_{name}", error_program(body, head)) for name, body, head, _ in ERROR_CASES)]
    return [(name, p.source, list(p.deliveries)) for name, p in every if not p.params]
