"""The 5-port color-routed fabric router.

Ports N, E, S, W and RAMP (to/from the PE's own core). Each link carries at most one wavelet per
cycle and direction, with per-color backpressure: the receiver drives one ``ready`` bit per color,
meaning "my buffer for this color on this link has room" (a registered signal, so no
combinational path crosses a router). A sender may only present a wavelet of color c while
``ready[c]`` is high; the transfer happens on every cycle with ``valid`` high.

Inside, every (input port, color) pair has its own small FIFO (``profile.fifo_depth`` entries), so
colors are true virtual channels: a stalled color fills only its own buffers and withdraws only
its own ready bit. Each output port arbitrates round-robin among the FIFO heads that want it.
A head routed to several outputs (multicast) is handed to each as that output grants it and
leaves its FIFO when every output of its TX set has taken it. The wavelet crosses the router in the
cycle after it was written (one cycle per hop at zero load): FIFO heads feed the output links
combinationally, and the next router's FIFO registers them.

Per color the router holds up to 4 route positions (an RX set and a TX set each), the index of the
last position, a ring flag and the current position. A control wavelet carrying an ADVANCE or
RESET command (payload[1:0]) changes the current position after it has left its FIFO.
At reset every route is empty except the management color's (``profile.mgmt_color``): RX {W},
TX {E, RAMP}, the path that loads a mesh from its west edge (docs/mesh.md).
A wavelet whose input port is in no position's RX set of its color, or whose color is not routable
in this profile, is dropped on arrival and counted; one whose port is in another position's RX set
waits in its FIFO until the switch admits it.

``Router`` wires the units of hdl/router_units.py (docs/router.md lists them): a RouteTable and a
SwitchState per router, an InputQueue and a HeadState per (input port, color), a RoundRobinArbiter
per output, a DropCounter and ErrorFlags. What stays here is the wiring: the arrival checks that
admit a wavelet into its color's queue or drop it, the requests to the arbiters, and the output
multiplexers that put the granted head on each link.

Interface (an ``amaranth.lib.wiring.Component``):
    in_n, in_e, in_s, in_w, in_ramp     In(LinkSignature(colors))   valid, data (WaveletLayout), ready[colors]
    out_n, out_e, out_s, out_w, out_ramp  Out(LinkSignature(colors))
    cfg      In(CfgSignature)   we, addr, data — see hdl/router_config.py
    drops    Out(16)            saturating count of dropped wavelets (never cleared but by reset)
    stalls   Out(5)             bit = output port: this cycle a FIFO head waits for that output
                                while its color's ready is low there (activity counters, hdl/probe.py)
    errors   Out(5)             sticky flags, bit = RouterError value
"""

from __future__ import annotations

import enum

from amaranth import Array, Cat, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .profiles import Profile, get_profile
from .router_config import CfgSignature
from .router_units import (
    DropCounter,
    ErrorFlags,
    HeadState,
    InputQueue,
    QueueEntry,
    RoundRobinArbiter,
    RouteTable,
    SwitchState,
    any_of,
)
from .wavelet import NUM_PORTS, ControlPayload, Port, WaveletLayout

__all__ = ["LinkSignature", "CfgSignature", "Router", "RouterError", "DROP_COUNTER_BITS"]

DROP_COUNTER_BITS = 16


class RouterError(enum.IntEnum):
    """Bit positions of the router's sticky ``errors`` flags."""
    RX_VIOLATION = 0  # wavelet arrived on a port outside every RX set of its color (dropped)
    BAD_COLOR = 1  # wavelet color >= profile.colors (dropped)
    OVERFLOW = 2  # sender presented a wavelet while that color's ready was low (dropped)
    NO_TX = 3  # wavelet admitted by a position whose TX set is empty (dropped)
    BAD_CFG = 4  # configuration write to a reserved field or a color >= profile.colors (ignored)


def LinkSignature(colors: int) -> wiring.Signature:
    """One direction of a fabric link, seen from the sender."""
    return wiring.Signature({
        "valid": Out(1),
        "data": Out(WaveletLayout),
        "ready": In(colors),
    })


class Router(wiring.Component):
    def __init__(self, profile: Profile | str = "small"):
        self.profile = get_profile(profile)
        c = self.profile.colors
        members = {}
        for p in Port:
            members[f"in_{p.letter}"] = In(LinkSignature(c))
        for p in Port:
            members[f"out_{p.letter}"] = Out(LinkSignature(c))
        members["cfg"] = In(CfgSignature)
        members["drops"] = Out(DROP_COUNTER_BITS)
        members["stalls"] = Out(len(Port))
        members["errors"] = Out(len(RouterError))
        super().__init__(members)

    def link_in(self, port: Port):
        return getattr(self, f"in_{Port.of(port).letter}")

    def link_out(self, port: Port):
        return getattr(self, f"out_{Port.of(port).letter}")

    def elaborate(self, platform):
        m = Module()
        P, C, D = NUM_PORTS, self.profile.colors, self.profile.fifo_depth
        ins = [self.link_in(p) for p in Port]
        outs = [self.link_out(p) for p in Port]

        m.submodules.route = route = RouteTable(C, self.profile.mgmt_color)
        m.submodules.switch = switch = SwitchState(C)
        wiring.connect(m, wiring.flipped(self.cfg), route.cfg)
        m.d.comb += [route.pos.eq(switch.pos), switch.write.eq(route.switch_write),
                     switch.last.eq(route.last), switch.ring.eq(route.ring)]

        # one FIFO (entries: payload + ctrl; the color is implied) and one head per (port, color)
        queue = [[InputQueue(QueueEntry, D) for c in range(C)] for p in range(P)]
        head = [[HeadState() for c in range(C)] for p in range(P)]
        for p in range(P):
            for c in range(C):
                m.submodules[f"queue_p{p}_c{c}"] = queue[p][c]
                m.submodules[f"head_p{p}_c{c}"] = head[p][c]
                m.d.comb += [head[p][c].valid.eq(queue[p][c].r_rdy), head[p][c].admit.eq(route.rx_cur[c][p]),
                             head[p][c].tx.eq(route.tx_cur[c]), queue[p][c].r_en.eq(head[p][c].deq)]

        # ---- arrival: admit into the color's FIFO or drop -------------------------------------
        drop_rx, drop_color, drop_over = [], [], []
        for p, link in enumerate(ins):
            col = link.data.color
            bad_color = link.valid & (col >= C)
            rx_ok = Array(route.rx_union[c][p] for c in range(C))[col] if C > 1 else route.rx_union[0][p]
            full = Array(~q.w_rdy for q in queue[p])[col] if C > 1 else ~queue[p][0].w_rdy
            drop_color.append(bad_color)
            drop_rx.append(link.valid & ~bad_color & ~rx_ok)
            drop_over.append(link.valid & ~bad_color & rx_ok & full)
            for c, q in enumerate(queue[p]):
                m.d.comb += [q.w_en.eq(link.valid & (col == c) & route.rx_union[c][p]),
                             q.w_data.payload.eq(link.data.payload), q.w_data.ctrl.eq(link.data.ctrl),
                             link.ready[c].eq(q.w_rdy)]

        # ---- departure: each output grants one head that wants it, round-robin ----------------
        # Requests are flattened color-major: index i = c * P + p.
        grants = []
        for o, out in enumerate(outs):
            m.submodules[f"arb_o{o}"] = arb = RoundRobinArbiter(P * C)
            m.d.comb += arb.req.eq(Cat(head[p][c].want[o] & out.ready[c] for c in range(C) for p in range(P)))
            m.d.comb += self.stalls[o].eq(any_of(head[p][c].want[o] & ~out.ready[c]
                                                 for c in range(C) for p in range(P)))
            grant = arb.grant
            m.d.comb += [
                out.valid.eq(arb.valid),
                out.data.payload.eq(any_of(Mux(grant[c * P + p], queue[p][c].r_data.payload, 0)
                                           for c in range(C) for p in range(P))),
                out.data.ctrl.eq(any_of(grant[c * P + p] & queue[p][c].r_data.ctrl
                                        for c in range(C) for p in range(P))),
                out.data.color.eq(any_of(Mux(grant[c * P:(c + 1) * P].any(), c, 0) for c in range(1, C))),
            ]
            grants.append(grant)
        for p in range(P):
            for c in range(C):
                m.d.comb += [head[p][c].grant.eq(Cat(grants[o][c * P + p] for o in range(P))),
                             switch.done[c][p].eq(head[p][c].done & queue[p][c].r_data.ctrl),
                             switch.cmd[c][p].eq(ControlPayload(queue[p][c].r_data.payload).cmd)]

        # ---- status -----------------------------------------------------------------------------
        no_tx = [head[p][c].no_tx for p in range(P) for c in range(C)]
        drop_bits = [*drop_rx, *drop_color, *drop_over, *no_tx]
        m.submodules.drop_counter = drops = DropCounter(len(drop_bits), DROP_COUNTER_BITS)
        m.submodules.error_flags = errors = ErrorFlags(len(RouterError))
        flags = [0] * len(RouterError)
        flags[RouterError.RX_VIOLATION] = any_of(drop_rx)
        flags[RouterError.BAD_COLOR] = any_of(drop_color)
        flags[RouterError.OVERFLOW] = any_of(drop_over)
        flags[RouterError.NO_TX] = any_of(no_tx)
        flags[RouterError.BAD_CFG] = route.cfg_bad
        m.d.comb += [drops.drop.eq(Cat(drop_bits)), self.drops.eq(drops.count),
                     errors.set.eq(Cat(flags)), self.errors.eq(errors.flags)]
        return m
