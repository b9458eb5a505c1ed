"""Tessera PE instruction set: encodings, field layouts and encode/decode helpers (no RTL logic).

Role
----
The single source of the PE's binary formats for the RTL decoder, the assembler (``sdk/asm.py``)
and the disassembler. ``docs/isa.md`` is the specification in prose; the golden instruction-level
model (``golden/pe_model.py``) deliberately does NOT import this module and decodes words with its
own tables written from the document (``tests/test_pe_model.py`` checks the two agree).

Instruction word (32 bits, LSB first). Every instruction has the same fixed fields; the upper
half is either one 16-bit immediate (I layout) or more register fields (R layout)::

    [5:0]   op    opcode (Opcode)
    [9:6]   a     rd / value register / destination DSR
    [13:10] b     ra / base or index register / source DSR a
    [15:14] m     mode: element type, fmac mode, vcvt direction, shift or logic function, SEND ctrl
                  flag, BIND/UNBIND
    I layout:  [31:16] imm   16-bit immediate (sign- or zero-extended per opcode)
    R layout:  [19:16] c     rb / source DSR b / scalar register
               [23:20] d     fourth register (DMEM stride)
               [24]    x     async: run the vector op on a micro-thread
               [29:25] t     task activated when the async op completes
               [31:30] reserved (write 0, ignored)

Interface
---------
Constants   INSN_BITS, NUM_GPRS, NUM_DSRS, NUM_TASKS, DSR_BITS, PC_BITS, TASK_BITS, pe_params(profile)
Enums       Opcode, Fmt, DsrKind, ElemType, FmacMode, CvtMode, ShiftMode, LogicMode, ErrorCode
Layouts     InsnI, InsnR, Insn (union), BindImm, FabImm, Dsr, Status, StartInfo
            (``amaranth.lib.data`` layouts the RTL uses for decode, DSR storage and status)
Tables      FORMAT[op] -> Fmt; RESERVED_OPCODES; VECTOR_OPS (the vector opcodes); FORMS /
            FORM_BY_MNEMONIC / form_of(op, m): the assembler's mnemonics (Form: mnemonic, opcode, m,
            operand kinds); VECTOR_MNEMONICS: the mnemonics of VECTOR_OPS without their suffix
            ("vadd", "vsll", ...); ELEM_SIZE;
            ACC_TYPE / OPND_TYPE / FMAC_SUFFIX per fmac mode; CVT_DST_TYPE / CVT_SRC_TYPE /
            CVT_SUFFIX per vcvt mode; TYPE_SUFFIX; SHIFT_MNEMONIC / LOGIC_MNEMONIC per vsh / vlogs mode
Helpers     encode_i(...), encode_r(...), fields(word) -> dict, sext16(x),
            pack_dsr(...), unpack_dsr(word) -> dict, pack_status(...), pack_start_info(...)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from amaranth.lib import data

from .packing import Packer
from .profiles import get_profile

__all__ = [
    "INSN_BITS", "NUM_GPRS", "NUM_DSRS", "NUM_TASKS", "DSR_BITS", "PC_BITS", "TASK_BITS", "pe_params",
    "RESERVED_OPCODES", "VECTOR_OPS", "FMAC_SUFFIX", "TYPE_SUFFIX", "CVT_SUFFIX", "CVT_DST_TYPE", "CVT_SRC_TYPE",
    "SHIFT_MNEMONIC", "LOGIC_MNEMONIC", "ShiftMode", "LogicMode",
    "Opcode", "Fmt", "DsrKind", "ElemType", "FmacMode", "CvtMode", "ErrorCode",
    "InsnI", "InsnR", "Insn", "BindImm", "FabImm", "Dsr", "Status", "StartInfo",
    "FORMAT", "Form", "FORMS", "FORM_BY_MNEMONIC", "VECTOR_MNEMONICS", "form_of", "ELEM_SIZE", "ACC_TYPE", "OPND_TYPE",
    "encode_i", "encode_r", "fields", "sext16", "pack_dsr", "unpack_dsr", "pack_status", "unpack_status",
    "pack_start_info",
]

INSN_BITS = 32
NUM_GPRS = 16  # r0 reads as zero, writes to it are discarded
NUM_DSRS = 16
NUM_TASKS = 32
DSR_BITS = 64
PC_BITS = 16  # the PC register; fetches at PC >= imem_words raise PC_RANGE
TASK_BITS = (NUM_TASKS - 1).bit_length()  # a task ID

def pe_params(profile="small") -> dict:
    """The PE parameters of a profile (hdl/profiles.py), as keyword arguments for the golden model."""
    p = get_profile(profile)
    return {"sram_kib": p.sram_kib, "sram_banks": p.sram_banks, "simd_f16": p.simd_f16,
            "colors": p.colors, "imem_words": p.imem_words, "uthreads": p.uthreads}


class Opcode(enum.IntEnum):
    """6-bit opcodes. ALU ops keep their function in op[3:0]; vector ops 0x30..0x37 in op[2:0]."""
    ILLEGAL = 0x00  # the all-zero word traps (runaway PCs land in zero-filled imem)
    NOP = 0x01
    END = 0x02
    SEND = 0x03
    ACTIVATE = 0x04
    BLOCK = 0x05
    UNBLOCK = 0x06
    BIND = 0x07  # m[0] = 0 bind, 1 unbind
    JAL = 0x08
    JALR = 0x09
    BEQ = 0x0A
    BNE = 0x0B
    BLT = 0x0C
    BGE = 0x0D
    BLTU = 0x0E
    BGEU = 0x0F
    ADD = 0x10
    SUB = 0x11
    AND = 0x12
    OR = 0x13
    XOR = 0x14
    SLL = 0x15
    SRL = 0x16
    SRA = 0x17
    SLT = 0x18
    SLTU = 0x19
    MUL = 0x1A
    VSH = 0x1B  # vsll/vsrl/vsra.i32 dD, dA, rS: m = ShiftMode (3 reserved)
    VLOGS = 0x1C  # vands/vors/vxors.i32 dD, dA, rS: m = LogicMode (3 reserved)
    ADDI = 0x20
    LUI = 0x21
    ANDI = 0x22
    ORI = 0x23
    XORI = 0x24
    SLLI = 0x25
    SRLI = 0x26
    SRAI = 0x27
    SLTI = 0x28
    SLTIU = 0x29
    LW = 0x2A
    LH = 0x2B
    LHU = 0x2C
    SW = 0x2D
    SH = 0x2E
    DLD = 0x2F
    FMAC = 0x30
    FMACS = 0x31
    VADD = 0x32
    VADDS = 0x33
    VMUL = 0x34
    VMULS = 0x35
    VMOV = 0x36
    VFILL = 0x37
    DMEM = 0x38
    DFIN = 0x39
    DFOUT = 0x3A
    DBASE = 0x3B
    DLEN = 0x3C
    VCVT = 0x3D  # m = CvtMode; m = 2, 3 are reserved (ILLEGAL)
    VMAX = 0x3E  # op[0] = 0: operand B is a DSR ...
    VMAXS = 0x3F  # ... op[0] = 1: the scalar R[c], as for 0x30..0x37


RESERVED_OPCODES = frozenset(range(64)) - {int(o) for o in Opcode if o != Opcode.ILLEGAL}


class Fmt(enum.Enum):
    N = "N"  # opcode only
    I = "I"  # noqa: E741 - op, a, b, m, imm16
    R = "R"  # op, a, b, m, c, d, x, t


_R_OPS = {Opcode.ADD, Opcode.SUB, Opcode.AND, Opcode.OR, Opcode.XOR, Opcode.SLL, Opcode.SRL, Opcode.SRA,
          Opcode.SLT, Opcode.SLTU, Opcode.MUL, Opcode.FMAC, Opcode.FMACS, Opcode.VADD, Opcode.VADDS,
          Opcode.VMUL, Opcode.VMULS, Opcode.VMOV, Opcode.VFILL, Opcode.DMEM, Opcode.VCVT, Opcode.VMAX, Opcode.VMAXS,
          Opcode.VSH, Opcode.VLOGS}
_N_OPS = {Opcode.ILLEGAL, Opcode.NOP, Opcode.END}
FORMAT = {op: Fmt.N if op in _N_OPS else Fmt.R if op in _R_OPS else Fmt.I for op in Opcode}
VECTOR_OPS = (frozenset(range(Opcode.FMAC, Opcode.VFILL + 1))
              | {Opcode.VCVT, Opcode.VMAX, Opcode.VMAXS, Opcode.VSH, Opcode.VLOGS})


class DsrKind(enum.IntEnum):
    NONE = 0  # reset value; using it in a vector op raises DSR_KIND
    MEM = 1
    FIN = 2  # fabric input: elements arrive as wavelets on RAMP
    FOUT = 3  # fabric output: each element leaves as one wavelet


class ElemType(enum.IntEnum):
    F16 = 0
    F32 = 1
    I16 = 2
    I32 = 3


ELEM_SIZE = {ElemType.F16: 2, ElemType.F32: 4, ElemType.I16: 2, ElemType.I32: 4}


class FmacMode(enum.IntEnum):
    """fmac/fmacs m field: accumulator type <- accumulator + operand * operand."""
    F32_F16 = 0  # f32 += f16 * f16 (GEMM mode)
    F32 = 1  # f32 += f32 * f32
    F16 = 2  # f16 += f16 * f16
    I32_I16 = 3  # i32 += i16 * i16 (wraps)


ACC_TYPE = {FmacMode.F32_F16: ElemType.F32, FmacMode.F32: ElemType.F32, FmacMode.F16: ElemType.F16,
            FmacMode.I32_I16: ElemType.I32}
OPND_TYPE = {FmacMode.F32_F16: ElemType.F16, FmacMode.F32: ElemType.F32, FmacMode.F16: ElemType.F16,
             FmacMode.I32_I16: ElemType.I16}
FMAC_SUFFIX = {FmacMode.F32_F16: "f32.f16", FmacMode.F32: "f32", FmacMode.F16: "f16", FmacMode.I32_I16: "i32.i16"}
TYPE_SUFFIX = {ElemType.F16: "f16", ElemType.F32: "f32", ElemType.I16: "i16", ElemType.I32: "i32"}


class CvtMode(enum.IntEnum):
    """vcvt m field: destination type <- source type (m = 2, 3 are reserved: ILLEGAL)."""
    F32_F16 = 0  # f32 <- f16, exact
    F16_F32 = 1  # f16 <- f32, round to nearest even


CVT_DST_TYPE = {CvtMode.F32_F16: ElemType.F32, CvtMode.F16_F32: ElemType.F16}
CVT_SRC_TYPE = {CvtMode.F32_F16: ElemType.F16, CvtMode.F16_F32: ElemType.F32}
CVT_SUFFIX = {CvtMode.F32_F16: "f32.f16", CvtMode.F16_F32: "f16.f32"}


class ShiftMode(enum.IntEnum):
    """vsh m field: the shift of every i32 element by rS[4:0] (m = 3 is reserved: ILLEGAL)."""
    SLL = 0  # logical left
    SRL = 1  # logical right
    SRA = 2  # arithmetic right


class LogicMode(enum.IntEnum):
    """vlogs m field: the bitwise function of every i32 element with rS (m = 3 is reserved: ILLEGAL)."""
    AND = 0
    OR = 1
    XOR = 2


SHIFT_MNEMONIC = {ShiftMode.SLL: "vsll.i32", ShiftMode.SRL: "vsrl.i32", ShiftMode.SRA: "vsra.i32"}
LOGIC_MNEMONIC = {LogicMode.AND: "vands.i32", LogicMode.OR: "vors.i32", LogicMode.XOR: "vxors.i32"}


class ErrorCode(enum.IntEnum):
    """Sticky status code; any nonzero code halts the PE (docs/isa.md "Errors")."""
    NONE = 0
    ILLEGAL = 1  # reserved opcode (including the all-zero word)
    PC_RANGE = 2  # fetch from PC >= imem_words
    SRAM_RANGE = 3  # scalar, DLD or vector-element access not wholly inside the SRAM
    MISALIGNED = 4  # address not a multiple of the access size
    DSR_KIND = 5  # DSR of the wrong kind for its role (or DBASE on a non-memory DSR, DLEN on NONE)
    DSR_TYPE = 6  # DSR element type does not match the instruction's mode
    ARG_RANGE = 7  # color >= colors, or a value that does not fit a DSR field
    TASK = 8  # task ID >= 32, or a task with no entry point


# ---- layouts (the RTL uses these; LSB first) ----------------------------------------------------

InsnI = data.StructLayout({"op": 6, "a": 4, "b": 4, "m": 2, "imm": 16})
InsnR = data.StructLayout({"op": 6, "a": 4, "b": 4, "m": 2, "c": 4, "d": 4, "x": 1, "t": 5, "rsv": 2})
Insn = data.UnionLayout({"i": InsnI, "r": InsnR})
#: BIND's immediate
BindImm = data.StructLayout({"color": 5, "rsv0": 3, "task": 5, "rsv1": 3})
#: DFIN/DFOUT's immediate
FabImm = data.StructLayout({"color": 5, "ctrl": 1, "rsv": 10})

_DsrTarget = data.UnionLayout({
    "mem": data.StructLayout({"base": 16, "stride": 16}),  # byte address; stride in elements, signed
    "fab": data.StructLayout({"color": 5, "ctrl": 1, "rsv": 26}),
})
#: A packed 64-bit DSR: the DSR file's entry and DLD's memory format (two little-endian words).
Dsr = data.StructLayout({"kind": 2, "type": 2, "rsv": 12, "length": 16, "target": _DsrTarget})

#: The PE's sticky status word.
Status = data.StructLayout({"code": 4, "halted": 1, "async_": 1, "task": 5, "rsv": 5, "pc": 16})
#: r14 at task start (r15 = the wavelet's payload, or 0).
StartInfo = data.StructLayout({"color": 5, "ctrl": 1, "wavelet": 1, "rsv0": 1, "task": 5, "rsv1": 19})


# ---- assembler forms ------------------------------------------------------------------------
# Operand kinds (the assembler parses them, the disassembler prints them):
#   gpr_a..gpr_d     a GPR in field a/b/c/d        dsr_a..dsr_c   a DSR in field a/b/c
#   simm/uimm/shamt  imm16 signed / unsigned / 0..31
#   pcrel            a target PC; imm = target - the instruction's own PC
#   mem              offset(register): imm + field b
#   idx_color        color as register+offset: field b + imm (SEND); idx_task likewise (task ops)
#   color5           imm[4:0] = a color; task_bind = imm[12:8] (BIND)
#   ctrl             optional trailing flag "ctrl" (imm[5] of DFOUT)
#   done             optional trailing "done=T": async (x = 1, t = T)


@dataclass(frozen=True)
class Form:
    mnemonic: str
    opcode: Opcode
    m: int | None  # the m value the mnemonic implies (None: m is not part of this instruction)
    operands: tuple[str, ...]


def _forms() -> list[Form]:
    o = Opcode
    f = [Form("nop", o.NOP, None, ()), Form("end", o.END, None, ()),
         Form("send", o.SEND, 0, ("gpr_a", "idx_color")), Form("send.c", o.SEND, 1, ("gpr_a", "idx_color")),
         Form("activate", o.ACTIVATE, None, ("idx_task",)), Form("block", o.BLOCK, None, ("idx_task",)),
         Form("unblock", o.UNBLOCK, None, ("idx_task",)),
         Form("bind", o.BIND, 0, ("color5", "task_bind")), Form("unbind", o.BIND, 1, ("color5",)),
         Form("jal", o.JAL, None, ("gpr_a", "pcrel")), Form("jalr", o.JALR, None, ("gpr_a", "gpr_b", "simm"))]
    for op in (o.BEQ, o.BNE, o.BLT, o.BGE, o.BLTU, o.BGEU):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "gpr_b", "pcrel")))
    for op in (o.ADD, o.SUB, o.AND, o.OR, o.XOR, o.SLL, o.SRL, o.SRA, o.SLT, o.SLTU, o.MUL):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "gpr_b", "gpr_c")))
    for op in (o.ADDI, o.SLTI, o.SLTIU):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "gpr_b", "simm")))
    for op in (o.ANDI, o.ORI, o.XORI):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "gpr_b", "uimm")))
    for op in (o.SLLI, o.SRLI, o.SRAI):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "gpr_b", "shamt")))
    f.append(Form("lui", o.LUI, None, ("gpr_a", "uimm")))
    for op in (o.LW, o.LH, o.LHU):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "mem")))
    for op in (o.SW, o.SH):
        f.append(Form(op.name.lower(), op, None, ("gpr_a", "mem")))
    f.append(Form("dld", o.DLD, None, ("dsr_a", "mem")))
    for mode, sfx in FMAC_SUFFIX.items():
        f.append(Form(f"fmac.{sfx}", o.FMAC, mode, ("dsr_a", "dsr_b", "dsr_c", "done")))
        f.append(Form(f"fmacs.{sfx}", o.FMACS, mode, ("dsr_a", "dsr_b", "gpr_c", "done")))
    for t, sfx in TYPE_SUFFIX.items():
        f += [Form(f"vadd.{sfx}", o.VADD, t, ("dsr_a", "dsr_b", "dsr_c", "done")),
              Form(f"vadds.{sfx}", o.VADDS, t, ("dsr_a", "dsr_b", "gpr_c", "done")),
              Form(f"vmul.{sfx}", o.VMUL, t, ("dsr_a", "dsr_b", "dsr_c", "done")),
              Form(f"vmuls.{sfx}", o.VMULS, t, ("dsr_a", "dsr_b", "gpr_c", "done")),
              Form(f"vmov.{sfx}", o.VMOV, t, ("dsr_a", "dsr_b", "done")),
              Form(f"vfill.{sfx}", o.VFILL, t, ("dsr_a", "gpr_c", "done")),
              Form(f"vmax.{sfx}", o.VMAX, t, ("dsr_a", "dsr_b", "dsr_c", "done")),
              Form(f"vmaxs.{sfx}", o.VMAXS, t, ("dsr_a", "dsr_b", "gpr_c", "done")),
              Form(f"dmem.{sfx}", o.DMEM, t, ("dsr_a", "gpr_b", "gpr_c", "gpr_d")),
              Form(f"dfin.{sfx}", o.DFIN, t, ("dsr_a", "color5", "gpr_b")),
              Form(f"dfout.{sfx}", o.DFOUT, t, ("dsr_a", "color5", "gpr_b", "ctrl"))]
    for mode, sfx in CVT_SUFFIX.items():
        f.append(Form(f"vcvt.{sfx}", o.VCVT, mode, ("dsr_a", "dsr_b", "done")))
    for mode, mn in SHIFT_MNEMONIC.items():
        f.append(Form(mn, o.VSH, mode, ("dsr_a", "dsr_b", "gpr_c", "done")))
    for mode, mn in LOGIC_MNEMONIC.items():
        f.append(Form(mn, o.VLOGS, mode, ("dsr_a", "dsr_b", "gpr_c", "done")))
    f += [Form("dbase", o.DBASE, None, ("dsr_a", "gpr_b", "simm")),
          Form("dlen", o.DLEN, None, ("dsr_a", "gpr_b", "simm"))]
    return f


FORMS: tuple[Form, ...] = tuple(_forms())
FORM_BY_MNEMONIC = {f.mnemonic: f for f in FORMS}
#: the mnemonics of the vector ops (VECTOR_OPS) without their type or mode suffix: "vadd", "vsll", ...
VECTOR_MNEMONICS = frozenset(f.mnemonic.split(".")[0] for f in FORMS if f.opcode in VECTOR_OPS)
_FORM_BY_CODE = {(f.opcode, f.m): f for f in FORMS}


def form_of(op: int, m: int) -> Form | None:
    """The assembler form that disassembles (op, m); None for reserved opcodes."""
    if op == Opcode.BIND or op == Opcode.SEND:
        m &= 1  # m[1] is ignored by these
    return _FORM_BY_CODE.get((op, m)) or _FORM_BY_CODE.get((op, None))


# ---- helpers -------------------------------------------------------------------------------

def sext16(x: int) -> int:
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x


_INSN_I = Packer(InsnI)
_INSN_R = Packer(InsnR)


def encode_i(op: int, a: int = 0, b: int = 0, m: int = 0, imm: int = 0) -> int:
    """I layout word; ``imm`` may be given signed (-32768..-1) or as a 16-bit pattern."""
    if -0x8000 <= imm < 0:
        imm &= 0xFFFF
    return _INSN_I.pack(op=op, a=a, b=b, m=m, imm=imm)


def encode_r(op: int, a: int = 0, b: int = 0, m: int = 0, c: int = 0, d: int = 0, x: int = 0, t: int = 0) -> int:
    return _INSN_R.pack(op=op, a=a, b=b, m=m, c=c, d=d, x=x, t=t)


def fields(word: int) -> dict:
    """Every field of a word under both layouts (the decoder picks by FORMAT[op])."""
    out = _INSN_I.unpack(word)
    out.update({k: v for k, v in _INSN_R.unpack(word).items() if k != "rsv"})
    return out


_DSR = Packer(Dsr)
_STATUS = Packer(Status)
_START = Packer(StartInfo)


def pack_dsr(kind: int, etype: int = 0, length: int = 0, base: int = 0, stride: int = 0, color: int = 0,
             ctrl: int = 0) -> int:
    """Packed 64-bit DSR (the Dsr layout); memory kinds use base/stride, fabric kinds color/ctrl."""
    fields = {"kind": kind, "type": etype, "length": length}
    if kind == DsrKind.MEM:
        if not -0x8000 <= stride < 0x8000:
            raise ValueError(f"stride {stride} does not fit 16 bits signed")
        fields.update({"target.mem.base": base, "target.mem.stride": stride & 0xFFFF})
    elif kind in (DsrKind.FIN, DsrKind.FOUT):
        fields.update({"target.fab.color": color, "target.fab.ctrl": ctrl})
    return _DSR.pack(fields)


def unpack_dsr(word: int) -> dict:
    f = _DSR.unpack(word)
    kind = DsrKind(f["kind"])
    out = {"kind": kind, "type": ElemType(f["type"]), "length": f["length"]}
    if kind == DsrKind.MEM:
        out.update(base=f["target.mem.base"], stride=sext16(f["target.mem.stride"]))
    elif kind != DsrKind.NONE:
        out.update(color=f["target.fab.color"], ctrl=f["target.fab.ctrl"])
    return out


def pack_status(code: int, halted: int, async_: int, task: int, pc: int) -> int:
    return _STATUS.pack(code=code, halted=halted, async_=async_, task=task, pc=pc & 0xFFFF)


def unpack_status(word: int) -> dict:
    f = _STATUS.unpack(word)
    return {"code": ErrorCode(f["code"]), "halted": f["halted"], "async_": f["async_"], "task": f["task"],
            "pc": f["pc"]}


def pack_start_info(color: int, ctrl: int, wavelet: int, task: int) -> int:
    """r14 at task start."""
    return _START.pack(color=color, ctrl=ctrl, wavelet=wavelet, task=task)
