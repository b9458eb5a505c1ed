"""The router's units: each a ``wiring.Component`` that ``Router`` (hdl/router.py) wires together.

    unit               role
    RouteTable         per color: 4 route positions (RX, TX), last position and ring flag, written
                       from the cfg port; the RX and TX sets in force at the current positions
    SwitchState        per color: the current route position, moved by passing control wavelets
    InputQueue         one (input port, color) FIFO of QueueEntry: SyncFIFO's ports and timing, named
                       registers
    HeadState          one FIFO head's multicast bookkeeping: which outputs took it, when it leaves
    RoundRobinArbiter  one output's choice among the P x C heads, starting after the last grant
    DropCounter        saturating count of the wavelets dropped this cycle
    ErrorFlags         the sticky ``errors`` bits

Requests, grants and drop bits are flattened as in docs/router.md: request index i = color * P +
port. Per-color vectors are ``lib.data.ArrayLayout`` ports indexed by color.
"""

from __future__ import annotations

from functools import reduce

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .router_config import FIELD_SWITCH, MAX_POSITIONS, CfgAddr, CfgSignature, RouteWord, SwitchWord
from .wavelet import NUM_PORTS, PAYLOAD_BITS, Port, SwitchCmd

__all__ = ["RouteTable", "SwitchState", "InputQueue", "QueueEntry", "HeadState", "RoundRobinArbiter", "DropCounter",
           "ErrorFlags", "any_of", "popcount"]

#: A wavelet in an (input port, color) queue: the color is the queue's own, so it is not stored.
QueueEntry = data.StructLayout({"payload": PAYLOAD_BITS, "ctrl": 1})


def any_of(bits):
    bits = list(bits)
    return reduce(lambda a, b: a | b, bits) if bits else Const(0)


def popcount(bits):
    bits = list(bits)
    return sum(bits[1:], bits[0]) if bits else Const(0)


def _per_color(width, colors):
    return data.ArrayLayout(width, colors)


class RouteTable(wiring.Component):
    """Per color: route positions 0..3 (an RX and a TX set each), the last position and the ring
    flag, written from the configuration port (map in hdl/router_config.py); the sets in force at
    the current position ``pos`` (from SwitchState); the union of the RX sets of positions
    0..last (a port outside it is an RX violation).

    Out of reset every route is empty except ``mgmt_color``'s position 0: RX {W}, TX {E, RAMP}.

        cfg           In(CfgSignature)
        pos           In(ArrayLayout(2, colors))          current position per color
        rx_cur        Out(ArrayLayout(5, colors))          RX set in force
        tx_cur        Out(ArrayLayout(5, colors))          TX set in force
        rx_union      Out(ArrayLayout(5, colors))          RX sets of positions 0..last
        last, ring    Out(ArrayLayout(2, colors)), Out(colors)
        switch_write  Out(colors)   this cycle's write is to the color's switch-control word
        cfg_bad       Out(1)        this cycle's write is to a reserved field or a color >= colors
    """

    def __init__(self, colors: int, mgmt_color: int):
        self.colors, self.mgmt_color = colors, mgmt_color
        P, C = NUM_PORTS, colors
        super().__init__({
            "cfg": In(CfgSignature),
            "pos": In(_per_color(2, C)),
            "rx_cur": Out(_per_color(P, C)),
            "tx_cur": Out(_per_color(P, C)),
            "rx_union": Out(_per_color(P, C)),
            "last": Out(_per_color(2, C)),
            "ring": Out(C),
            "switch_write": Out(C),
            "cfg_bad": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        P, C, M = NUM_PORTS, self.colors, self.mgmt_color
        mgmt_rx, mgmt_tx = 1 << Port.W, (1 << Port.E) | (1 << Port.RAMP)
        rx = [[Signal(P, name=f"rx_c{c}_k{k}", init=mgmt_rx if (c, k) == (M, 0) else 0)
               for k in range(MAX_POSITIONS)] for c in range(C)]
        tx = [[Signal(P, name=f"tx_c{c}_k{k}", init=mgmt_tx if (c, k) == (M, 0) else 0)
               for k in range(MAX_POSITIONS)] for c in range(C)]
        last = [Signal(2, name=f"last_c{c}") for c in range(C)]
        ring = [Signal(name=f"ring_c{c}") for c in range(C)]
        for c in range(C):
            # Each use of an ArrayProxy elaborates a new multiplexer: select once into the ports.
            m.d.comb += [self.rx_cur[c].eq(Array(rx[c])[self.pos[c]]),
                         self.tx_cur[c].eq(Array(tx[c])[self.pos[c]]),
                         self.rx_union[c].eq(any_of(Mux(last[c] >= k, rx[c][k], 0) for k in range(MAX_POSITIONS))),
                         self.last[c].eq(last[c]), self.ring[c].eq(ring[c])]

        addr = CfgAddr(self.cfg.addr)
        route = RouteWord(self.cfg.data[:RouteWord.size])
        switch = SwitchWord(self.cfg.data[:SwitchWord.size])
        m.d.comb += self.cfg_bad.eq(self.cfg.we & ((addr.color >= C) | (addr.field > FIELD_SWITCH)))
        for c in range(C):
            hit = self.cfg.we & (addr.color == c)
            for k in range(MAX_POSITIONS):
                with m.If(hit & (addr.field == k)):
                    m.d.sync += [rx[c][k].eq(route.rx), tx[c][k].eq(route.tx)]
            m.d.comb += self.switch_write[c].eq(hit & (addr.field == FIELD_SWITCH))
            with m.If(self.switch_write[c]):
                m.d.sync += [last[c].eq(switch.last), ring[c].eq(switch.ring)]
        return m


class SwitchState(wiring.Component):
    """Per color, the current route position. A control wavelet that has left its FIFO (``done``)
    applies its command (``cmd`` = its payload[1:0], SwitchCmd): ADVANCE moves to the next position,
    from ``last`` to 0 only in ring mode; RESET returns to 0. If several ports pass one of a color in
    one cycle, the lowest port's command counts. A switch-control write (``write``) returns to 0.

        done    In(ArrayLayout(5, colors))                bit p: port p's control wavelet left
        cmd     In(ArrayLayout(ArrayLayout(2, 5), colors))  port p's head payload[1:0]
        write   In(colors)
        last    In(ArrayLayout(2, colors)), ring In(colors)   from RouteTable
        pos     Out(ArrayLayout(2, colors))
    """

    def __init__(self, colors: int):
        self.colors = colors
        P, C = NUM_PORTS, colors
        super().__init__({
            "done": In(_per_color(P, C)),
            "cmd": In(_per_color(data.ArrayLayout(2, P), C)),
            "write": In(C),
            "last": In(_per_color(2, C)),
            "ring": In(C),
            "pos": Out(_per_color(2, C)),
        })

    def elaborate(self, platform):
        m = Module()
        for c in range(self.colors):
            pos = Signal(2, name=f"pos_c{c}")
            m.d.comb += self.pos[c].eq(pos)
            cmd = Signal(2, name=f"cmd_c{c}")
            sel = Const(SwitchCmd.NONE, 2)
            for p in reversed(range(NUM_PORTS)):
                sel = Mux(self.done[c][p], self.cmd[c][p], sel)
            m.d.comb += cmd.eq(sel)
            with m.If(self.write[c] | (cmd == SwitchCmd.RESET)):
                m.d.sync += pos.eq(0)
            with m.Elif(cmd == SwitchCmd.ADVANCE):
                with m.If(pos < self.last[c]):
                    m.d.sync += pos.eq(pos + 1)
                with m.Elif(self.ring[c]):
                    m.d.sync += pos.eq(0)
        return m


class InputQueue(wiring.Component):
    """One (input port, color) FIFO of ``depth`` entries of ``shape`` (a width or a layout, e.g.
    QueueEntry; ``r_data`` and ``w_data`` are then views), first-word fall-through.

    The ports and cycle timing are ``amaranth.lib.fifo.SyncFIFO``'s: ``w_rdy`` = level != depth,
    ``r_rdy`` = level != 0, ``r_data`` is the head combinationally, a write and a read in one cycle
    leave the level alone, ``w_en`` without ``w_rdy`` and ``r_en`` without ``r_rdy`` are ignored.
    It is not a SyncFIFO because the router's formal proofs (tb/formal/router.py) state helper
    invariants on every entry (where a marked wavelet sits) and on the pointers, and a SyncFIFO holds
    its entries in a ``Memory``, whose rows an assertion cannot name; here they are the registers
    ``entry0`` ... and ``rdptr``, ``wrptr``, ``count``.

        w_en, w_data In; w_rdy Out;  r_en In; r_data, r_rdy Out;  level Out(range(depth + 1))
    """

    def __init__(self, shape, depth: int):
        self.width = shape.size if isinstance(shape, data.Layout) else int(shape)
        self.depth = depth
        super().__init__({
            "w_en": In(1),
            "w_data": In(shape),
            "w_rdy": Out(1),
            "r_en": In(1),
            "r_data": Out(shape),
            "r_rdy": Out(1),
            "level": Out(range(depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        D = self.depth
        count = Signal(range(D + 1), name="count")
        rdptr = Signal(range(D), name="rdptr")
        wrptr = Signal(range(D), name="wrptr")
        entries = [Signal(self.width, name=f"entry{i}") for i in range(D)]
        write, read = Signal(), Signal()
        m.d.comb += [
            self.w_rdy.eq(count != D),
            self.r_rdy.eq(count != 0),
            self.level.eq(count),
            self.r_data.eq(Array(entries)[rdptr]),
            write.eq(self.w_en & self.w_rdy),
            read.eq(self.r_en & self.r_rdy),
        ]
        with m.If(write):
            m.d.sync += [Array(entries)[wrptr].eq(self.w_data),
                         wrptr.eq(Mux(wrptr == D - 1, 0, wrptr + 1))]
        with m.If(read):
            m.d.sync += rdptr.eq(Mux(rdptr == D - 1, 0, rdptr + 1))
        m.d.sync += count.eq(count + write - read)
        return m


class HeadState(wiring.Component):
    """One FIFO head's multicast bookkeeping. The head is ``eligible`` when its FIFO holds a wavelet
    (``valid``) and its port is in the RX set in force (``admit``); it then wants every output
    of the TX set in force (``tx``) that has not taken it yet. The register ``sent`` remembers the
    outputs that granted it (``grant``); the head leaves its FIFO (``deq``) in the cycle its last TX
    output takes it (``done``), or at once when the TX set is empty (``no_tx``: dropped).

        valid, admit, tx[5], grant[5]   In
        eligible, want[5], done, no_tx, deq   Out
    """

    def __init__(self):
        P = NUM_PORTS
        super().__init__({
            "valid": In(1),
            "admit": In(1),
            "tx": In(P),
            "grant": In(P),
            "eligible": Out(1),
            "want": Out(P),
            "done": Out(1),
            "no_tx": Out(1),
            "deq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        sent = Signal(NUM_PORTS, name="sent")
        taken = Signal(NUM_PORTS, name="taken")
        m.d.comb += [
            self.eligible.eq(self.valid & self.admit),
            self.want.eq(Cat(self.eligible & self.tx[o] & ~sent[o] for o in range(NUM_PORTS))),
            taken.eq(sent | self.grant),
            self.no_tx.eq(self.eligible & (self.tx == 0)),
            self.done.eq(self.eligible & (self.tx != 0) & ((taken & self.tx) == self.tx)),
            self.deq.eq(self.done | self.no_tx),
        ]
        with m.If(self.deq):
            m.d.sync += sent.eq(0)
        with m.Elif(self.eligible):
            m.d.sync += sent.eq(taken)
        return m


class RoundRobinArbiter(wiring.Component):
    """One-hot ``grant`` of the lowest request after the last one granted, else of the lowest
    request; the last grant moves only in cycles with a request (``last_grant``, 0 after reset).

        req In(n); grant Out(n); valid Out(1) = some request
    """

    def __init__(self, n: int):
        self.n = n
        super().__init__({"req": In(n), "grant": Out(n), "valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        N = self.n
        last_grant = Signal(N, name="last_grant")
        upto_last = Signal(N, name="upto_last")  # bits 0..index of the last grant
        after_last = Signal(N, name="after_last")
        pool = Signal(N, name="pool")
        m.d.comb += [
            upto_last.eq((last_grant << 1) - 1),
            after_last.eq(self.req & ~upto_last),
            pool.eq(Mux(after_last.any(), after_last, self.req)),
            self.grant.eq(pool & (~pool + 1)),  # lowest set bit
            self.valid.eq(self.req.any()),
        ]
        with m.If(self.req.any()):
            m.d.sync += last_grant.eq(self.grant)
        return m


class DropCounter(wiring.Component):
    """Adds the number of set ``drop`` bits to ``count`` every cycle, saturating at 2**width - 1.

        drop In(n); count Out(width)
    """

    def __init__(self, n: int, width: int):
        self.n, self.width = n, width
        super().__init__({"drop": In(n), "count": Out(width)})

    def elaborate(self, platform):
        m = Module()
        W = self.width
        total = Signal(W + 1, name="total")
        m.d.comb += total.eq(self.count + popcount(self.drop[i] for i in range(self.n)))
        m.d.sync += self.count.eq(Mux(total[W:].any(), 2**W - 1, total))
        return m


class ErrorFlags(wiring.Component):
    """Sticky flags: a bit of ``set`` high in a cycle sets that bit of ``flags`` from the next cycle
    until reset.

        set In(n); flags Out(n)
    """

    def __init__(self, n: int):
        self.n = n
        super().__init__({"set": In(n), "flags": Out(n)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.flags.eq(self.flags | self.set)
        return m
