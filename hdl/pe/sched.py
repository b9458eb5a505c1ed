"""The PE's task scheduler: task table, color bindings, runnable tasks and the next task to start.

Role
----
Holds the task table (entry PC, valid, pending, blocked per task ID) and the color bindings
(docs/isa.md "Tasks"). A task is wavelet-ready when one of its bound colors has a wavelet at the
head of its input queue and no in-flight vector op reads that color (``claimed``); runnable =
valid & ~blocked & (pending | wavelet-ready). The lowest runnable ID is offered to the scalar core
with its entry PC and its r14/r15 start values; when the core starts it, a wavelet-ready task
pops the wavelet of its lowest ready bound color, an only-pending task has its pending flag
cleared. Pending and blocked flags also change by ``activate``/``block``/``unblock``, by the
completion of asynchronous ops (``done``) and by load-bus writes, which win over the rest.

Interfaces (``Scheduler(colors)``, ``wiring.Component``, domain ``sync``)
----------------------------------------------------------------------
core       Out(SchedSignature)         runnable, valid[32], next (TaskStart) to the core;
                                       start, bind (BindReq), flags (FlagReq) from it
q          In(QueueSignature(colors))  input queue heads and counts
claimed    In(colors)                  colors read by in-flight vector ops
done       In(32)                      tasks to activate (asynchronous ops completed)
pop        Out(colors)                 the wavelet a starting task consumes
task_wr    In(TaskWriteSignature)      load-bus task table writes
bind_wr    In(BindWriteSignature)      load-bus binding writes
clear      In(1)                       CLEAR: no valid task, no flag, no binding
dbg_index  In(5)                       debug read: task ID or color (the wider of the two)
dbg_task   Out(TaskWord)               that task's entry and flags
dbg_bind   Out(BindWord)               that color's binding
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..isa import NUM_TASKS, PC_BITS, TASK_BITS
from ..loadmap import BindWord, TaskWord
from ..wavelet import COLOR_BITS, PAYLOAD_BITS
from .common import BindReq, FlagReq, QEntry, QueueSignature, TaskStart, select
from .loadbus import BindWriteSignature, TaskWriteSignature

__all__ = ["Scheduler", "SchedSignature"]

SchedSignature = wiring.Signature({
    "runnable": Out(1),  # some task is runnable
    "valid": Out(NUM_TASKS),  # the task table's valid bits (the core's task-ID checks)
    "next": Out(TaskStart),  # the task the core would start now
    "start": In(1),  # the core starts it this cycle
    "bind": In(BindReq),
    "flags": In(FlagReq),
})


class Scheduler(wiring.Component):
    def __init__(self, colors: int):
        self.colors = colors
        super().__init__({
            "core": Out(SchedSignature),
            "q": In(QueueSignature(colors)),
            "claimed": In(colors),
            "done": In(NUM_TASKS),
            "pop": Out(colors),
            "task_wr": In(TaskWriteSignature),
            "bind_wr": In(BindWriteSignature),
            "clear": In(1),
            "dbg_index": In(max(TASK_BITS, COLOR_BITS)),
            "dbg_task": Out(TaskWord),
            "dbg_bind": Out(BindWord),
        })

    def elaborate(self, platform):
        m = Module()
        C = self.colors
        core, count = self.core, self.q.count
        t_valid = Signal(NUM_TASKS)
        t_pend = Signal(NUM_TASKS)
        t_block = Signal(NUM_TASKS)
        t_entry = [Signal(PC_BITS, name=f"entry{t}") for t in range(NUM_TASKS)]
        b_valid = Signal(C)
        b_task = [Signal(TASK_BITS, name=f"bind{c}") for c in range(C)]

        # runnable tasks and the one to start: the lowest ID, on its lowest ready bound color
        wready = Signal(NUM_TASKS)
        for t in range(NUM_TASKS):
            terms = [b_valid[c] & (b_task[c] == t) & (count[c] != 0) & ~self.claimed[c] for c in range(C)]
            m.d.comb += wready[t].eq(Cat(*terms).any())
        runnable = Signal(NUM_TASKS)
        m.d.comb += runnable.eq(t_valid & ~t_block & (t_pend | wready))
        pick = Signal(TASK_BITS)
        for t in reversed(range(NUM_TASKS)):
            with m.If(runnable[t]):
                m.d.comb += pick.eq(t)
        pick_color = Signal(COLOR_BITS)
        pick_wav = Signal()
        for c in reversed(range(C)):
            with m.If(b_valid[c] & (b_task[c] == pick) & (count[c] != 0) & ~self.claimed[c]):
                m.d.comb += [pick_color.eq(c), pick_wav.eq(1)]
        pick_head = select(m, [self.q.head[c].as_value() for c in range(C)], pick_color, QEntry.size, "pick_head")
        pick_entry = select(m, t_entry, pick, PC_BITS, "pick_entry")
        nxt = core.next
        m.d.comb += [core.runnable.eq(runnable != 0), core.valid.eq(t_valid),
                     nxt.task.eq(pick), nxt.entry.eq(pick_entry), nxt.r14.task.eq(pick)]
        with m.If(pick_wav):
            m.d.comb += [nxt.r15.eq(pick_head[:PAYLOAD_BITS]), nxt.r14.color.eq(pick_color),
                         nxt.r14.ctrl.eq(pick_head[PAYLOAD_BITS]), nxt.r14.wavelet.eq(1)]

        # flag changes requested this cycle
        pend_set = Signal(NUM_TASKS)
        pend_clr = Signal(NUM_TASKS)
        blk_set = Signal(NUM_TASKS)
        blk_clr = Signal(NUM_TASKS)
        with m.If(core.start):
            with m.If(pick_wav):
                m.d.comb += self.pop.eq(1 << pick_color)
            with m.Else():  # a wavelet start leaves the pending flag set: the task runs again later
                m.d.comb += pend_clr.eq(1 << pick)
        fl = core.flags
        with m.If(fl.activate):
            m.d.comb += pend_set.eq(1 << fl.task)
        with m.If(fl.block):
            m.d.comb += blk_set.eq(1 << fl.task)
        with m.If(fl.unblock):
            m.d.comb += blk_clr.eq(1 << fl.task)

        # state updates, in priority order: bind instruction, load-bus writes, CLEAR
        bd = core.bind
        with m.If(bd.we):
            for c in range(C):
                with m.If(bd.color == c):
                    m.d.sync += [b_valid[c].eq(bd.valid), b_task[c].eq(bd.task)]
        tw = self.task_wr
        with m.If(tw.we):
            for t in range(NUM_TASKS):
                with m.If(tw.index == t):
                    m.d.sync += [t_entry[t].eq(tw.data.entry), t_valid[t].eq(tw.data.valid),
                                 t_pend[t].eq(tw.data.pending), t_block[t].eq(tw.data.blocked)]
        bw = self.bind_wr
        with m.If(bw.we):
            for c in range(C):
                with m.If(bw.index == c):
                    m.d.sync += [b_task[c].eq(bw.data.task), b_valid[c].eq(bw.data.valid)]
        with m.If(~tw.we):
            m.d.sync += [
                t_pend.eq((t_pend & ~pend_clr) | pend_set | self.done),
                t_block.eq((t_block & ~blk_clr) | blk_set),
            ]
        with m.If(self.clear):
            m.d.sync += [t_valid.eq(0), t_pend.eq(0), t_block.eq(0), b_valid.eq(0)]

        # debug reads
        dreg = self.dbg_index
        m.d.comb += [
            self.dbg_task.eq(Cat(Array(t_entry)[dreg], t_valid.bit_select(dreg, 1), t_pend.bit_select(dreg, 1),
                                 t_block.bit_select(dreg, 1))),
            self.dbg_bind.eq(Cat(b_task[0] if C == 1 else Array(b_task)[dreg], Const(0, 3),
                                 b_valid.bit_select(dreg, 1))),
        ]
        return m
