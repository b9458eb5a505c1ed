"""A fabric link with extra register stages: the long link across a die (reticle) boundary.

Role
----
A link between two dies is longer than the others and gets ``stages`` = L register stages in each
direction. Wavelets and ready bits then take L more cycles each way, so a sender that obeys the
link protocol (docs/wavelet.md: send color c only while ready[c] is high) sees ready up to L
cycles late, and everything it sends in that window must still find room. ``BoundaryLink`` keeps
the protocol intact on both sides and loses nothing:

    sender side   ``tx`` (the link as the sender sees it): valid/data go into L - 1 forward
                  register stages and then into the far end's per-color buffer (itself a
                  register, the L-th stage); ``ready[c]`` comes back through L register stages
    far end       one buffer per color (``lib.fifo.SyncFIFO``, depth ``buffer_depth(L)``); each
                  cycle one head whose color the receiver is ready for leaves on ``rx``
                  (round-robin over colors), so a stalled color never blocks another
    ready         ready[c] leaves the far end high while color c's buffer has room for every
                  wavelet that may still arrive before the sender sees it low: the L in the
                  forward stages and the L the sender can start while the low bit travels back,
                  so ``buffer_depth(L) = 2 L + 1`` keeps one wavelet per cycle per color flowing
                  (a buffer holding at most one wavelet still reports room)

A transfer takes 1 + L cycles from the sender's port to the receiving router's input FIFO (1 on
a plain link). Per link direction the cost is colors x (2 L + 1) buffer entries of the wavelet's
payload and ctrl, L - 1 forward stages of a whole wavelet and L x colors ready flip-flops (see
``flip_flops``; docs/wafer.md). A write into a full buffer — a sender that ignored ready — is
dropped and sets the sticky ``overflow`` flag (never silent).

Interface (``BoundaryLink(colors, stages)``, ``wiring.Component``, domain ``sync``)
    tx        In(LinkSignature(colors))    from the sender: valid, data -> ready[colors]
    rx        Out(LinkSignature(colors))   to the receiver: valid, data <- ready[colors]
    overflow  Out(1)                       sticky: a wavelet arrived for a full buffer
buffer_depth(stages) -> int; flip_flops(colors, stages) -> int; check_stages(stages) -> int
BOUNDARY_MODULE   the module's name in a mesh top (hdl/mesh_top.py)
"""

from __future__ import annotations

from amaranth import Array, Cat, Module, Mux, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from .router import LinkSignature
from .wavelet import PAYLOAD_BITS, WAVELET_BITS

__all__ = ["BoundaryLink", "buffer_depth", "check_stages", "flip_flops", "MAX_STAGES", "BOUNDARY_MODULE"]

MAX_STAGES = 8
BOUNDARY_MODULE = "tessera_boundary"


def check_stages(stages) -> int:
    """The stage count, or a ValueError naming the bad value."""
    if not isinstance(stages, int) or not 1 <= stages <= MAX_STAGES:
        raise ValueError(f"boundary stages must be 1..{MAX_STAGES}, got {stages!r}")
    return stages


def buffer_depth(stages: int) -> int:
    """Entries per color at the far end: the round trip's worth plus the one being drained."""
    return 2 * stages + 1


def flip_flops(colors: int, stages: int) -> int:
    """Flip-flops one direction of a boundary link adds (buffers counted as flip-flops)."""
    entry = PAYLOAD_BITS + 1
    return colors * buffer_depth(stages) * entry + (stages - 1) * (WAVELET_BITS + 1) + stages * colors


class BoundaryLink(wiring.Component):
    def __init__(self, colors: int, stages: int = 1):
        self.colors, self.stages = colors, check_stages(stages)
        super().__init__({
            "tx": In(LinkSignature(colors)),
            "rx": Out(LinkSignature(colors)),
            "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        C, L = self.colors, self.stages
        depth = buffer_depth(L)

        # forward: L - 1 register stages, then the buffers' write (the L-th)
        valid, data = self.tx.valid, self.tx.data
        for i in range(L - 1):
            v = Signal(name=f"fwd{i}_valid")
            d = Signal.like(self.tx.data, name=f"fwd{i}_data")
            m.d.sync += [v.eq(valid), d.eq(data)]
            valid, data = v, d

        bufs = []
        for c in range(C):
            b = fifo.SyncFIFO(width=PAYLOAD_BITS + 1, depth=depth)
            m.submodules[f"buf{c}"] = b
            bufs.append(b)
            m.d.comb += [b.w_data.eq(Cat(data.payload, data.ctrl)), b.w_en.eq(valid & (data.color == c))]
        lost = Signal()
        m.d.comb += lost.eq(valid & ~Array(b.w_rdy for b in bufs)[data.color]) if C > 1 else \
            lost.eq(valid & ~bufs[0].w_rdy)
        with m.If(lost):
            m.d.sync += self.overflow.eq(1)
        # colors >= C cannot come from a router (it drops them); they would be lost here too
        with m.If(valid & (data.color >= C)):
            m.d.sync += self.overflow.eq(1)

        # far end: round-robin over the colors whose head the receiver is ready for
        want = Signal(C)
        m.d.comb += want.eq(Cat(b.r_rdy & self.rx.ready[c] for c, b in enumerate(bufs)))
        last = Signal(C, init=1 << (C - 1))
        upto = Signal(C)
        m.d.comb += upto.eq((last << 1) - 1)
        after = Signal(C)
        m.d.comb += after.eq(want & ~upto)
        pool = Signal(C)
        m.d.comb += pool.eq(Mux(after.any(), after, want))
        grant = Signal(C)
        m.d.comb += grant.eq(pool & (~pool + 1))
        with m.If(want.any()):
            m.d.sync += last.eq(grant)
        head = Signal(PAYLOAD_BITS + 1)
        color = Signal(range(max(C, 2)))
        for c, b in enumerate(bufs):
            m.d.comb += b.r_en.eq(grant[c])
            with m.If(grant[c]):
                m.d.comb += [head.eq(b.r_data), color.eq(c)]
        m.d.comb += [self.rx.valid.eq(want.any()), self.rx.data.payload.eq(head[:PAYLOAD_BITS]),
                     self.rx.data.ctrl.eq(head[PAYLOAD_BITS]), self.rx.data.color.eq(color)]

        # ready back to the sender: room for 2 L more, then L register stages
        ready = Signal(C)
        m.d.comb += ready.eq(Cat(b.level <= depth - 2 * L for b in bufs))
        for i in range(L):
            r = Signal(C, name=f"bwd{i}_ready", init=(1 << C) - 1)
            m.d.sync += r.eq(ready)
            ready = r
        m.d.comb += self.tx.ready.eq(ready)
        return m

