"""The PE's side of the RAMP port: the per-color input queues and the output wavelet register.

Role
----
``RampInput`` holds what the router delivered: one 2-entry FIFO per color. Its ``ready[color]``
toward the router is registered and means "room for one more next cycle", so one color streams
at one wavelet per cycle. Consumers pop one wavelet (``pop1``: a task start or a vector operand)
or two (``pop2``: an op whose A and B operands read the same color). CLEAR empties every queue.

``RampOutput`` is the one output register. The vector write-back (FOUT elements) has priority
over the scalar core's ``send``; ``ramp.valid`` is raised only while the router's
``ready[color]`` is high, so a stalled color stalls its sender.

Interfaces (``wiring.Component``, domain ``sync``)
--------------------------------------------------
RampInput(colors)
    ramp    In(LinkSignature(colors))   wavelets from the router; drives ready[color]
    q       Out(QueueSignature(colors)) head, next (behind the head), count per color
    pop1    In(colors)                  pop one wavelet of each color set
    pop2    In(colors)                  pop two wavelets of each color set
    clear   In(1)                       empty every queue
RampOutput(colors)
    ramp    Out(LinkSignature(colors))  wavelets to the router
    vec     In(stream.Signature(WaveletLayout))   vector write-back; ready = the register is free
    core    In(stream.Signature(WaveletLayout))   send; ready = free and the vector does not push
    busy    Out(1)                      the register holds a wavelet
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..router import LinkSignature
from ..wavelet import WaveletLayout
from .common import QueueSignature

__all__ = ["RampInput", "RampOutput"]


class RampInput(wiring.Component):
    def __init__(self, colors: int):
        self.colors = colors
        super().__init__({
            "ramp": In(LinkSignature(colors)),
            "q": Out(QueueSignature(colors)),
            "pop1": In(colors),
            "pop2": In(colors),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        w_in = self.ramp.data
        rdy = Signal(self.colors)
        m.d.comb += self.ramp.ready.eq(rdy)
        word = Cat(w_in.payload, w_in.ctrl)
        for c in range(self.colors):
            q0, q1, qn = self.q.head[c].as_value(), self.q.next[c].as_value(), self.q.count[c]
            push = self.ramp.valid & (w_in.color == c) & (qn < 2)
            pop1, pop2 = self.pop1[c], self.pop2[c]
            npop = Mux(pop2, 2, Mux(pop1, 1, 0))
            after = Signal(range(3), name=f"q{c}_after")  # count after the pops
            m.d.comb += after.eq(qn - npop)
            # The incoming wavelet goes to the first entry free after the pops.
            with m.If(pop2):
                m.d.sync += [q0.eq(word), q1.eq(word)]
            with m.Elif(pop1):
                m.d.sync += q0.eq(Mux(qn == 2, q1, word))
                with m.If(qn == 2):
                    m.d.sync += q1.eq(word)
            with m.Elif(push):
                with m.If(qn == 0):
                    m.d.sync += q0.eq(word)
                with m.Else():
                    m.d.sync += q1.eq(word)
            nxt = Signal(range(3), name=f"q{c}_next")
            m.d.comb += nxt.eq(after + push)
            m.d.sync += [qn.eq(Mux(self.clear, 0, nxt)), rdy[c].eq(self.clear | (nxt < 2))]
        return m


class RampOutput(wiring.Component):
    def __init__(self, colors: int):
        self.colors = colors
        super().__init__({
            "ramp": Out(LinkSignature(colors)),
            "vec": In(stream.Signature(WaveletLayout)),
            "core": In(stream.Signature(WaveletLayout)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ob_valid = Signal()
        ob = Signal(WaveletLayout)
        ob_ready = Signal()
        m.d.comb += [
            ob_ready.eq((self.ramp.ready >> ob.color)[0]),
            self.ramp.valid.eq(ob_valid & ob_ready),
            self.ramp.data.eq(ob),
            self.busy.eq(ob_valid),
        ]
        free = Signal()  # the register can take a wavelet this cycle
        m.d.comb += free.eq(~ob_valid | ob_ready)
        vec_push = Signal()
        core_push = Signal()
        m.d.comb += [
            self.vec.ready.eq(free),
            vec_push.eq(self.vec.valid & self.vec.ready),
            self.core.ready.eq(free & ~vec_push),
            core_push.eq(self.core.valid & self.core.ready),
        ]
        with m.If(vec_push):
            m.d.sync += [ob_valid.eq(1), ob.eq(self.vec.payload)]
        with m.Elif(core_push):
            m.d.sync += [ob_valid.eq(1), ob.eq(self.core.payload)]
        with m.Elif(ob_valid & ob_ready):
            m.d.sync += ob_valid.eq(0)
        return m
