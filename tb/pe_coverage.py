"""PE coverage sampled from what the PE did (tb/pe_harness.py calls it every cycle).

Role
----
Three groups, filled from the DUT, not from the programs handed to it:

    pe.opcode[<profile>]   (opcode, mode) of every instruction that *retired*: the core's
                           ``retire`` strobe with the status port's PC, the word at that PC of the
                           loaded instruction memory; mode 0..3 for vector ops (fmac mode or
                           element type), 0/1 for vcvt (its direction; 2 and 3 are reserved and
                           never retire), 0..2 for vsh and vlogs (their function; 3 is reserved),
                           0/1 for bind/unbind and send/send.c, "-" for the rest
    pe.vector[<profile>]   (opcode, destination kind, operand A kind, operand B kind, sync|async) of
                           every vector op the core *launched*: the ``core__launch`` strobe and the
                           op it hands the vector engine (hdl/pe/common.py VecOp); the legal
                           combinations of docs/isa.md "Vector operations" (fmac accumulates in
                           memory, FIN only as a source, FOUT only as a destination)
    pe.error[<profile>]    (error code, sync|async) of the status word read at the end of a case;
                           async only for element errors (a micro-thread's SRAM access)

Interface
---------
PeCoverage(profile)
    .case(imem_words)                  the instruction memory of the case being run
    .sample_cycle(dut)                 in the read-only phase of a cycle
    .sample_status(word)
    .groups; .save(run)
"""

from __future__ import annotations

from hdl.isa import VECTOR_OPS, CvtMode, ErrorCode, LogicMode, Opcode, ShiftMode, fields, unpack_status
from hdl.packing import Packer
from hdl.pe.common import Operand, VecFunc, VecOp
from sdk.cosim.edge import value_of

from .coverage import CoverGroup, save

__all__ = ["PeCoverage", "vector_bins"]

_VECOP = Packer(VecOp)
_KIND = {Operand.NONE: "none", Operand.MEM: "mem", Operand.FIN: "fin"}
#: the vector opcode of (func, scal) (hdl/pe/common.py VecFunc; scal: operand B is a scalar)
_VOP = {(VecFunc.FMAC, 0): Opcode.FMAC, (VecFunc.FMAC, 1): Opcode.FMACS, (VecFunc.ADD, 0): Opcode.VADD,
        (VecFunc.ADD, 1): Opcode.VADDS, (VecFunc.MUL, 0): Opcode.VMUL, (VecFunc.MUL, 1): Opcode.VMULS,
        (VecFunc.MOV, 0): Opcode.VMOV, (VecFunc.MOV, 1): Opcode.VFILL, (VecFunc.MAX, 0): Opcode.VMAX,
        (VecFunc.MAX, 1): Opcode.VMAXS, (VecFunc.CVT, 0): Opcode.VCVT, (VecFunc.SHIFT, 1): Opcode.VSH,
        (VecFunc.LOGIC, 1): Opcode.VLOGS}
#: element errors can happen in a micro-thread (docs/isa.md "Errors and status")
ASYNC_ERRORS = (ErrorCode.SRAM_RANGE, ErrorCode.MISALIGNED)
#: the modes of an opcode that count as distinct bins (the m field, instruction bits 15:14)
_MODES = {**{Opcode(op): range(4) for op in VECTOR_OPS}, Opcode.VCVT: range(len(CvtMode)),
          Opcode.VSH: range(len(ShiftMode)), Opcode.VLOGS: range(len(LogicMode)), Opcode.BIND: range(2),
          Opcode.SEND: range(2)}


def vector_bins():
    """Every legal (opcode, destination, A, B, sync/async) of a vector op, written from docs/isa.md."""
    out = []
    for op in sorted(VECTOR_OPS):
        op = Opcode(op)
        dests = ("mem",) if op in (Opcode.FMAC, Opcode.FMACS) else ("mem", "fout")
        a = ("none",) if op == Opcode.VFILL else ("mem", "fin")
        b = ("mem", "fin") if op in (Opcode.FMAC, Opcode.VADD, Opcode.VMUL, Opcode.VMAX) else ("none",)
        out += [(op.name, d, x, y, s) for d in dests for x in a for y in b for s in ("sync", "async")]
    return out


class PeCoverage:
    def __init__(self, profile: str):
        p = f"[{profile}]"
        ops = []
        for op in Opcode:
            if op == Opcode.ILLEGAL:
                continue
            ops += [(op.name, m) for m in _MODES[op]] if op in _MODES else [(op.name, "-")]
        self.opcode = CoverGroup(f"pe.opcode{p}", ops, "instructions retired, by opcode and vector mode")
        self.vector = CoverGroup(f"pe.vector{p}", vector_bins(), "vector ops launched: DSR kinds, sync/async")
        self.error = CoverGroup(f"pe.error{p}", [(e.name, "sync") for e in ErrorCode if e != ErrorCode.NONE]
                                + [(e.name, "async") for e in ASYNC_ERRORS], "error codes in the status word")
        self.groups = [self.opcode, self.vector, self.error]
        self._imem = []

    def case(self, imem_words):
        self._imem = list(imem_words)

    def _word(self, pc):
        return self._imem[pc] if pc < len(self._imem) else 0

    def sample_cycle(self, dut):
        if value_of(dut.retire):
            w = self._word(value_of(dut.status__pc))
            op = Opcode(w & 0x3F)
            self.opcode.sample((op.name, w >> 14 & 3 if op in _MODES else "-"))
        if value_of(dut.core__launch):
            v = _VECOP.unpack(value_of(dut.core__op))
            op = _VOP[(VecFunc(v["func"]), v["scal"])]
            x = fields(self._word(v["pc"]))["x"]
            self.vector.sample((op.name, "fout" if v["dfout"] else "mem", _KIND[Operand(v["akind"])],
                                _KIND[Operand(v["bkind"])], "async" if x else "sync"))

    def sample_status(self, word):
        s = unpack_status(word)
        if s["code"] != ErrorCode.NONE:
            self.error.sample((ErrorCode(s["code"]).name, "async" if s["async_"] else "sync"))

    def save(self, run: str):
        return save(self.groups, run)
