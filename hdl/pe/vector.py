"""The PE's vector engine: contexts, the I stage and the C/F/D pipeline with its write-back.

Role
----
Executes the running task's synchronous vector op (context 0; the core waits) and the
asynchronous ops of the micro-threads (contexts 1..``uthreads``), one element group per cycle,
groups of different contexts interleaved oldest first. Three components, wired here:

    VectorContexts (vcontexts.py)   op state per context; which context issues; completions
    IssueStage     (vissue.py)      I: group formation, address checks, row reads, A-row buffer,
                                    RAW interlock, fabric pops, element errors
    VectorPipeline (vpipe.py)       C, F, D0..D3 (FPLanes) and the write-back

An element error stops all issue, lets the groups before it drain (``pipeline empty``), then
is reported on ``err`` (``async_`` for a micro-thread; pc and task of the issuing instruction).

Interface (``VectorEngine(colors, uthreads, lanes16, lanes32, sram_bytes, rows, row_bits, banks)``,
``wiring.Component``, domain ``sync``)
-----------------------------------------------------------------------------------------------
core      Out(VecCoreSignature)      launch, ctx, op (VecOp) from the core; sync_done, free,
                                     free_ctx, err_pend to it
q         In(QueueSignature)         RAMP input queues
pop1, pop2  Out(colors)              wavelets consumed
mem       Out(VectorMemSignature)    SRAM ports (through the arbiter)
out       Out(stream.Signature(WaveletLayout))   FOUT elements to the output register
claimed   Out(colors)                colors read by in-flight ops
done      Out(32)                    done tasks of completing asynchronous ops
busy      Out(1)                     an op is active or a group is in flight
elems     Out(valid, k)              k elements written back or sent this cycle
lane_op   Out(LaneOp)                their class (hdl/probe.py activity counters)
finish    Out(1)                     an op (any context) finishes this cycle
err       Out(ErrorReport)           an element error, pipeline drained
halted, halt, clear   In(1)
"""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..isa import NUM_TASKS
from ..probe import LaneOp
from ..wavelet import WaveletLayout
from .common import ErrorReport, QueueSignature, VecOp, VectorMemSignature
from .vcontexts import VectorContexts
from .vissue import IssueStage
from .vpipe import VectorPipeline

__all__ = ["VectorEngine", "VecCoreSignature"]


def VecCoreSignature(nctx: int) -> wiring.Signature:
    """The engine's side of its port to the scalar core."""
    return wiring.Signature({
        "launch": In(1),  # start op in context ctx (0: the task's synchronous op)
        "ctx": In(range(nctx)),
        "op": In(VecOp),
        "sync_done": Out(1),  # context 0 finishes this cycle
        "free": Out(1),  # a micro-thread is free ...
        "free_ctx": Out(range(nctx)),  # ... this one
        "err_pend": Out(1),  # an element error waits for the pipeline to drain
    })


class VectorEngine(wiring.Component):
    def __init__(self, colors, uthreads, lanes16, lanes32, sram_bytes, rows, row_bits, banks):
        self.colors = colors
        self.nctx = uthreads + 1  # context 0: the running task's synchronous op
        self.lanes16, self.lanes32 = lanes16, lanes32
        self.sram_bytes, self.rows, self.row_bits, self.banks = sram_bytes, rows, row_bits, banks
        super().__init__({
            "core": Out(VecCoreSignature(self.nctx)),
            "q": In(QueueSignature(colors)),
            "pop1": Out(colors),
            "pop2": Out(colors),
            "mem": Out(VectorMemSignature(row_bits)),
            "out": Out(stream.Signature(WaveletLayout)),
            "claimed": Out(colors),
            "done": Out(NUM_TASKS),
            "busy": Out(1),
            "elems": Out(data.StructLayout({"valid": 1, "k": range(lanes16 + 1)})),
            "lane_op": Out(LaneOp),
            "finish": Out(1),
            "err": Out(ErrorReport),
            "halted": In(1),
            "halt": In(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.contexts = ctx = VectorContexts(self.colors, self.nctx, self.lanes16)
        m.submodules.issue_stage = iss = IssueStage(self.colors, self.nctx, self.lanes16, self.lanes32, self.sram_bytes,
                                              self.rows, self.row_bits, self.banks)
        m.submodules.pipe = pipe = VectorPipeline(self.nctx, self.lanes16, self.lanes32, self.row_bits)
        core, mem = self.core, self.mem

        # contexts
        m.d.comb += [
            ctx.launch.valid.eq(core.launch), ctx.launch.ctx.eq(core.ctx), ctx.launch.op.eq(core.op),
            ctx.issue.eq(iss.issue), ctx.phase.eq(iss.phase), ctx.count.eq(self.q.count),
            ctx.wb.done.eq(pipe.wb.done), ctx.wb.ctx.eq(pipe.wb.ctx), ctx.err_ctx.eq(iss.err.ctx),
            core.sync_done.eq(ctx.finish[0]), core.free.eq(ctx.free.any), core.free_ctx.eq(ctx.free.ctx),
            core.err_pend.eq(iss.err.pend),
            self.claimed.eq(ctx.claimed), self.done.eq(ctx.done),
        ]
        # I stage
        wiring.connect(m, wiring.flipped(self.q), iss.q)
        wiring.connect(m, wiring.flipped(mem.rd0), iss.rd0)
        wiring.connect(m, wiring.flipped(mem.rd1), iss.rd1)
        m.d.comb += [
            iss.sel.eq(ctx.sel), iss.any_elig.eq(ctx.any_elig), iss.probing.eq(ctx.probing),
            iss.c_free.eq(pipe.c_free), iss.pending.eq(pipe.pending),
            mem.rd0_demand.eq(iss.rd0_demand), iss.taken.eq(mem.taken),
            iss.launch.eq(core.launch),
            self.pop1.eq(iss.pop1), self.pop2.eq(iss.pop2),
        ]
        # pipeline
        wiring.connect(m, wiring.flipped(mem.wr), pipe.wr)
        wiring.connect(m, pipe.out, wiring.flipped(self.out))
        m.d.comb += [
            pipe.issue.eq(iss.issue.valid), pipe.group.eq(iss.group), pipe.hold.eq(iss.hold),
            pipe.rd0_data.eq(mem.rd0.data), pipe.rd1_data.eq(mem.rd1.data),
            self.elems.valid.eq(pipe.wb.done), self.elems.k.eq(pipe.wb.k), self.lane_op.eq(pipe.wb_op),
            self.finish.eq(ctx.finish.any()),
        ]
        for sub in (ctx, iss, pipe):
            m.d.comb += [sub.halt.eq(self.halt), sub.clear.eq(self.clear)]
        m.d.comb += iss.halted.eq(self.halted)

        # status: busy, and an element error once the groups before it have drained
        m.d.comb += [
            self.busy.eq(ctx.active.any() | ~pipe.empty),
            self.err.valid.eq(iss.err.pend & pipe.empty),
            self.err.code.eq(iss.err.code),
            self.err.async_.eq(iss.err.ctx != 0),
            self.err.pc.eq(ctx.err_pc),
            self.err.task.eq(ctx.err_task),
        ]
        return m
