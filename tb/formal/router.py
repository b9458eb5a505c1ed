"""Formal property harnesses of the router (hdl/router.py), for SymbiYosys (tb/formal/run.py).

Each harness is a ``wiring.Component`` whose ``In`` ports are the free stimulus (a formal tool
gives every top-level input an arbitrary value in every cycle); it instantiates the router of a
reduced profile and states properties with Amaranth's ``Assert`` / ``Assume`` / ``Cover``. Values
the tool picks once (the watched port, color, output) are ``AnyConst``.

The reduced profile has 2 colors and FIFOs of depth 2 (the regression's depth), 5 ports. The
router's logic is per (input port, color) FIFOs, per color route tables, and one round-robin
arbiter per output over the P x C heads: the color count only changes how many copies of each
exist and the width of the arbiter's request vector, and 2 colors are enough for a stalled color
beside a moving one. So the properties generalise by symmetry; their bounds grow with P x C.

Data independence: the router never looks at the payload of a data wavelet (only a control
wavelet's payload[1:0], the switch command). So to follow one wavelet it suffices to mark it:
in the flow and order harnesses every payload is 0 except one mark bit per tagged wavelet, and
the tagged wavelets are the only ones carrying their bit.

k-induction needs the state the property depends on to be pinned down in every cycle, not only
in those reachable from reset; the ``helper`` asserts do that on the router's internal registers
(``common.internals``): FIFO pointers and counts, where a marked wavelet sits in its FIFO, the
multicast mask of the head, and the arbiters' last grants. They are proven like the properties.

Harnesses (``HARNESSES``):
    safety      error flags are sticky; the drop counter never decreases and saturates at 65535;
                a wavelet presented on a color whose ready is low is dropped and counted; the router
                as a sender presents a wavelet only on a routable color whose ready is high.
    ready       structural (Yosys): no input of the router reaches an output ``ready`` bit without
                passing a flip-flop — ready depends on state only.
    traversal   BMC: at zero load a wavelet leaves on every port of its TX set the cycle after it
                entered.
    fair        the round-robin arbiters: a request held continuously by any (port, color) head on
                any output is granted after at most P x C - 1 cycles of waiting (``FAIR_WAIT``).
    flow        one tagged wavelet (any port, any color, any time): if it is not admitted it is
                dropped and counted; if admitted it leaves at most once on each output and only on
                the TX set of its color in force when it entered; with its color's ready high on
                every output and every other color's ready free (stalled forever or not) it leaves
                on every port of that TX set within ``FLOW_BOUND`` = D x P x C cycles of entering;
                with an empty TX set it is dropped and counted (NO_TX) within D cycles.
    order       two tagged wavelets entering on one port on one color leave every output in the
                order they entered.
    switch      per color: the current position never exceeds ``last``; a switch-control write sets
                ``last`` and ``ring`` and resets the position; RESET returns to 0; ADVANCE adds one
                below ``last`` and at ``last`` wraps to 0 in ring mode, else holds.

``fault="..."`` corrupts what a harness's checks see or expect, and the check must then fail:
"sticky" clears an observed error bit (safety); "valid" runs the structural check on the
``valid`` outputs (ready); "unfair" claims one cycle less of waiting (fair); "dup" counts the
tagged wavelet twice, "route" expects it on a TX set with the RAMP bit flipped, "bound" expects it on
every TX port within 1 cycle instead of FLOW_BOUND (flow); "swap" exchanges the order harness's tags (order); "clamp"
models ADVANCE without ``last`` and ``ring`` (switch).
"""

from __future__ import annotations

from dataclasses import replace

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.hdl import Assert, Assume, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.profiles import get_profile
from hdl.router import DROP_COUNTER_BITS, CfgSignature, Router, RouterError
from hdl.router_config import FIELD_SWITCH, CfgAddr, RouteWord, SwitchWord
from hdl.wavelet import NUM_PORTS, PAYLOAD_BITS, Port, SwitchCmd, WaveletLayout

from .common import anyconst, elaborate

__all__ = ["PROFILE", "HARNESSES", "FAULTS", "MODEL", "FLOW_BOUND", "FAIR_WAIT", "harness"]

PROFILE = replace(get_profile("small"), name="formal", colors=2, mgmt_color=1)
C, P, D = PROFILE.colors, NUM_PORTS, PROFILE.fifo_depth
#: requesters per output arbiter: every (port, color) head
N = P * C
#: the longest a continuously requesting head waits for an output: every other head once
FAIR_WAIT = N - 1
#: cycles from entering to leaving on every TX port (outputs of its color ready): at most D - 1
#: wavelets ahead of it in its FIFO, each served within N cycles on all its outputs in parallel
#: (FAIR_WAIT waits and the grant), then its own N
FLOW_BOUND = D * N
TOP = 2 ** DROP_COUNTER_BITS - 1


def _stimulus():
    link = wiring.Signature({"valid": Out(1), "data": Out(WaveletLayout)})
    members = {f"in_{p.letter}": In(link) for p in Port}
    members.update({f"rdy_{p.letter}": In(C) for p in Port})
    members["cfg"] = In(CfgSignature)
    return members


class _Harness(wiring.Component):
    """A router whose every input is free: ``in_*`` links, ``rdy_*`` (its outputs' ready), ``cfg``.
    After ``router()``, ``self.dut`` maps the router's internal signal names to signals."""

    def __init__(self, extra=None, fault=None):
        self.fault = fault
        super().__init__({**_stimulus(), **(extra or {})})

    def router(self, m, platform=None, name="dut"):
        r = Router(PROFILE)
        m.submodules[name], self.dut, _ = elaborate(r, platform)
        for p in Port:
            src, link = getattr(self, f"in_{p.letter}"), r.link_in(p)
            m.d.comb += [link.valid.eq(src.valid), link.data.eq(src.data),
                         r.link_out(p).ready.eq(getattr(self, f"rdy_{p.letter}"))]
        wiring.connect(m, wiring.flipped(self.cfg), r.cfg)
        return r

    def ins(self):
        return [getattr(self, f"in_{p.letter}") for p in Port]

    def rdy(self, p):
        return getattr(self, f"rdy_{Port(p).letter}")


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


def _or(bits):
    out = Const(0)
    for b in bits:
        out = out | b
    return out


def _fifo(d, p, c):
    """The router's registers of FIFO (port p, color c): (count, read pointer, write pointer, slots, sent)."""
    return (d[f"queue_p{p}_c{c}.count"], d[f"queue_p{p}_c{c}.rdptr"], d[f"queue_p{p}_c{c}.wrptr"],
            [d[f"queue_p{p}_c{c}.entry{j}"] for j in range(D)], d[f"head_p{p}_c{c}.sent"])


def _place(rd, j):
    """How far slot j is behind the read pointer: 0 = the head."""
    return Mux(rd <= j, j - rd, j + D - rd)


def _fifo_helpers(m, d):
    """Helper: every FIFO's count is at most D and its write pointer is count slots past its read
    pointer; slots beyond the count are free."""
    for p in range(P):
        for c in range(C):
            cnt, rd, wr, _, _ = _fifo(d, p, c)
            m.d.comb += [Assert(cnt <= D), Assert(rd < D),
                         Assert(wr == Mux(rd + cnt >= D, rd + cnt - D, rd + cnt))]


def _rank(m, lg, i, name):
    """How many grants output's round-robin arbiter can make, at most, up to and including the one
    to requester i if i keeps requesting: 1..N. ``lg`` is its last grant (one-hot, or 0 after reset,
    when the lowest requester wins). Each cycle that i requests and another wins, the last grant
    moves strictly towards i, so the rank drops by at least one: i waits at most N - 1 cycles."""
    idx = Signal(range(N), name=f"{name}_idx")
    m.d.comb += idx.eq(_or(Mux(lg[j], j, 0) for j in range(N)))
    rank = Signal(range(N + 1), name=name)
    m.d.comb += rank.eq(Mux(lg == 0, i + 1, Mux(i > idx, i - idx, i + N - idx)))
    return rank


def _one_hot_helpers(m, d):
    """Helper: an arbiter's last grant is one-hot, or 0 (reset)."""
    for o in range(P):
        lg = d[f"arb_o{o:d}.last_grant"]
        m.d.comb += Assert((lg & (lg - 1)) == 0)


class Fair(_Harness):
    """Any output o, any requester i = color * P + port (tool's choice); every input free."""

    def elaborate(self, platform):
        m = Module()
        r = self.router(m, platform)
        d = self.dut
        o = anyconst(m, range(P), P, "watch_out")
        i = anyconst(m, range(N), N, "watch_req")
        req, grant, lg = Signal(N), Signal(N), Signal(N)
        valid, color = Signal(), Signal(5)
        for k in Port:
            with m.If(o == k):
                arb = f"arb_o{k:d}"
                m.d.comb += [req.eq(d[f"{arb}.req"]), grant.eq(d[f"{arb}.grant"]), lg.eq(d[f"{arb}.last_grant"]),
                             valid.eq(r.link_out(k).valid), color.eq(r.link_out(k).data.color)]
        color_i = Signal(range(C))
        for c in range(C):
            with m.If((i >= c * P) & (i < (c + 1) * P)):
                m.d.comb += color_i.eq(c)
        r_i, g_i = req.bit_select(i, 1), grant.bit_select(i, 1)
        wait = Signal(range(N + 1))  # consecutive cycles i has requested o and another was granted
        m.d.sync += wait.eq(Mux(r_i & ~g_i, wait + 1, 0))
        m.d.comb += Assert(wait <= (FAIR_WAIT - 1 if self.fault == "unfair" else FAIR_WAIT))
        # a grant is what the output carries: a wavelet of the granted head's color
        m.d.comb += Assert(~g_i | (valid & (color == color_i)))
        _one_hot_helpers(m, d)
        m.d.comb += Assert(wait + _rank(m, lg, i, "rank") <= N)  # helper
        m.d.comb += Cover(wait == FAIR_WAIT)
        return m


class _Marked(_Harness):
    """Shared by flow and order: ``TAGS`` marked wavelets enter on one port on one color (tool's
    choice, ``tag_port`` / ``tag_color``), in that order, each at a time of the tool's choice.

    Stimulus: every payload is 0 but for mark bit k on tagged wavelet k (data independence); no
    control wavelets (switching is the switch harness's); colors below ``profile.colors`` (others
    are dropped on arrival: safety). Configuration writes: route positions and reserved fields, not
    the switch-control word (so ``last`` and the position stay 0 and position 0 is the route in
    force), and not the tagged color's position 0 once a tagged wavelet has entered.
    A shadow of every color's position-0 route follows the writes (``srx``, ``stx``)."""

    TAGS = 1

    def setup(self, m, platform):
        r = self.router(m, platform)
        d = self.dut
        K = self.TAGS
        tp = anyconst(m, range(P), P, "tag_port")
        tc = anyconst(m, range(C), C, "tag_color")
        self.tp, self.tc = tp, tc
        for lk in self.ins():
            m.d.comb += Assume(~lk.valid | ((lk.data.ctrl == 0) & (lk.data.payload[K:] == 0) & (lk.data.color < C)))
        valid, color, marks = Signal(), Signal(5), Signal(K)
        for p, lk in zip(Port, self.ins(), strict=True):
            with m.If(tp == p):
                m.d.comb += [valid.eq(lk.valid), color.eq(lk.data.color), marks.eq(lk.data.payload[:K])]
        entered, enter = Signal(K), Signal(K)
        m.d.comb += enter.eq(Mux(valid & (color == tc), marks, 0))
        m.d.sync += entered.eq(entered | enter)
        for p, lk in zip(Port, self.ins(), strict=True):
            for k in range(K):
                m.d.comb += Assume(~(lk.valid & lk.data.payload[k]) | ((tp == p) & (lk.data.color == tc) & ~entered[k]))
        if K == 2:  # tag 0 first, tag 1 in a later cycle
            m.d.comb += [Assume(~(enter[0] & enter[1])), Assume(~enter[1] | entered[0])]

        # configuration: a shadow of the position-0 routes
        addr, word = CfgAddr(self.cfg.addr), RouteWord(self.cfg.data[:RouteWord.size])
        srx = [Signal(P, name=f"srx{c}", init=(1 << Port.W) if c == PROFILE.mgmt_color else 0) for c in range(C)]
        stx = [Signal(P, name=f"stx{c}", init=((1 << Port.E) | (1 << Port.RAMP)) if c == PROFILE.mgmt_color else 0)
               for c in range(C)]
        m.d.comb += [Assume(~self.cfg.we | (addr.field != FIELD_SWITCH)),
                     Assume(~(self.cfg.we & (addr.color == tc) & (addr.field == 0) & (entered | enter).any()))]
        for c in range(C):
            with m.If(self.cfg.we & (addr.color == c) & (addr.field == 0)):
                m.d.sync += [srx[c].eq(word.rx), stx[c].eq(word.tx)]
            m.d.comb += [Assert(srx[c] == d[f"route.rx_c{c}_k0"]), Assert(stx[c] == d[f"route.tx_c{c}_k0"]),  # helpers
                         Assert(d[f"route.last_c{c}"] == 0), Assert(d[f"switch.pos_c{c}"] == 0)]
        rx_now, tx_now, ready_now = Signal(P), Signal(P), Signal()
        for c in range(C):
            with m.If(tc == c):
                m.d.comb += [rx_now.eq(srx[c]), tx_now.eq(stx[c])]
        for p in Port:
            with m.If(tp == p):
                m.d.comb += ready_now.eq(r.link_in(p).ready.bit_select(tc, 1))
        admitted = Signal()  # its port is in the RX set in force and its color ready there
        m.d.comb += admitted.eq(rx_now.bit_select(tp, 1) & ready_now)

        # the router's tag FIFO, and where each mark sits in any FIFO
        _fifo_helpers(m, d)
        cntF, rdF, sentF = Signal(range(D + 1)), Signal(range(D)), Signal(P)
        slotsF = [Signal(PAYLOAD_BITS + 1, name=f"slotF{j}") for j in range(D)]
        for p in range(P):
            for c in range(C):
                cnt, rd, _, slots, sent = _fifo(d, p, c)
                here = (tp == p) & (tc == c)
                with m.If(here):
                    m.d.comb += [cntF.eq(cnt), rdF.eq(rd), sentF.eq(sent)]
                    m.d.comb += [s.eq(q) for s, q in zip(slotsF, slots, strict=True)]
                for j, q in enumerate(slots):
                    full = _place(rd, j) < cnt
                    m.d.comb += Assert(~full | (q[PAYLOAD_BITS] == 0))  # helper: no control wavelet anywhere
                    m.d.comb += Assert(~full | here | (q[:K] == 0))  # helper: marks only in the tag FIFO
        m.d.comb += Assert((cntF != 0) | (sentF == 0))  # helper: an empty FIFO has no multicast mask
        inq, place = Signal(K), [Signal(range(D), name=f"place{k}") for k in range(K)]
        for k in range(K):
            holders = [(_place(rdF, j) < cntF) & s[k] for j, s in enumerate(slotsF)]
            m.d.comb += [inq[k].eq(_or(holders)), Assert(sum(holders) <= 1)]
            for j, h in enumerate(holders):
                with m.If(h):
                    m.d.comb += place[k].eq(_place(rdF, j))

        # per tag: admitted, the TX set in force when it entered, and deliveries per output
        self.acc = acc = Signal(K)
        self.txs = txs = [Signal(P, name=f"txs{k}") for k in range(K)]
        self.seen = [[Signal(2, name=f"seen{k}_{o.letter}") for o in Port] for k in range(K)]
        self.hits = [[Signal(name=f"hit{k}_{o.letter}") for o in Port] for k in range(K)]
        self.seen_mask = [Signal(P, name=f"seen_mask{k}") for k in range(K)]
        self.live = live = Signal(K)
        self.entered = entered
        m.d.comb += live.eq(entered & acc)
        for k in range(K):
            with m.If(enter[k]):
                m.d.sync += [acc[k].eq(admitted), txs[k].eq(tx_now)]
            tx = txs[k]
            if self.fault == "route":
                tx = txs[k] ^ (1 << Port.RAMP)
            for o in Port:
                out, seen, hit = r.link_out(o), self.seen[k][o], self.hits[k][o]
                m.d.comb += [hit.eq(out.valid & (out.data.color == tc) & out.data.payload[k]),
                             self.seen_mask[k][o].eq(seen != 0)]
                count = Mux(hit, 2, 0) if self.fault == "dup" else hit
                with m.If(count != 0):
                    m.d.sync += seen.eq(seen + count)
                m.d.comb += [
                    Assert(seen <= 1),  # at most once on each output
                    Assert((seen == 0) | (acc[k] & tx.bit_select(o, 1))),  # only on the TX set, if admitted
                ]
            sm = self.seen_mask[k]
            # helpers: a live tag is in its FIFO until it has left on every port of its TX set; at
            # the head its multicast mask is what the outputs saw; behind the head it has not left
            m.d.comb += [
                Assert(self.entered[k] | (sm == 0)),
                Assert(live[k] | ~inq[k]),
                Assert(~(live[k] & (txs[k] != 0) & (sm != txs[k])) | inq[k]),
                Assert(~(live[k] & (txs[k] != 0) & (sm == txs[k])) | ~inq[k]),
                Assert(~live[k] | ((txs[k] == tx_now) & rx_now.bit_select(tp, 1))),
                Assert(~(inq[k] & (place[k] == 0)) | (sentF == sm)),
                Assert(~(inq[k] & (place[k] != 0)) | (sm == 0)),
            ]
        # not admitted: dropped and counted
        miss, past_drops = Signal(), Signal(DROP_COUNTER_BITS)
        m.d.sync += [miss.eq(enter.any() & ~admitted), past_drops.eq(r.drops)]
        with m.If(miss):
            m.d.comb += [
                Assert((r.errors & ((1 << RouterError.RX_VIOLATION) | (1 << RouterError.OVERFLOW))) != 0),
                Assert((r.drops > past_drops) | (past_drops == TOP)),
            ]
        self.inq, self.place, self.sentF, self.entered, self.enter = inq, place, sentF, entered, enter
        self.past_drops = past_drops
        return r


class Flow(_Marked):
    TAGS = 1

    def elaborate(self, platform):
        m = Module()
        r = self.setup(m, platform)
        d, tp, tc = self.dut, self.tp, self.tc
        live, inq, place, txs, sm = self.live[0], self.inq[0], self.place[0], self.txs[0], self.seen_mask[0]
        # the tagged color's ready is always high on every output; every other color's is free
        for o in Port:
            m.d.comb += Assume(self.rdy(o).bit_select(tc, 1))
        age = Signal(range(FLOW_BOUND + 2))  # cycles since the cycle after it entered, saturating
        with m.If(self.enter[0]):
            m.d.sync += age.eq(0)
        with m.Elif(self.entered[0] & (age != FLOW_BOUND + 1)):
            m.d.sync += age.eq(age + 1)
        bound = 1 if self.fault == "bound" else FLOW_BOUND
        for o in Port:
            with m.If(live & txs.bit_select(o, 1) & (age >= bound)):
                m.d.comb += Assert(sm.bit_select(o, 1))  # left on every TX port within the bound
        # helpers, the bound's ranking: the head of the tag FIFO gets each output it still needs
        # within its arbiter's rank, so the tag at place j leaves by age (D - j) x N - 1
        _one_hot_helpers(m, d)
        i = Signal(range(N))
        m.d.comb += i.eq(tc * P + tp)
        for o in Port:
            rank = _rank(m, d[f"arb_o{o:d}.last_grant"], i, f"rank_{o.letter}")
            for j in range(D):
                need = ~(sm if j == 0 else self.sentF).bit_select(o, 1)
                with m.If(inq & (place == j) & txs.bit_select(o, 1) & need):
                    m.d.comb += Assert(age + rank - 1 <= (D - j) * N - 1)
        # an empty TX set: dropped at the head within D cycles, flagged and counted
        empty = live & (txs == 0)
        m.d.comb += [Assert(~(inq & (txs == 0)) | (age + place <= D - 1)),  # helper
                     Assert(~(empty & ~inq) | r.errors[RouterError.NO_TX])]
        gone = Signal()
        m.d.sync += gone.eq(inq & (txs == 0))
        with m.If(gone & ~inq):
            m.d.comb += Assert((r.drops > self.past_drops) | (self.past_drops == TOP))
        m.d.comb += Cover(live & (sm == txs) & (txs == ((1 << Port.E) | (1 << Port.RAMP))))
        return m


class Order(_Marked):
    TAGS = 2

    def elaborate(self, platform):
        m = Module()
        self.setup(m, platform)
        live, inq, place = self.live, self.inq, self.place
        first, second = (1, 0) if self.fault == "swap" else (0, 1)
        for o in Port:
            # the later one never leaves an output before the earlier one has, if that was admitted
            m.d.comb += Assert(~(self.hits[second][o] & live[first]) | self.seen_mask[first].bit_select(o, 1))
            m.d.comb += Cover(self.hits[1][o] & self.seen_mask[0].bit_select(o, 1))
        # helpers: tag 1 enters after tag 0, on the same route; while both are in the FIFO, 0 is ahead
        m.d.comb += [Assert(~self.entered[1] | self.entered[0]),
                     Assert(~(inq[0] & inq[1]) | (place[0] < place[1])),
                     Assert(~(live[0] & live[1]) | (self.txs[0] == self.txs[1]))]
        return m


class Switch(_Harness):
    """Every input free (control wavelets, configuration writes, readies). A shadow of each color's
    position, ``last`` and ``ring`` follows the switch-control writes and the command the router
    applies (the control wavelet of that color that left its FIFO this cycle)."""

    def elaborate(self, platform):
        m = Module()
        self.router(m, platform)
        d = self.dut
        addr, word = CfgAddr(self.cfg.addr), SwitchWord(self.cfg.data[:SwitchWord.size])
        for c in range(C):
            pos, cmd = d[f"switch.pos_c{c}"], d[f"switch.cmd_c{c}"]
            last, ring = d[f"route.last_c{c}"], d[f"route.ring_c{c}"]
            spos, slast, sring = Signal(2, name=f"spos{c}"), Signal(2, name=f"slast{c}"), Signal(name=f"sring{c}")
            with m.If(self.cfg.we & (addr.color == c) & (addr.field == FIELD_SWITCH)):
                m.d.sync += [slast.eq(word.last), sring.eq(word.ring), spos.eq(0)]
            with m.Elif(cmd == SwitchCmd.RESET):
                m.d.sync += spos.eq(0)
            with m.Elif(cmd == SwitchCmd.ADVANCE):
                if self.fault == "clamp":
                    m.d.sync += spos.eq(spos + 1)
                else:
                    m.d.sync += spos.eq(Mux(spos < slast, spos + 1, Mux(sring, 0, spos)))
            m.d.comb += [
                Assert(pos <= last),  # the position never exceeds the last configured one
                Assert((pos == spos) & (last == slast) & (ring == sring)),  # moves as documented
            ]
            m.d.comb += Cover((pos == 2) & (last == 2) & ring & (cmd == SwitchCmd.ADVANCE))
        return m


#: name -> (harness class, mode, depth, what it proves); mode "structural" is a Yosys check
HARNESSES = {
    "safety": (Safety, "prove", 4, "sticky errors; drop counter monotone and saturating; a wavelet on a "
               "color whose ready is low is dropped and counted; outputs keep the link protocol"),
    "ready": (None, "structural", 0, "ready depends on state only: no combinational path from any input "
              "to a ready output"),
    "traversal": (Traversal, "bmc", 4, "one-cycle traversal at zero load, on every port of the TX set"),
    "fair": (Fair, "prove", 2, f"round robin: a held request waits at most {FAIR_WAIT} cycles"),
    "flow": (Flow, "prove", 2, f"conservation: dropped and counted, or delivered at most once on each output "
             f"and only on the TX set in force when it entered, on every port of it within {FLOW_BOUND} "
             f"cycles with every other color stalled or not"),
    "order": (Order, "prove", 2, "per (input port, color) arrival order kept on every output"),
    "switch": (Switch, "prove", 2, "position <= last; switch writes, RESET and ADVANCE move it as documented"),
}
#: fault kind -> (harness, BMC depth at which its counterexample appears)
FAULTS = {"sticky": ("safety", 6), "valid": ("ready", 0), "unfair": ("fair", 16), "dup": ("flow", 4),
          "route": ("flow", 4), "bound": ("flow", 6), "swap": ("order", 5), "clamp": ("switch", 4)}
MODEL = f"router: {C} colors, FIFO depth {D}, {P} ports"


def harness(name: str, fault: str | None = None):
    cls = HARNESSES[name][0]
    return cls(fault=fault) if cls is not None else Router(PROFILE)
