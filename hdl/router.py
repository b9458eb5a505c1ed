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
from functools import reduce

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .profiles import Profile, get_profile
from .router_config import CFG_ADDR_BITS, CFG_DATA_BITS, FIELD_SWITCH, MAX_POSITIONS, CfgAddr, RouteWord, SwitchWord
from .wavelet import NUM_PORTS, PAYLOAD_BITS, Port, SwitchCmd, WaveletLayout

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


CfgSignature = wiring.Signature({
    "we": Out(1),
    "addr": Out(CFG_ADDR_BITS),
    "data": Out(CFG_DATA_BITS),
})


def _any(bits):
    bits = list(bits)
    return reduce(lambda a, b: a | b, bits) if bits else Const(0)


def _popcount(bits):
    bits = list(bits)
    return sum(bits[1:], bits[0]) if bits else Const(0)


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

        # ---- route tables (per color) --------------------------------------------------------
        # Every route comes out of reset empty except the management color's, which carries loading
        # traffic from the west edge along each row before anything has been configured.
        M = self.profile.mgmt_color
        mgmt_rx, mgmt_tx = 1 << Port.W, (1 << Port.E) | (1 << Port.RAMP)
        rx = [[Signal(P, name=f"rx_c{c}_k{k}", init=mgmt_rx if (c, k) == (M, 0) else 0)
               for k in range(MAX_POSITIONS)] for c in range(C)]
        tx = [[Signal(P, name=f"tx_c{c}_k{k}", init=mgmt_tx if (c, k) == (M, 0) else 0)
               for k in range(MAX_POSITIONS)] for c in range(C)]
        last = [Signal(2, name=f"last_c{c}") for c in range(C)]
        ring = [Signal(name=f"ring_c{c}") for c in range(C)]
        pos = [Signal(2, name=f"pos_c{c}") for c in range(C)]
        # Each use of an ArrayProxy elaborates a new multiplexer: select once into signals.
        rx_cur = [Signal(P, name=f"rx_cur_c{c}") for c in range(C)]
        tx_cur = [Signal(P, name=f"tx_cur_c{c}") for c in range(C)]
        for c in range(C):
            m.d.comb += [rx_cur[c].eq(Array(rx[c])[pos[c]]), tx_cur[c].eq(Array(tx[c])[pos[c]])]
        # Ports that some configured position admits: anything else is a routing error.
        rx_union = []
        for c in range(C):
            u = Signal(P, name=f"rx_union_c{c}")
            m.d.comb += u.eq(_any(Mux(last[c] >= k, rx[c][k], 0) for k in range(MAX_POSITIONS)))
            rx_union.append(u)

        cfg_addr = CfgAddr(self.cfg.addr)
        cfg_route = RouteWord(self.cfg.data[:RouteWord.size])
        cfg_sw = SwitchWord(self.cfg.data[:SwitchWord.size])
        cfg_color = cfg_addr.color
        cfg_field = cfg_addr.field
        cfg_bad = Signal()
        m.d.comb += cfg_bad.eq(self.cfg.we & ((cfg_color >= C) | (cfg_field > FIELD_SWITCH)))
        cfg_switch_write = [Signal(name=f"cfg_sw_c{c}") for c in range(C)]
        for c in range(C):
            hit = self.cfg.we & (cfg_color == c)
            for k in range(MAX_POSITIONS):
                with m.If(hit & (cfg_field == k)):
                    m.d.sync += [rx[c][k].eq(cfg_route.rx), tx[c][k].eq(cfg_route.tx)]
            m.d.comb += cfg_switch_write[c].eq(hit & (cfg_field == FIELD_SWITCH))
            with m.If(cfg_switch_write[c]):
                m.d.sync += [last[c].eq(cfg_sw.last), ring[c].eq(cfg_sw.ring)]

        # ---- per (input port, color) FIFOs ---------------------------------------------------
        # Entries hold payload + ctrl; the color is implied by the FIFO.
        entry_bits = PAYLOAD_BITS + 1
        count = [[Signal(range(D + 1), name=f"cnt_p{p}_c{c}") for c in range(C)] for p in range(P)]
        rdptr = [[Signal(range(D), name=f"rd_p{p}_c{c}") for c in range(C)] for p in range(P)]
        wrptr = [[Signal(range(D), name=f"wr_p{p}_c{c}") for c in range(C)] for p in range(P)]
        store = [[[Signal(entry_bits, name=f"q_p{p}_c{c}_{i}") for i in range(D)] for c in range(C)]
                 for p in range(P)]
        head = [[Signal(entry_bits, name=f"head_p{p}_c{c}") for c in range(C)] for p in range(P)]
        for p in range(P):
            for c in range(C):
                m.d.comb += head[p][c].eq(Array(store[p][c])[rdptr[p][c]])
        write = [[Signal(name=f"wen_p{p}_c{c}") for c in range(C)] for p in range(P)]
        deq = [[Signal(name=f"deq_p{p}_c{c}") for c in range(C)] for p in range(P)]

        in_drop_rx, in_drop_color, in_drop_over = [], [], []
        for p in range(P):
            link = ins[p]
            col = link.data.color
            entry = Cat(link.data.payload, link.data.ctrl)
            bad_color = Signal(name=f"bad_color_p{p}")
            m.d.comb += bad_color.eq(link.valid & (col >= C))
            rx_ok = Signal(name=f"rx_ok_p{p}")
            over = Signal(name=f"over_p{p}")
            m.d.comb += [
                rx_ok.eq(Array(u[p] for u in rx_union)[col] if C > 1 else rx_union[0][p]),
                over.eq(Array(count[p][c] == D for c in range(C))[col] if C > 1 else count[p][0] == D),
            ]
            in_drop_color.append(bad_color)
            in_drop_rx.append(link.valid & ~bad_color & ~rx_ok)
            in_drop_over.append(link.valid & ~bad_color & rx_ok & over)
            for c in range(C):
                m.d.comb += write[p][c].eq(link.valid & (col == c) & rx_union[c][p] & (count[p][c] != D))
                with m.If(write[p][c]):
                    m.d.sync += [Array(store[p][c])[wrptr[p][c]].eq(entry),
                                 wrptr[p][c].eq(Mux(wrptr[p][c] == D - 1, 0, wrptr[p][c] + 1))]
                with m.If(deq[p][c]):
                    m.d.sync += rdptr[p][c].eq(Mux(rdptr[p][c] == D - 1, 0, rdptr[p][c] + 1))
                m.d.sync += count[p][c].eq(count[p][c] + write[p][c] - deq[p][c])
                m.d.comb += link.ready[c].eq(count[p][c] != D)

        # ---- output arbitration --------------------------------------------------------------
        # Requests are flattened color-major: index i = c * P + p.
        N = P * C
        eligible = [[Signal(name=f"elig_p{p}_c{c}") for c in range(C)] for p in range(P)]
        sent = [[Signal(P, name=f"sent_p{p}_c{c}") for c in range(C)] for p in range(P)]
        for p in range(P):
            for c in range(C):
                m.d.comb += eligible[p][c].eq((count[p][c] != 0) & rx_cur[c][p])

        grants = []  # grants[o] = N-bit one-hot
        for o in range(P):
            req = Signal(N, name=f"req_o{o}")
            m.d.comb += req.eq(Cat(
                eligible[p][c] & tx_cur[c][o] & ~sent[p][c][o] & outs[o].ready[c]
                for c in range(C) for p in range(P)))
            last_grant = Signal(N, name=f"last_grant_o{o}")
            upto_last = Signal(N, name=f"upto_last_o{o}")  # bits 0..index of last grant
            m.d.comb += upto_last.eq((last_grant << 1) - 1)
            after_last = Signal(N, name=f"after_last_o{o}")
            m.d.comb += after_last.eq(req & ~upto_last)
            pool = Signal(N, name=f"pool_o{o}")
            m.d.comb += pool.eq(Mux(after_last.any(), after_last, req))
            grant = Signal(N, name=f"grant_o{o}")
            m.d.comb += grant.eq(pool & (~pool + 1))  # lowest set bit
            with m.If(req.any()):
                m.d.sync += last_grant.eq(grant)
            grants.append(grant)
            m.d.comb += self.stalls[o].eq(_any(
                eligible[p][c] & tx_cur[c][o] & ~sent[p][c][o] & ~outs[o].ready[c]
                for c in range(C) for p in range(P)))

            out = outs[o]
            m.d.comb += [
                out.valid.eq(req.any()),
                out.data.payload.eq(_any(Mux(grant[c * P + p], head[p][c][:PAYLOAD_BITS], 0)
                                         for c in range(C) for p in range(P))),
                out.data.ctrl.eq(_any(grant[c * P + p] & head[p][c][PAYLOAD_BITS]
                                      for c in range(C) for p in range(P))),
                out.data.color.eq(_any(Mux(grant[c * P:(c + 1) * P].any(), c, 0) for c in range(1, C))),
            ]

        # ---- dequeue, multicast bookkeeping, switches -------------------------------------------
        no_tx_drops = []
        passed_ctrl = [[] for _ in range(C)]  # (valid, cmd) per input port, for each color
        for p in range(P):
            for c in range(C):
                taken = Signal(P, name=f"taken_p{p}_c{c}")
                m.d.comb += taken.eq(sent[p][c] | Cat(grants[o][c * P + p] for o in range(P)))
                done = Signal(name=f"done_p{p}_c{c}")
                no_tx = Signal(name=f"notx_p{p}_c{c}")
                m.d.comb += [
                    no_tx.eq(eligible[p][c] & (tx_cur[c] == 0)),
                    done.eq(eligible[p][c] & (tx_cur[c] != 0) & ((taken & tx_cur[c]) == tx_cur[c])),
                    deq[p][c].eq(done | no_tx),
                ]
                with m.If(deq[p][c]):
                    m.d.sync += sent[p][c].eq(0)
                with m.Elif(eligible[p][c]):
                    m.d.sync += sent[p][c].eq(taken)
                no_tx_drops.append(no_tx)
                passed_ctrl[c].append((done & head[p][c][PAYLOAD_BITS], head[p][c][:2]))

        for c in range(C):
            # If several ports pass a control wavelet of one color in one cycle, the lowest port wins
            # (documented: switched colors should have a single source per router).
            cmd = Signal(2, name=f"swcmd_c{c}")
            sel = Const(SwitchCmd.NONE, 2)
            for v, k in reversed(passed_ctrl[c]):
                sel = Mux(v, k, sel)
            m.d.comb += cmd.eq(sel)
            with m.If(cfg_switch_write[c] | (cmd == SwitchCmd.RESET)):
                m.d.sync += pos[c].eq(0)
            with m.Elif(cmd == SwitchCmd.ADVANCE):
                with m.If(pos[c] < last[c]):
                    m.d.sync += pos[c].eq(pos[c] + 1)
                with m.Elif(ring[c]):
                    m.d.sync += pos[c].eq(0)

        # ---- status --------------------------------------------------------------------------
        drops_now = _popcount([*in_drop_rx, *in_drop_color, *in_drop_over, *no_tx_drops])
        total = Signal(DROP_COUNTER_BITS + 1)
        m.d.comb += total.eq(self.drops + drops_now)
        m.d.sync += self.drops.eq(Mux(total[DROP_COUNTER_BITS:].any(), 2**DROP_COUNTER_BITS - 1, total))
        flags = [0] * len(RouterError)
        flags[RouterError.RX_VIOLATION] = _any(in_drop_rx)
        flags[RouterError.BAD_COLOR] = _any(in_drop_color)
        flags[RouterError.OVERFLOW] = _any(in_drop_over)
        flags[RouterError.NO_TX] = _any(no_tx_drops)
        flags[RouterError.BAD_CFG] = cfg_bad
        m.d.sync += self.errors.eq(self.errors | Cat(flags))
        return m
