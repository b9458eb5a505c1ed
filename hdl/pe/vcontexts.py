"""The vector engine's contexts and the choice of the context the I stage serves.

Role
----
``1 + uthreads`` contexts: context 0 holds the running task's synchronous op, contexts 1.. the
micro-threads' asynchronous ops. A context is launched with a whole ``VecOp`` (the op latches its
DSRs and scalar at issue), advances its element index and addresses by each group it issues,
counts its groups in flight, and finishes when every element is issued and written back; an
asynchronous op then activates its done task. CLEAR and a halt stop every context.

The I stage serves the **oldest** eligible context (in launch order): one with elements left
whose fabric inputs are present, and that does not take wavelets of a color an older in-flight op
reads. Memory-only ops are always eligible until fully issued, so with oldest-first selection no
later op issues a group before they have issued all of theirs (docs/isa.md "Ordering"). A group
whose reads were only partly granted keeps its context (``phase``). With no context eligible, one
waiting for fabric input is still selected (``probing``) so that its next element's address
check runs before its wavelet comes, as docs/isa.md orders.

Interface (``VectorContexts(colors, nctx, lanes)``, ``wiring.Component``, domain ``sync``)
-------------------------------------------------------------------------------------
launch      In(valid, ctx, op VecOp)     start an op in a context
issue       In(valid, k, inc[3])         a group of k elements of the selected context left I;
                                         inc = its address increments of A, B, D
wb          In(done, ctx)                a group of that context was written back
phase       In(busy, ctx)                the I stage holds a partly-read group of that context
count       In(colors x 2 bits)          input queue counts
clear, halt In(1)
sel         Out(ctx, op VecOp, i)        the context the I stage serves this cycle, its op and index
any_elig    Out(1)                       some context can issue (or a partly-read group waits)
probing     Out(1)                       none can; sel is one waiting for fabric input
active      Out(nctx)                    contexts holding an op
finish      Out(nctx)                    contexts finishing this cycle
done        Out(32)                      done tasks of asynchronous ops finishing this cycle
claimed     Out(colors)                  colors read by in-flight ops (not free for data tasks)
free        Out(any, ctx)                the lowest free micro-thread context
err_ctx     In(ctx)                      -> err_pc Out(PC_BITS), err_task Out(TASK_BITS): its issuing instruction
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..isa import NUM_TASKS, PC_BITS, TASK_BITS
from .common import ADDR, Operand, VecOp, select

__all__ = ["VectorContexts", "sel_layout", "issue_layout", "phase_layout"]


def sel_layout(nctx: int) -> data.StructLayout:
    return data.StructLayout({"ctx": range(nctx), "op": VecOp, "i": 16})


def issue_layout(lanes: int) -> data.StructLayout:
    return data.StructLayout({"valid": 1, "k": range(lanes + 1), "inc": data.ArrayLayout(ADDR, 3)})


def phase_layout(nctx: int) -> data.StructLayout:
    return data.StructLayout({"busy": 1, "ctx": range(nctx)})


class _Ctx:
    def __init__(self, k):
        self.active = Signal(name=f"x{k}_active")
        self.op = Signal(VecOp, name=f"x{k}_op")
        self.i = Signal(16, name=f"x{k}_i")  # next element to issue
        self.outst = Signal(4, name=f"x{k}_outst")  # groups issued, not yet written back


class VectorContexts(wiring.Component):
    def __init__(self, colors: int, nctx: int, lanes: int):
        self.colors, self.nctx, self.lanes = colors, nctx, lanes
        super().__init__({
            "launch": In(data.StructLayout({"valid": 1, "ctx": range(nctx), "op": VecOp})),
            "issue": In(issue_layout(lanes)),
            "wb": In(data.StructLayout({"done": 1, "ctx": range(nctx)})),
            "phase": In(phase_layout(nctx)),
            "count": In(data.ArrayLayout(unsigned(2), colors)),
            "clear": In(1),
            "halt": In(1),
            "sel": Out(sel_layout(nctx)),
            "any_elig": Out(1),
            "probing": Out(1),
            "active": Out(nctx),
            "finish": Out(nctx),
            "done": Out(NUM_TASKS),
            "claimed": Out(colors),
            "free": Out(data.StructLayout({"any": 1, "ctx": range(nctx)})),
            "err_ctx": In(range(nctx)),
            "err_pc": Out(PC_BITS),
            "err_task": Out(TASK_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        ctxs = [_Ctx(k) for k in range(self.nctx)]
        ctx_issue = Signal(range(self.nctx))  # the context the I stage serves this cycle
        self._state(m, ctxs, ctx_issue)
        cmask = self._claims(m, ctxs)
        self._select(m, ctxs, ctx_issue, cmask)
        return m

    def _state(self, m, ctxs, ctx_issue):
        """Launch, progress and completion of each context."""
        issue, wb, launch = self.issue, self.wb, self.launch
        for k, x in enumerate(ctxs):
            m.d.comb += [self.finish[k].eq(x.active & (x.i == x.op.n) & (x.outst == 0)), self.active[k].eq(x.active)]
            inc_o = issue.valid & (ctx_issue == k)
            dec_o = wb.done & (wb.ctx == k)
            m.d.sync += x.outst.eq(x.outst + inc_o - dec_o)
            with m.If(inc_o):
                m.d.sync += x.i.eq(x.i + issue.k)
                for r in range(3):
                    m.d.sync += x.op.addr[r].eq(x.op.addr[r] + issue.inc[r])
            with m.If(self.finish[k]):
                m.d.sync += x.active.eq(0)
            with m.If(launch.valid & (launch.ctx == k)):
                m.d.sync += [x.active.eq(1), x.i.eq(0), x.outst.eq(0), x.op.eq(launch.op)]
            with m.If(self.clear | self.halt):
                m.d.sync += x.active.eq(0)
        # asynchronous completions activate their done task
        acc = Const(0, NUM_TASKS)
        for k in range(1, self.nctx):
            acc = acc | Mux(self.finish[k], Const(1, NUM_TASKS) << ctxs[k].op.done, 0)
        m.d.comb += self.done.eq(acc)
        # the lowest free micro-thread takes the next asynchronous op
        for k in reversed(range(1, self.nctx)):
            with m.If(~ctxs[k].active):
                m.d.comb += [self.free.ctx.eq(k), self.free.any.eq(1)]
        err_x = select(m, [Cat(x.op.pc, x.op.task) for x in ctxs], self.err_ctx, PC_BITS + TASK_BITS, "err_x")
        m.d.comb += [self.err_pc.eq(err_x[:PC_BITS]), self.err_task.eq(err_x[PC_BITS:])]

    def _claims(self, m, ctxs):
        """Colors each in-flight op reads; returns the per-context masks."""
        C = self.colors
        cmask = []
        for k, x in enumerate(ctxs):
            live = x.active & (x.i != x.op.n)
            cm = Signal(C, name=f"x{k}_claim")
            m.d.comb += cm.eq(Mux(live & (x.op.akind == Operand.FIN), Const(1, 32) << x.op.acolor, 0)[:C]
                              | Mux(live & (x.op.bkind == Operand.FIN), Const(1, 32) << x.op.bcolor, 0)[:C])
            cmask.append(cm)
        cl = Const(0, C)
        for cm in cmask:
            cl = cl | cm
        m.d.comb += self.claimed.eq(cl)
        return cmask

    def _select(self, m, ctxs, ctx_issue, cmask):
        """Eligibility, age order and the context the I stage serves."""
        NCTX = self.nctx
        launch = self.launch
        # age order: older[k][j] = context j was in flight when k was launched. A context may not
        # take wavelets of a color an older in-flight op reads (the oldest op takes them first).
        older = [Signal(NCTX, name=f"x{k}_older") for k in range(NCTX)]
        act_vec = Cat(*[x.active for x in ctxs])
        held = []
        for k in range(NCTX):
            with m.If(launch.valid & (launch.ctx == k)):
                m.d.sync += older[k].eq(act_vec & ~(1 << k))
            with m.Elif(launch.valid):  # the relaunched context is now the youngest
                m.d.sync += older[k].eq(older[k] & ~(Const(1, NCTX) << launch.ctx))
            h = Const(0, self.colors)
            for j in range(NCTX):
                if j != k:
                    h = h | Mux(older[k][j], cmask[j], 0)
            hs = Signal(self.colors, name=f"x{k}_held")
            m.d.comb += hs.eq(h)
            held.append(hs)

        qcount = Array([self.count[c] for c in range(self.colors)])
        elig = Signal(NCTX)
        waiting = Signal(NCTX)
        for k, x in enumerate(ctxs):
            op = x.op
            a_ok = (op.akind != Operand.FIN) | (qcount[op.acolor] != 0)
            b_ok = (op.bkind != Operand.FIN) | (qcount[op.bcolor] != 0)
            same = (op.akind == Operand.FIN) & (op.bkind == Operand.FIN) & (op.acolor == op.bcolor)
            both_ok = ~same | (qcount[op.acolor] == 2)
            m.d.comb += [
                elig[k].eq(x.active & (x.i != op.n) & a_ok & b_ok & both_ok & ~(held[k] & cmask[k]).any()),
                waiting[k].eq(x.active & (x.i != op.n)),
            ]
        phase1, phase_ctx = self.phase.busy, self.phase.ctx
        m.d.comb += self.probing.eq(~phase1 & ~elig.any() & waiting.any())
        first = Signal(NCTX)
        for k in range(NCTX):
            m.d.comb += first[k].eq(elig[k] & ~(older[k] & elig).any())
        with m.If(phase1):
            m.d.comb += ctx_issue.eq(phase_ctx)
        with m.Elif(elig.any()):
            for k in reversed(range(NCTX)):
                with m.If(first[k]):
                    m.d.comb += ctx_issue.eq(k)
        with m.Else():
            for k in reversed(range(NCTX)):
                with m.If(waiting[k]):
                    m.d.comb += ctx_issue.eq(k)
        m.d.comb += [
            self.any_elig.eq(elig.any() | phase1),
            self.sel.ctx.eq(ctx_issue),
            self.sel.op.eq(select(m, [x.op.as_value() for x in ctxs], ctx_issue, VecOp, "sel_op")),
            self.sel.i.eq(select(m, [x.i for x in ctxs], ctx_issue, 16, "sel_i")),
        ]
