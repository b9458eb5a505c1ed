"""The PE's register files: 16 x 32-bit GPRs and 16 packed 64-bit DSRs (docs/isa.md).

Role
----
Combinational reads for the scalar core (four GPRs, three DSRs per instruction) and for the debug
port; one GPR and one DSR write per cycle from the core, the task-start write of r14/r15, DSR
presets from the load bus (a 32-bit half per write, winning over the core's write) and CLEAR,
which zeroes both files. r0 is never written, so it reads as zero.

Interfaces (``RegisterFile()``, ``wiring.Component``, domain ``sync``)
------------------------------------------------------------------
core      In(RegFileSignature)        from the core: gpr_idx[4] -> gpr[4], dsr_idx[3] -> dsr[3] (Dsr),
                                      gpr_wr (en, idx, data), dsr_wr (en, idx, data), start (we, r14, r15)
preset    In(DsrWriteSignature)       load-bus DSR writes (we, index, half, data)
clear     In(1)                       CLEAR
dbg_idx   In(4)                       debug read index
dbg_gpr   Out(32), dbg_dsr Out(64)    that GPR and DSR
"""

from __future__ import annotations

from amaranth import Array, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..isa import DSR_BITS, NUM_DSRS, NUM_GPRS
from ..isa import Dsr as DsrLayout
from .loadbus import DsrWriteSignature

__all__ = ["RegisterFile", "RegFileSignature"]

#: The core's side of the register files.
RegFileSignature = wiring.Signature({
    "gpr_idx": Out(data.ArrayLayout(4, 4)),  # fields a, b, c, d of the instruction
    "gpr": In(data.ArrayLayout(32, 4)),
    "dsr_idx": Out(data.ArrayLayout(4, 3)),  # fields a, b, c
    "dsr": In(data.ArrayLayout(DsrLayout, 3)),
    "gpr_wr": Out(data.StructLayout({"en": 1, "idx": 4, "data": 32})),
    "dsr_wr": Out(data.StructLayout({"en": 1, "idx": 4, "data": 64})),
    "start": Out(data.StructLayout({"we": 1, "r14": 32, "r15": 32})),  # a task starts
})


class RegisterFile(wiring.Component):
    def __init__(self):
        super().__init__({
            "core": In(RegFileSignature),
            "preset": In(DsrWriteSignature),
            "clear": In(1),
            "dbg_idx": In(4),
            "dbg_gpr": Out(32),
            "dbg_dsr": Out(DSR_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        core = self.core
        regs = [Signal(32, name=f"r{i}") for i in range(NUM_GPRS)]
        dsrs = [Signal(DSR_BITS, name=f"d{i}") for i in range(NUM_DSRS)]

        for j in range(4):
            m.d.comb += core.gpr[j].eq(Array(regs)[core.gpr_idx[j]])
        for j in range(3):
            m.d.comb += core.dsr[j].eq(Array(dsrs)[core.dsr_idx[j]])

        # writes, in priority order: the core, the task start, load-bus presets, CLEAR
        gw, dw, st = core.gpr_wr, core.dsr_wr, core.start
        for i in range(1, NUM_GPRS):
            with m.If(gw.en & (gw.idx == i)):
                m.d.sync += regs[i].eq(gw.data)
        with m.If(st.we):
            m.d.sync += [regs[14].eq(st.r14), regs[15].eq(st.r15)]
        for i in range(NUM_DSRS):
            with m.If(dw.en & (dw.idx == i)):
                m.d.sync += dsrs[i].eq(dw.data)
        pr = self.preset
        with m.If(pr.we):
            for i in range(NUM_DSRS):
                with m.If(pr.index == i):
                    with m.If(pr.half):
                        m.d.sync += dsrs[i][32:].eq(pr.data)
                    with m.Else():
                        m.d.sync += dsrs[i][:32].eq(pr.data)
        with m.If(self.clear):
            m.d.sync += [r.eq(0) for r in regs] + [d.eq(0) for d in dsrs]

        m.d.comb += [self.dbg_gpr.eq(Array(regs)[self.dbg_idx]), self.dbg_dsr.eq(Array(dsrs)[self.dbg_idx])]
        return m
