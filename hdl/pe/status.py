"""The PE's sticky status word, halt arbitration and event counters.

Role
----
An error reported by the scalar core (an instruction error, precise) or by the vector engine (an
element error, raised once the groups before it have drained) halts the PE: ``halt`` tells every
component this cycle, and the first error is latched into the sticky status word (the ``Status``
layout of hdl/isa.py); the core's error wins when both come in one cycle. CLEAR zeroes the word
and the counters. The counters are the figures of docs/pe.md "Status".

Interface (``StatusCounters(lanes)``, ``wiring.Component``, domain ``sync``)
------------------------------------------------------------------------
status      Out(StatusSignature)   word, halted, idle, running, pc, retired, cycles, busy_cycles,
                                   vec_elems, task_starts, clearing (the PE's status port)
core_err    In(ErrorReport)        an instruction error this cycle
vec_err     In(ErrorReport)        an element error, the pipeline drained
halt        Out(1)                 an error halts the PE this cycle
halted      Out(1)                 the PE is halted
retire, start                      In(1): an instruction retires / a task starts this cycle
elems       In(valid, k)           k vector elements written back or sent this cycle
run, clear, clearing               In(1): from the load-bus decoder
running, core_busy, pc             In: from the scalar core (a task runs; not idle nor halted)
vec_busy, out_busy, runnable       In(1): vector work in flight; output register full; a task is runnable
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..isa import PC_BITS, Status
from .common import ErrorReport

__all__ = ["StatusCounters", "StatusSignature"]

StatusSignature = wiring.Signature({
    "word": Out(32), "halted": Out(1), "idle": Out(1), "running": Out(1), "pc": Out(PC_BITS),
    "retired": Out(32), "cycles": Out(32), "busy_cycles": Out(32), "vec_elems": Out(32),
    "task_starts": Out(32), "clearing": Out(1),
})


class StatusCounters(wiring.Component):
    def __init__(self, lanes: int):
        self.lanes = lanes
        super().__init__({
            "status": Out(StatusSignature),
            "core_err": In(ErrorReport),
            "vec_err": In(ErrorReport),
            "halt": Out(1),
            "halted": Out(1),
            "retire": In(1),
            "start": In(1),
            "elems": In(data.StructLayout({"valid": 1, "k": range(lanes + 1)})),
            "run": In(1),
            "clear": In(1),
            "clearing": In(1),
            "running": In(1),
            "core_busy": In(1),
            "pc": In(PC_BITS),
            "vec_busy": In(1),
            "out_busy": In(1),
            "runnable": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        status = Signal(Status)
        halted = status.halted
        retired = Signal(32)
        cycles = Signal(32)
        busy_cycles = Signal(32)
        vec_elems = Signal(32)
        task_starts = Signal(32)

        # halt: the core's (precise) error first, then the vector engine's
        err = Signal(ErrorReport)
        with m.If(self.core_err.valid):
            m.d.comb += err.eq(self.core_err)
        with m.Elif(self.vec_err.valid):
            m.d.comb += err.eq(self.vec_err)
        m.d.comb += [self.halt.eq(err.valid), self.halted.eq(halted)]
        with m.If(err.valid & ~halted):
            m.d.sync += [status.code.eq(err.code), status.halted.eq(1), status.async_.eq(err.async_),
                         status.task.eq(err.task), status.pc.eq(err.pc)]

        with m.If(self.retire):
            m.d.sync += retired.eq(retired + 1)
        with m.If(self.start):
            m.d.sync += task_starts.eq(task_starts + 1)
        with m.If(self.elems.valid):
            m.d.sync += vec_elems.eq(vec_elems + self.elems.k)
        with m.If(self.clear):
            m.d.sync += [status.eq(0), retired.eq(0), cycles.eq(0), busy_cycles.eq(0), vec_elems.eq(0),
                         task_starts.eq(0)]

        busy = Signal()
        m.d.comb += busy.eq(self.core_busy | self.vec_busy | self.out_busy)
        with m.If(self.run & ~halted & ~self.clear):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(busy):
                m.d.sync += busy_cycles.eq(busy_cycles + 1)
        st = self.status
        m.d.comb += [
            st.word.eq(status.as_value()), st.halted.eq(halted), st.pc.eq(self.pc), st.retired.eq(retired),
            st.cycles.eq(cycles), st.busy_cycles.eq(busy_cycles), st.vec_elems.eq(vec_elems),
            st.task_starts.eq(task_starts), st.clearing.eq(self.clearing), st.running.eq(self.running),
            st.idle.eq(~busy & (halted | ~self.runnable)),
        ]
        return m
