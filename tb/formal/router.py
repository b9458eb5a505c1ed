"""Formal property harnesses of the router (hdl/router.py), for SymbiYosys (tb/formal/run.py).

Each harness is a ``wiring.Component`` whose ``In`` ports are the free stimulus (a formal tool
gives every top-level input an arbitrary value in every cycle); it instantiates the router of a
reduced profile and states properties with Amaranth's ``Assert`` / ``Assume`` / ``Cover``.

The reduced profile has 2 colors and FIFOs of depth 2 (the regression's depth), 5 ports. The
router's logic is per (input port, color) FIFOs, per color route tables, and one round-robin
arbiter per output over the P x C heads: the color count only changes how many copies of each
exist and the width of the arbiter's request vector, and 2 colors are enough for a stalled color
beside a moving one. So the properties generalise by symmetry; their bounds below grow with P x C.

Harnesses (``HARNESSES``: run by ``make formal``; ``PENDING``: written, run by name only, not
yet within reach of the solver at the depth they need):
    safety      k-induction: error flags are sticky; the drop counter never decreases and saturates
                at 65535; a wavelet presented on a color whose ready is low is not accepted but
                dropped and counted (OVERFLOW or RX_VIOLATION next cycle, drops + 1 unless
                saturated); the router as a sender presents a wavelet only on a routable color
                whose ready is high. Configuration writes are free.
    ready       structural (Yosys): no input of the router reaches an output ``ready`` bit without
                passing a flip-flop — ready depends on state only, for every state (run.py
                ``READY_SCRIPT``; the same check on the ``valid`` outputs must and does fail).
    flow        (pending: BMC did not pass depth 5 in minutes) one tagged wavelet (any port, either
                color, any payload, any time; its
                payload unique) is delivered at most once on each output, only on outputs of the
                TX set of its color when it entered, never when it was dropped, and — with the
                tagged color's ready always high and every other color's ready free (stalled
                forever or not) — on every port of that TX set within FLOW_BOUND cycles:
                conservation, per-color independence and the arbiter's fairness bound.
    order       (pending, as flow) two tagged wavelets accepted on one port on one color leave every
                output in
                the order they entered.
    traversal   BMC: at zero load (nothing else in the router) a wavelet leaves on every port of
                its TX set in the cycle after it entered.

``fault="..."`` makes a harness's checks see a corrupted observation, and the check must then fail:
"sticky" clears an observed error bit (safety), "dup" counts the tagged wavelet twice and "late"
delays what the flow checks see (flow), "swap" exchanges the order harness's tags (order).
"""

from __future__ import annotations

from dataclasses import replace

from amaranth import Cat, Module, Mux, Signal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.profiles import get_profile
from hdl.router import DROP_COUNTER_BITS, CfgSignature, Router, RouterError
from hdl.router_config import CfgAddr, RouteWord
from hdl.wavelet import NUM_PORTS, Port, WaveletLayout

__all__ = ["PROFILE", "HARNESSES", "PENDING", "FLOW_BOUND", "harness"]

PROFILE = replace(get_profile("small"), name="formal", colors=2, mgmt_color=1)
C, P, D = PROFILE.colors, NUM_PORTS, PROFILE.fifo_depth
#: cycles from entering to leaving on every TX port, outputs of its color always ready: at most
#: D - 1 wavelets ahead of it in its FIFO, each waiting at most P x C - 1 other heads' grants on
#: each output (round robin), plus the cycle in and the cycle out
FLOW_BOUND = D * P * C + 2


def _stimulus():
    link = wiring.Signature({"valid": Out(1), "data": Out(WaveletLayout)})
    members = {f"in_{p.letter}": In(link) for p in Port}
    members.update({f"rdy_{p.letter}": In(C) for p in Port})
    members["cfg"] = In(CfgSignature)
    return members


class _Harness(wiring.Component):
    """A router whose every input is free: ``in_*`` links, ``rdy_*`` (its outputs' ready), ``cfg``."""

    def __init__(self, extra=None, fault=None):
        self.fault = fault
        super().__init__({**_stimulus(), **(extra or {})})

    def router(self, m, name="dut"):
        r = Router(PROFILE)
        m.submodules[name] = r
        for p in Port:
            src, link = getattr(self, f"in_{p.letter}"), r.link_in(p)
            m.d.comb += [link.valid.eq(src.valid), link.data.eq(src.data),
                         r.link_out(p).ready.eq(getattr(self, f"rdy_{p.letter}"))]
        m.d.comb += [r.cfg.we.eq(self.cfg.we), r.cfg.addr.eq(self.cfg.addr), r.cfg.data.eq(self.cfg.data)]
        return r

    def ins(self):
        return [getattr(self, f"in_{p.letter}") for p in Port]


def _first_cycle(m):
    """A signal that is 1 in the first cycle only (properties over the previous cycle wait for it)."""
    first = Signal(init=1)
    m.d.sync += first.eq(0)
    return first


class Safety(_Harness):
    def elaborate(self, platform):
        m = Module()
        r = self.router(m)
        first = _first_cycle(m)
        past_err = Signal(len(RouterError))
        past_drops = Signal(DROP_COUNTER_BITS)
        errs = Signal.like(r.errors)
        m.d.comb += errs.eq(r.errors)
        if self.fault == "sticky":
            m.d.comb += errs.eq(r.errors & ~Mux(r.errors[RouterError.OVERFLOW] & past_err[RouterError.OVERFLOW],
                                               1 << RouterError.OVERFLOW, 0))
        # a wavelet presented on a color whose ready bit is low this cycle
        violation = Signal()
        m.d.comb += violation.eq(Cat(
            link.valid & (link.data.color < C) & ~r.link_in(p).ready.bit_select(link.data.color[:1], 1)
            for p, link in zip(Port, self.ins(), strict=True)).any())
        past_violation = Signal()
        m.d.sync += [past_err.eq(errs), past_drops.eq(r.drops), past_violation.eq(violation)]
        top = 2 ** DROP_COUNTER_BITS - 1
        with m.If(~first):
            m.d.comb += [
                Assert((past_err & ~errs) == 0),  # sticky
                Assert(r.drops >= past_drops),  # never decreases ...
                Assert((past_drops != top) | (r.drops == top)),  # ... and saturates
            ]
            with m.If(past_violation):  # not accepted: dropped and counted
                m.d.comb += [
                    Assert((errs[RouterError.OVERFLOW] | errs[RouterError.RX_VIOLATION]) != 0),
                    Assert((r.drops > past_drops) | (past_drops == top)),
                ]
        for p in Port:  # the router as a sender keeps the link protocol
            out = r.link_out(p)
            m.d.comb += Assert(~out.valid | ((out.data.color < C) & out.ready.bit_select(out.data.color[:1], 1)))
        return m


class _Tagged(_Harness):
    """Shared by the flow and order harnesses: a shadow of the position-0 routes (configuration
    writes only to position 0, no switch commands: the route in force is position 0), and the
    tag's payload and color, constants chosen by the tool."""

    def __init__(self, tags, fault=None):
        extra = {"tag_payload": In(32 * tags), "tag_color": In(range(C)), "tag_port": In(range(P)),
                 "tag_now": In(tags)}
        super().__init__(extra, fault)
        self.tags = tags

    def shadow_routes(self, m):
        rx = [Signal(P, name=f"shadow_rx{c}", init=(1 << Port.W) if c == PROFILE.mgmt_color else 0) for c in range(C)]
        tx = [Signal(P, name=f"shadow_tx{c}", init=((1 << Port.E) | (1 << Port.RAMP)) if c == PROFILE.mgmt_color else 0)
              for c in range(C)]
        addr = CfgAddr(self.cfg.addr)
        word = RouteWord(self.cfg.data[:RouteWord.size])
        m.d.comb += Assume(~self.cfg.we | (addr.field == 0))  # position 0 only: the route in force
        for c in range(C):
            with m.If(self.cfg.we & (addr.color == c)):
                m.d.sync += [rx[c].eq(word.rx), tx[c].eq(word.tx)]
        for link in self.ins():
            m.d.comb += Assume(~link.valid | (link.data.ctrl == 0))  # no switch commands
        return rx, tx

    def constants(self, m):
        """The tool picks the tag constants once."""
        first = _first_cycle(m)
        keep = Signal(len(Cat(self.tag_payload, self.tag_color, self.tag_port)))
        m.d.sync += keep.eq(Cat(self.tag_payload, self.tag_color, self.tag_port))
        with m.If(~first):
            m.d.comb += Assume(Cat(self.tag_payload, self.tag_color, self.tag_port) == keep)
        return first

    def payload(self, k):
        return self.tag_payload[32 * k:32 * (k + 1)]

    def setup(self, m):
        """The router, the shadow of its routes and the tag constants: (router, rx, tx)."""
        r = self.router(m)
        rx, tx = self.shadow_routes(m)
        self.constants(m)
        return r, rx, tx

    def tag_link(self, m):
        """The tag port's input this cycle: (valid, payload, color)."""
        valid, payload, color = Signal(), Signal(32), Signal(5)
        for p, lk in zip(Port, self.ins(), strict=True):
            with m.If(self.tag_port == p):
                m.d.comb += [valid.eq(lk.valid), payload.eq(lk.data.payload), color.eq(lk.data.color)]
        return valid, payload, color

    def route_now(self, m, r, rx, tx):
        """The tag color's shadow route and whether the tag port is in its RX set with the color
        ready now: (rx, tx, admitted)."""
        rx_now, tx_now, ready_now = Signal(P), Signal(P), Signal()
        with m.Switch(self.tag_color):
            for c in range(C):
                with m.Case(c):
                    m.d.comb += [rx_now.eq(rx[c]), tx_now.eq(tx[c])]
        for p in Port:
            with m.If(self.tag_port == p):
                m.d.comb += ready_now.eq(r.link_in(p).ready.bit_select(self.tag_color, 1))
        return rx_now, tx_now, rx_now.bit_select(self.tag_port, 1) & ready_now


class Flow(_Tagged):
    def __init__(self, fault=None):
        super().__init__(1, fault)

    def elaborate(self, platform):
        m = Module()
        r, rx, tx = self.setup(m)
        V, col, port = self.payload(0), self.tag_color, self.tag_port
        tagged = Signal()  # the tagged wavelet has entered
        entering = Signal()
        sel_valid, sel_payload, sel_color = self.tag_link(m)
        m.d.comb += entering.eq(self.tag_now[0] & ~tagged & sel_valid & (sel_payload == V) & (sel_color == col))
        # the payload is unique: only the tagged wavelet carries it, once
        for p, lk in zip(Port, self.ins(), strict=True):
            m.d.comb += Assume(~lk.valid | (lk.data.payload != V) | (entering & (port == p)))
        # nothing reconfigures its color once it is in the router
        m.d.comb += Assume(~(self.cfg.we & (tagged | entering)))
        accepted = Signal()  # it entered on a port of its color's RX set with that color ready
        tx_set = Signal(P)
        age = Signal(range(FLOW_BOUND + 2))
        _, tx_now, admitted = self.route_now(m, r, rx, tx)
        with m.If(entering):
            m.d.sync += [tagged.eq(1), accepted.eq(admitted), tx_set.eq(tx_now),
                         age.eq(0)]
        with m.Elif(tagged & (age <= FLOW_BOUND)):
            m.d.sync += age.eq(age + 1)
        # the tagged color's ready is always high; every other color's is free (may stall forever)
        for p in Port:
            m.d.comb += Assume(getattr(self, f"rdy_{p.letter}").bit_select(col, 1))
        for o in Port:
            out = r.link_out(o)
            seen = Signal(2, name=f"seen_{o.letter}")
            hit = Signal(name=f"hit_{o.letter}")
            m.d.comb += hit.eq(out.valid & (out.data.payload == V) & (out.data.color == col))
            count = hit + (hit if self.fault == "dup" else 0)
            if self.fault == "late":
                late = Signal(name=f"late_{o.letter}")
                m.d.sync += late.eq(hit)
                count = late
            with m.If(count != 0):
                m.d.sync += seen.eq(seen + count)
            m.d.comb += [
                Assert(seen <= 1),  # never duplicated
                Assert((seen == 0) | (accepted & tx_set.bit_select(o, 1))),  # only where routed
            ]
            with m.If(tagged & accepted & tx_set.bit_select(o, 1) & (age >= FLOW_BOUND)):
                m.d.comb += Assert(seen == 1)  # delivered within the bound
            m.d.comb += Cover(tagged & accepted & (seen == 1) & (tx_set == ((1 << Port.E) | (1 << Port.RAMP))))
        return m


class Order(_Tagged):
    def __init__(self, fault=None):
        super().__init__(2, fault)

    def elaborate(self, platform):
        m = Module()
        r, rx, tx = self.setup(m)
        V0, V1, col, port = self.payload(0), self.payload(1), self.tag_color, self.tag_port
        m.d.comb += Assume(V0 != V1)
        entered = Signal(2)
        sel_valid, sel_payload, sel_color = self.tag_link(m)
        enter = Signal(2)
        for k, V in enumerate((V0, V1)):
            m.d.comb += enter[k].eq(self.tag_now[k] & ~entered[k] & sel_valid & (sel_payload == V) & (sel_color == col))
            with m.If(enter[k]):
                m.d.sync += entered[k].eq(1)
        m.d.comb += Assume(~enter[1] | entered[0])  # V0 enters first, V1 in a later cycle
        # both are accepted: their port is in their color's RX set and the color is ready
        _, _, admitted = self.route_now(m, r, rx, tx)
        m.d.comb += Assume(~enter.any() | admitted)
        for p, lk in zip(Port, self.ins(), strict=True):
            for k, V in enumerate((V0, V1)):
                m.d.comb += Assume(~lk.valid | (lk.data.payload != V) | (enter[k] & (port == p)))
        m.d.comb += Assume(~(self.cfg.we & entered.any()))
        first, second = (V1, V0) if self.fault == "swap" else (V0, V1)
        for o in Port:
            out = r.link_out(o)
            got0 = Signal(name=f"got0_{o.letter}")
            hit0 = out.valid & (out.data.payload == first) & (out.data.color == col)
            hit1 = out.valid & (out.data.payload == second) & (out.data.color == col)
            with m.If(hit0):
                m.d.sync += got0.eq(1)
            m.d.comb += Assert(~hit1 | got0)  # the later one never leaves before the earlier
            m.d.comb += Cover(hit1 & got0)
        return m


class Traversal(_Tagged):
    def __init__(self, fault=None):
        super().__init__(1, fault)

    def elaborate(self, platform):
        m = Module()
        r, rx, tx = self.setup(m)
        V, col, port = self.payload(0), self.tag_color, self.tag_port
        # zero load: every input idle except the tagged wavelet, entering on its route with ready high
        entering = Signal()
        for p, lk in zip(Port, self.ins(), strict=True):
            m.d.comb += Assume(~lk.valid | ((port == p) & self.tag_now[0] & (lk.data.payload == V)
                                            & (lk.data.color == col)))
            with m.If(port == p):
                m.d.comb += entering.eq(lk.valid)
        done = Signal()
        m.d.comb += Assume(~(entering & done))  # one wavelet
        tx_set = Signal(P)
        rx_now, tx_now, _ = self.route_now(m, r, rx, tx)
        m.d.comb += Assume(~entering | (rx_now.bit_select(port, 1) & (tx_now != 0)))
        m.d.comb += Assume(~(self.cfg.we & (entering | done)))
        for p in Port:
            m.d.comb += Assume(getattr(self, f"rdy_{p.letter}") == (1 << C) - 1)
        just = Signal()
        m.d.sync += just.eq(entering)
        with m.If(entering):
            m.d.sync += [done.eq(1), tx_set.eq(tx_now)]
        for o in Port:
            out = r.link_out(o)
            hit = out.valid & (out.data.payload == V) & (out.data.color == col)
            with m.If(just):
                m.d.comb += Assert(hit == tx_set.bit_select(o, 1))  # the next cycle, on every TX port
        m.d.comb += Cover(just)
        return m


#: name -> (harness class, mode, depth, what it proves); mode "structural" is a Yosys check
HARNESSES = {
    "safety": (Safety, "prove", 4, "sticky errors; drop counter monotone and saturating; a wavelet on a "
               "color whose ready is low is dropped and counted; outputs keep the link protocol"),
    "ready": (None, "structural", 0, "ready depends on state only: no combinational path from any input "
              "to a ready output"),
    "traversal": (Traversal, "bmc", 4, "one-cycle traversal at zero load, on every port of the TX set"),
}
PENDING = {
    "flow": (Flow, "bmc", FLOW_BOUND + 4, f"conservation, no duplication, only the TX set; delivered on "
             f"every TX port within {FLOW_BOUND} cycles with other colors stalled or not"),
    "order": (Order, "bmc", 10, "per (input port, color) arrival order kept on every output"),
}


def harness(name: str, fault: str | None = None):
    cls = {**HARNESSES, **PENDING}[name][0]
    return cls(fault=fault) if cls is not None else Router(PROFILE)

