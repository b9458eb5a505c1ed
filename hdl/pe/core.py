"""The PE's scalar core: a multi-cycle FSM that runs one task at a time (docs/isa.md).

Role
----
States (``m.FSM``):

    IDLE   no task runs; start the scheduler's pick when RUN is set, the PE not halted and no
           element error pending (pc = entry, r14/r15 = start values)
    FETCH  read the instruction at pc (PC_RANGE beyond the instruction memory)
    EXEC   decode and execute; everything retires here except loads, ``dld`` (to LOAD),
           synchronous vector ops (to VWAIT) and ``end`` (to IDLE); a ``send`` waits for the
           output register, a store for the write port, an async op for a free micro-thread
    LOAD   the row read in EXEC is on the port: write the register, retire
    VWAIT  wait for the synchronous vector op (context 0) to finish, retire
    HALT   after an error, until CLEAR

Errors are reported on ``err`` (the status component halts the PE); a halt, and then CLEAR,
override any state's own transition. About 2 cycles per scalar instruction.

Interface (``ScalarCore(profile, row_bits)``, ``wiring.Component``, domain ``sync``)
----------------------------------------------------------------------
imem      Out(ImemReadSignature)        en, addr -> data (the cycle after en)
rf        Out(RegFileSignature)         register reads and writes (hdl/pe/regfile.py)
mem       Out(ScalarMemSignature)       SRAM read (loads, dld) and write (stores)
send      Out(stream.Signature(WaveletLayout))   ``send`` to the output register
sched     In(SchedSignature)            the task to start; start, bind, task flags
vec       In(VecCoreSignature)          vector op launch; context 0 done, free micro-thread
err       Out(ErrorReport)              an instruction error this cycle
run, clear, halt, halted   In(1)
running   Out(1)                        a task runs (not IDLE)
busy      Out(1)                        not IDLE nor HALT
pc        Out(PC_BITS)
retire    Out(1)                        an instruction retires this cycle
task      Out(TASK_BITS)                the task running (the last one started)
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..isa import (
    ACC_TYPE,
    CVT_DST_TYPE,
    CVT_SRC_TYPE,
    NUM_TASKS,
    OPND_TYPE,
    PC_BITS,
    TASK_BITS,
    VECTOR_OPS,
    BindImm,
    CvtMode,
    DsrKind,
    ElemType,
    ErrorCode,
    FabImm,
    FmacMode,
    Insn,
    Opcode,
)
from ..isa import Dsr as DsrLayout
from ..profiles import get_profile
from ..wavelet import COLOR_BITS, WaveletLayout
from .common import ErrorReport, Operand, ScalarMemSignature, VecFunc
from .regfile import RegFileSignature
from .sched import SchedSignature
from .vector import VecCoreSignature

__all__ = ["ScalarCore", "ImemReadSignature"]


def ImemReadSignature(words: int) -> wiring.Signature:
    return wiring.Signature({"en": Out(1), "addr": Out(range(words)), "data": In(32)})


# ALU functions by op[3:0]: the I-layout forms (ADDI..) share the low nibble of the R forms (ADD..)
_ALU = {
    Opcode.ADD: lambda x, y: x + y,
    Opcode.SUB: lambda x, y: x - y,
    Opcode.AND: lambda x, y: x & y,
    Opcode.OR: lambda x, y: x | y,
    Opcode.XOR: lambda x, y: x ^ y,
    Opcode.SLL: lambda x, y: x << y[:5],
    Opcode.SRL: lambda x, y: x >> y[:5],
    Opcode.SRA: lambda x, y: x.as_signed() >> y[:5],
    Opcode.SLT: lambda x, y: x.as_signed() < y.as_signed(),
    Opcode.SLTU: lambda x, y: x < y,
    Opcode.MUL: lambda x, y: x * y,
}
_ALU_R = [o for o in Opcode if Opcode.ADD <= o <= Opcode.MUL]
_ALU_I = [o for o in Opcode if Opcode.ADDI <= o <= Opcode.SLTIU]  # LUI among them (its own result)
_IMM_PAIRS = {Opcode.ADDI: Opcode.ADD, Opcode.ANDI: Opcode.AND, Opcode.ORI: Opcode.OR, Opcode.XORI: Opcode.XOR,
              Opcode.SLLI: Opcode.SLL, Opcode.SRLI: Opcode.SRL, Opcode.SRAI: Opcode.SRA, Opcode.SLTI: Opcode.SLT,
              Opcode.SLTIU: Opcode.SLTU}
# op[5] tells the I forms (their second operand is the immediate) from the R forms
assert all(i & 0x20 and not r & 0x20 and i & 0xF == r & 0xF for i, r in _IMM_PAIRS.items())
assert set(_ALU) == set(_ALU_R) and set(_IMM_PAIRS) | {Opcode.LUI} == set(_ALU_I)
_ZEXT_IMM = (Opcode.ANDI, Opcode.ORI, Opcode.XORI)  # logic immediates are zero-extended

_BRANCH = {
    Opcode.BEQ: lambda a, b: a == b,
    Opcode.BNE: lambda a, b: a != b,
    Opcode.BLT: lambda a, b: a.as_signed() < b.as_signed(),
    Opcode.BGE: lambda a, b: a.as_signed() >= b.as_signed(),
    Opcode.BLTU: lambda a, b: a < b,
    Opcode.BGEU: lambda a, b: a >= b,
}
_LOADS = (Opcode.LW, Opcode.LH, Opcode.LHU, Opcode.DLD)
_STORES = (Opcode.SW, Opcode.SH)


class ScalarCore(wiring.Component):
    def __init__(self, profile, row_bits: int):
        self.prof = p = get_profile(profile)
        self.nctx = p.uthreads + 1
        self.sram_bytes = p.sram_kib * 1024
        self.row_bits = row_bits
        super().__init__({
            "imem": Out(ImemReadSignature(p.imem_words)),
            "rf": Out(RegFileSignature),
            "mem": Out(ScalarMemSignature(self.row_bits)),
            "send": Out(stream.Signature(WaveletLayout)),
            "sched": In(SchedSignature),
            "vec": In(VecCoreSignature(self.nctx)),
            "err": Out(ErrorReport),
            "run": In(1),
            "clear": In(1),
            "halt": In(1),
            "halted": In(1),
            "running": Out(1),
            "busy": Out(1),
            "pc": Out(PC_BITS),
            "task": Out(TASK_BITS),
            "retire": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        d = _Decoded()
        d.pc = self.pc
        d.cur_task = Signal(TASK_BITS)
        m.d.comb += self.task.eq(d.cur_task)
        self._decode(m, d)
        self._alu(m, d)
        self._vector_op(m, d)
        self._fsm(m, d)
        with m.If(self.clear):
            m.d.sync += [d.pc.eq(0), d.cur_task.eq(0)]
        return m

    def _decode(self, m, d):
        """Instruction fields, register reads and the values several instructions share."""
        C = self.prof.colors
        ins = Signal(Insn)
        m.d.comb += ins.as_value().eq(self.imem.data)
        d.op = ins.i.op
        d.fa, d.fb, d.fm, d.imm = ins.i.a, ins.i.b, ins.i.m, ins.i.imm
        d.fc, d.fd, d.fx, d.ft = ins.r.c, ins.r.d, ins.r.x, ins.r.t
        rf = self.rf
        m.d.comb += [rf.gpr_idx[0].eq(d.fa), rf.gpr_idx[1].eq(d.fb), rf.gpr_idx[2].eq(d.fc), rf.gpr_idx[3].eq(d.fd),
                     rf.dsr_idx[0].eq(d.fa), rf.dsr_idx[1].eq(d.fb), rf.dsr_idx[2].eq(d.fc)]
        d.ra_v, d.rb_v, d.rc_v, d.rd_v = (rf.gpr[j] for j in range(4))
        d.da, d.db, d.dc = (rf.dsr[j] for j in range(3))
        d.simm = Signal(32)
        m.d.comb += d.simm.eq(d.imm.as_signed())
        d.addr = Signal(32)
        m.d.comb += d.addr.eq(d.rb_v + d.simm)
        d.sum_bs = Signal(32)  # R[b] + sext(imm): send color, task IDs, dbase/dlen values
        m.d.comb += d.sum_bs.eq(d.rb_v + d.simm)
        d.t_valid = self.sched.valid
        d.color_ok = d.sum_bs < C
        d.task_id = d.sum_bs[:TASK_BITS]
        d.task_ok = (d.sum_bs < NUM_TASKS) & (d.t_valid >> d.task_id)[0]
        # sub-word loads and stores
        op = d.op
        d.ld_size = Signal(4)
        m.d.comb += d.ld_size.eq(Mux((op == Opcode.LW) | (op == Opcode.SW), 4, Mux(op == Opcode.DLD, 8, 2)))
        d.mem_range_bad = (d.addr.as_unsigned() + d.ld_size) > self.sram_bytes
        d.mem_mis = (d.addr & (d.ld_size - 1)) != 0
        d.sh8 = Signal(6)
        m.d.comb += d.sh8.eq(d.addr[:3] << 3)
        d.dsr_new = Signal(DsrLayout)  # DSR write value

    def _alu(self, m, d):
        op, imm = d.op, d.imm
        x_ = d.rb_v
        y_ = Signal(32)
        zext = Cat(*[op == o for o in _ZEXT_IMM]).any()
        m.d.comb += y_.eq(Mux(op[5], Mux(zext, imm, d.simm), d.rc_v))
        d.alu = Signal(32)
        with m.Switch(op[:4]):
            for opc, fn in _ALU.items():
                with m.Case(opc & 0xF):
                    m.d.comb += d.alu.eq(fn(x_, y_))

    def _vector_op(self, m, d):
        """Issue checks of a vector op (docs/isa.md "Vector operations") and the op to launch."""
        C = self.prof.colors
        op, fm, da, db, dc = d.op, d.fm, d.da, d.db, d.dc
        v_cvt = op == Opcode.VCVT
        v_sh = op == Opcode.VSH
        v_log = op == Opcode.VLOGS
        v_bits = v_sh | v_log  # the i32 bit ops: m is their function, every operand i32
        v_func = Signal(VecFunc)
        m.d.comb += v_func.eq(Mux(v_cvt, VecFunc.CVT,
                                  Mux((op == Opcode.VMAX) | (op == Opcode.VMAXS), VecFunc.MAX,
                                      Mux(v_sh, VecFunc.SHIFT, Mux(v_log, VecFunc.LOGIC, op[1:3])))))
        v_scal = (op[0] & ~v_cvt) | v_bits  # vsh/vlogs are scalar forms whatever op[0] is
        v_fmac = v_func == VecFunc.FMAC
        v_has_a = ~((v_func == VecFunc.MOV) & v_scal)  # not vfill
        v_has_b = ~v_scal & (v_func != VecFunc.MOV) & ~v_cvt
        # vcvt's m[1] = 1 is reserved, m[0] selects the direction (CvtMode); vsh's and vlogs' m = 3
        d.mode_bad = (v_cvt & fm[1]) | (v_bits & (fm == 3))
        cvt_narrow = fm[0] == CvtMode.F16_F32
        acc_t = Signal(2)
        opnd_t = Signal(2)
        m.d.comb += [
            acc_t.eq(Mux(v_fmac, Array([ACC_TYPE[FmacMode(i)] for i in range(4)])[fm],
                         Mux(v_cvt, Array([CVT_DST_TYPE[CvtMode(i)] for i in range(2)])[fm[0]],
                             Mux(v_bits, ElemType.I32, fm)))),
            opnd_t.eq(Mux(v_fmac, Array([OPND_TYPE[FmacMode(i)] for i in range(4)])[fm],
                          Mux(v_cvt, Array([CVT_SRC_TYPE[CvtMode(i)] for i in range(2)])[fm[0]],
                              Mux(v_bits, ElemType.I32, fm)))),
        ]
        d.kind_bad = (Mux(v_fmac, da.kind != DsrKind.MEM, (da.kind != DsrKind.MEM) & (da.kind != DsrKind.FOUT))
                      | (v_has_a & (db.kind != DsrKind.MEM) & (db.kind != DsrKind.FIN))
                      | (v_has_b & (dc.kind != DsrKind.MEM) & (dc.kind != DsrKind.FIN)))
        d.type_bad = ((da.type != acc_t) | (v_has_a & (db.type != opnd_t)) | (v_has_b & (dc.type != opnd_t)))
        d.color_bad = (((da.kind == DsrKind.FOUT) & (da.target.fab.color >= C))
                       | (v_has_a & (db.kind == DsrKind.FIN) & (db.target.fab.color >= C))
                       | (v_has_b & (dc.kind == DsrKind.FIN) & (dc.target.fab.color >= C)))
        d.done_bad = d.fx & ~(d.t_valid >> d.ft)[0]
        lo = self.vec.op
        m.d.comb += [
            lo.func.eq(v_func), lo.scal.eq(v_scal), lo.m.eq(fm),
            lo.d16.eq(Mux(v_fmac, fm == FmacMode.F16, Mux(v_cvt, cvt_narrow, ~fm[0] & ~v_bits))),
            lo.o16.eq(Mux(v_fmac, fm != FmacMode.F32, Mux(v_cvt, ~cvt_narrow, ~fm[0] & ~v_bits))),
            lo.dfout.eq(da.kind == DsrKind.FOUT), lo.dcolor.eq(da.target.fab.color),
            lo.dctrl.eq(da.target.fab.ctrl),
            lo.akind.eq(Mux(v_has_a, Mux(db.kind == DsrKind.FIN, Operand.FIN, Operand.MEM), Operand.NONE)),
            lo.bkind.eq(Mux(v_has_b, Mux(dc.kind == DsrKind.FIN, Operand.FIN, Operand.MEM), Operand.NONE)),
            lo.acolor.eq(db.target.fab.color), lo.bcolor.eq(dc.target.fab.color),
            lo.addr[0].eq(db.target.mem.base), lo.addr[1].eq(dc.target.mem.base), lo.addr[2].eq(da.target.mem.base),
            lo.stride[0].eq(db.target.mem.stride), lo.stride[1].eq(dc.target.mem.stride),
            lo.stride[2].eq(da.target.mem.stride),
            lo.n.eq(da.length), lo.scalar.eq(d.rc_v), lo.done.eq(d.ft),
            lo.pc.eq(d.pc), lo.task.eq(d.cur_task),
        ]

    def _fsm(self, m, d):
        ld_op = Signal(6)
        ld_reg = Signal(4)
        ld_off = Signal(3)
        pc = d.pc
        sched, rf, imem = self.sched, self.rf, self.imem
        m.d.comb += [imem.en.eq(0), imem.addr.eq(pc), self.err.pc.eq(pc), self.err.task.eq(d.cur_task)]
        with m.FSM(init="IDLE") as fsm:
            with m.State("IDLE"):
                with m.If(self.run & ~self.halted & ~self.vec.err_pend & sched.runnable & ~self.clear):
                    m.next = "FETCH"
                    m.d.sync += [pc.eq(sched.next.entry), d.cur_task.eq(sched.next.task)]
                    m.d.comb += [sched.start.eq(1), rf.start.we.eq(1), rf.start.r14.eq(sched.next.r14),
                                 rf.start.r15.eq(sched.next.r15)]
                self._leave(m)
            with m.State("FETCH"):
                with m.If(pc >= self.prof.imem_words):
                    self._fail(m, ErrorCode.PC_RANGE)
                with m.Else():
                    m.d.comb += [imem.en.eq(1), imem.addr.eq(pc)]
                    m.next = "EXEC"
                self._leave(m)
            with m.State("EXEC"):
                self._exec(m, d, ld_op, ld_reg, ld_off)
                self._leave(m)
            with m.State("LOAD"):
                row = self.mem.rd.data
                shifted = Signal(64)
                m.d.comb += shifted.eq(row >> Cat(Const(0, 3), ld_off))
                with m.Switch(ld_op):
                    with m.Case(Opcode.LW):
                        self._gpr(m, ld_reg, shifted[:32])
                    with m.Case(Opcode.LH):
                        self._gpr(m, ld_reg, shifted[:16].as_signed())
                    with m.Case(Opcode.LHU):
                        self._gpr(m, ld_reg, shifted[:16])
                    with m.Case(Opcode.DLD):
                        m.d.comb += [rf.dsr_wr.en.eq(1), rf.dsr_wr.idx.eq(ld_reg), rf.dsr_wr.data.eq(row)]
                self._retire(m, pc + 1)
                self._leave(m)
            with m.State("VWAIT"):
                with m.If(self.vec.sync_done):
                    self._retire(m, pc + 1)
                self._leave(m)
            with m.State("HALT"):
                self._leave(m)
        m.d.comb += [self.running.eq(~fsm.ongoing("IDLE")), self.busy.eq(~fsm.ongoing("IDLE") & ~fsm.ongoing("HALT"))]

    def _leave(self, m):
        """End of every state: a halt, then CLEAR, override the state's own transition."""
        with m.If(self.halt & ~self.halted):
            m.next = "HALT"
        with m.If(self.clear):
            m.next = "IDLE"

    def _retire(self, m, next_pc):
        m.d.sync += self.pc.eq(next_pc)
        m.d.comb += self.retire.eq(1)
        m.next = "FETCH"

    def _fail(self, m, code):
        m.d.comb += [self.err.valid.eq(1), self.err.code.eq(code)]

    def _gpr(self, m, idx, value):
        m.d.comb += [self.rf.gpr_wr.en.eq(1), self.rf.gpr_wr.idx.eq(idx), self.rf.gpr_wr.data.eq(value)]

    def _dsr(self, m, d):
        m.d.comb += [self.rf.dsr_wr.en.eq(1), self.rf.dsr_wr.idx.eq(d.fa), self.rf.dsr_wr.data.eq(d.dsr_new)]

    def _exec(self, m, d, ld_op, ld_reg, ld_off):
        """EXEC: one case per instruction group."""
        C = self.prof.colors
        pc, op, fa, fm, imm = d.pc, d.op, d.fa, d.fm, d.imm
        ra_v, rb_v, rc_v, rd_v = d.ra_v, d.rb_v, d.rc_v, d.rd_v
        retire, fail = self._retire, self._fail
        nxt = pc + 1
        dsr_new = d.dsr_new
        with m.Switch(op):
            with m.Case(Opcode.NOP):
                retire(m, nxt)
            with m.Case(Opcode.END):
                m.d.comb += self.retire.eq(1)
                m.next = "IDLE"
            with m.Case(*_ALU_R, *_ALU_I):
                with m.If(op == Opcode.LUI):
                    self._gpr(m, fa, imm << 16)
                with m.Else():
                    self._gpr(m, fa, d.alu)
                retire(m, nxt)
            with m.Case(*_BRANCH):
                cond = Signal()
                with m.Switch(op):
                    for opc, fn in _BRANCH.items():
                        with m.Case(opc):
                            m.d.comb += cond.eq(fn(ra_v, rb_v))
                retire(m, Mux(cond, pc + d.simm[:PC_BITS], nxt))
            with m.Case(Opcode.JAL):
                self._gpr(m, fa, nxt[:PC_BITS])
                retire(m, pc + d.simm[:PC_BITS])
            with m.Case(Opcode.JALR):
                self._gpr(m, fa, nxt[:PC_BITS])
                retire(m, d.sum_bs[:PC_BITS])
            with m.Case(Opcode.SEND):
                with m.If(~d.color_ok):
                    fail(m, ErrorCode.ARG_RANGE)
                with m.Else():
                    w = self.send.payload
                    m.d.comb += [self.send.valid.eq(1), w.payload.eq(ra_v), w.color.eq(d.sum_bs[:COLOR_BITS]),
                                 w.ctrl.eq(fm[0])]
                    with m.If(self.send.ready):
                        retire(m, nxt)
            with m.Case(Opcode.ACTIVATE, Opcode.BLOCK, Opcode.UNBLOCK):
                with m.If(~d.task_ok):
                    fail(m, ErrorCode.TASK)
                with m.Else():
                    fl = self.sched.flags
                    m.d.comb += [fl.task.eq(d.task_id), fl.activate.eq(op == Opcode.ACTIVATE),
                                 fl.block.eq(op == Opcode.BLOCK), fl.unblock.eq(op == Opcode.UNBLOCK)]
                    retire(m, nxt)
            with m.Case(Opcode.BIND):
                bimm = data.View(BindImm, imm)
                with m.If(bimm.color >= C):
                    fail(m, ErrorCode.ARG_RANGE)
                with m.Elif(~fm[0] & ~(d.t_valid >> bimm.task)[0]):
                    fail(m, ErrorCode.TASK)
                with m.Else():
                    bd = self.sched.bind
                    m.d.comb += [bd.we.eq(1), bd.color.eq(bimm.color), bd.task.eq(bimm.task), bd.valid.eq(~fm[0])]
                    retire(m, nxt)
            with m.Case(*_LOADS):
                with m.If(d.mem_range_bad):
                    fail(m, ErrorCode.SRAM_RANGE)
                with m.Elif(d.mem_mis):
                    fail(m, ErrorCode.MISALIGNED)
                with m.Else():
                    rd = self.mem.rd
                    m.d.comb += [rd.req.eq(1), rd.addr.eq(d.addr[3:3 + self.row_bits])]
                    with m.If(rd.gnt):
                        m.next = "LOAD"
                        m.d.sync += [ld_op.eq(op), ld_reg.eq(fa), ld_off.eq(d.addr[:3])]
            with m.Case(*_STORES):
                with m.If(d.mem_range_bad):
                    fail(m, ErrorCode.SRAM_RANGE)
                with m.Elif(d.mem_mis):
                    fail(m, ErrorCode.MISALIGNED)
                with m.Else():
                    wr = self.mem.wr
                    mk = Mux(op == Opcode.SW, Const(0xF, 8), Const(0x3, 8))
                    m.d.comb += [wr.req.eq(1), wr.addr.eq(d.addr[3:3 + self.row_bits]),
                                 wr.data.eq((Cat(ra_v, ra_v) << d.sh8)[:64]), wr.mask.eq((mk << d.addr[:3])[:8])]
                    with m.If(wr.gnt):
                        retire(m, nxt)
            with m.Case(Opcode.DMEM):
                with m.If((rb_v > 0xFFFF) | (rc_v > 0xFFFF) | ~((rd_v[15:] == 0) | (rd_v[15:] == (1 << 17) - 1))):
                    fail(m, ErrorCode.ARG_RANGE)
                with m.Else():
                    m.d.comb += [dsr_new.kind.eq(DsrKind.MEM), dsr_new.type.eq(fm), dsr_new.length.eq(rc_v),
                                 dsr_new.target.mem.base.eq(rb_v), dsr_new.target.mem.stride.eq(rd_v[:16])]
                    self._dsr(m, d)
                    retire(m, nxt)
            with m.Case(Opcode.DFIN, Opcode.DFOUT):
                fab = data.View(FabImm, imm)
                with m.If((fab.color >= C) | (rb_v > 0xFFFF)):
                    fail(m, ErrorCode.ARG_RANGE)
                with m.Else():
                    m.d.comb += [dsr_new.kind.eq(Mux(op == Opcode.DFIN, DsrKind.FIN, DsrKind.FOUT)),
                                 dsr_new.type.eq(fm), dsr_new.length.eq(rb_v), dsr_new.target.fab.color.eq(fab.color),
                                 dsr_new.target.fab.ctrl.eq((op == Opcode.DFOUT) & fab.ctrl)]
                    self._dsr(m, d)
                    retire(m, nxt)
            with m.Case(Opcode.DBASE, Opcode.DLEN):
                da = d.da
                with m.If((da.kind == DsrKind.NONE) | ((op == Opcode.DBASE) & (da.kind != DsrKind.MEM))):
                    fail(m, ErrorCode.DSR_KIND)
                with m.Elif(d.sum_bs > 0xFFFF):
                    fail(m, ErrorCode.ARG_RANGE)
                with m.Else():
                    m.d.comb += dsr_new.eq(da)
                    self._dsr(m, d)
                    with m.If(op == Opcode.DBASE):
                        m.d.comb += dsr_new.target.mem.base.eq(d.sum_bs)
                    with m.Else():
                        m.d.comb += dsr_new.length.eq(d.sum_bs)
                    retire(m, nxt)
            with m.Case(*sorted(VECTOR_OPS)):
                self._exec_vector(m, d)
            with m.Default():
                fail(m, ErrorCode.ILLEGAL)

    def _exec_vector(self, m, d):
        vec = self.vec
        with m.If(d.mode_bad):
            self._fail(m, ErrorCode.ILLEGAL)
        with m.Elif(d.kind_bad):
            self._fail(m, ErrorCode.DSR_KIND)
        with m.Elif(d.type_bad):
            self._fail(m, ErrorCode.DSR_TYPE)
        with m.Elif(d.color_bad):
            self._fail(m, ErrorCode.ARG_RANGE)
        with m.Elif(d.done_bad):
            self._fail(m, ErrorCode.TASK)
        with m.Elif(~d.fx):  # synchronous: context 0, the task waits
            m.d.comb += [vec.launch.eq(1), vec.ctx.eq(0)]
            m.next = "VWAIT"
        with m.Elif(vec.free):  # asynchronous: a free micro-thread, the task goes on
            m.d.comb += [vec.launch.eq(1), vec.ctx.eq(vec.free_ctx)]
            self._retire(m, d.pc + 1)


class _Decoded:
    """The core's decoded instruction and shared values, passed between its elaboration steps."""
