"""Router coverage sampled from what the link monitors saw (one router: the 1 x 1 fixture).

Role
----
``RouterCoverage`` watches every link of a router fixture through the harness (tb/fabric.py calls
``sample_cycle`` in the read-only phase of every cycle): a wavelet is *admitted* when an input link
carries it while its color's ready bit is high, and *delivered* when an output link carries it.
Each admitted wavelet is followed to the outputs it leaves on; at the end of a round
(``finish_round``, called by the harness's ``clear``) it becomes one sample:

    router.flow[<profile>]       (input port, color, TX set, "stalled" | "free")
                                 TX set: the ports the wavelet was seen leaving on (a 5-bit mask in
                                 golden/routing.py port order); stalled: on some port of it the
                                 color's ready was low after admission and before delivery
    router.multicast[<profile>]  (TX set size 2..5, "whole" | "partial"): a multicast delivered on
                                 every port in one cycle, or in several grants
    router.switch[<profile>]     (command, outcome) of a switched color's position, recovered from
                                 the TX sets of consecutive deliveries of that color and the
                                 command the earlier one carried (routes given with ``watch_switch``):
                                 advance/moved, advance/held_at_last, advance/wrapped,
                                 reset/to_first, none/stayed
    router.error[<profile>]      each error flag (hdl/router.py RouterError) seen set on the status
                                 port (``sample_status``)

Wavelets are matched by (color, payload, ctrl): the testbenches tag payloads uniquely.

Interface
---------
RouterCoverage(colors, profile)
    .sample_cycle(h)           h: tb.fabric.FabricHarness, in ReadOnly after its step
    .finish_round()            turn followed wavelets into samples
    .watch_switch(color, positions, ring)   positions: [(rx mask, tx mask), ...]
    .sample_status(errors)     the error-flag word of the router
    .groups                    [CoverGroup]; .save(run)
"""

from __future__ import annotations

from collections import defaultdict, deque

from hdl.router import RouterError
from hdl.wavelet import WAVELET_BITS, Port, unpack_wavelet
from sdk.cosim.edge import value_of

from .coverage import CoverGroup, save

__all__ = ["RouterCoverage", "SWITCH_BINS"]

SWITCH_BINS = [("advance", "moved"), ("advance", "held_at_last"), ("advance", "wrapped"),
               ("reset", "to_first"), ("none", "stayed")]
_CMD = {0: "none", 1: "advance", 2: "reset"}


class _Flight:
    __slots__ = ("port", "color", "ctrl", "payload", "admitted", "out", "stalled")

    def __init__(self, port, color, payload, ctrl, admitted):
        self.port, self.color, self.payload, self.ctrl, self.admitted = port, color, payload, ctrl, admitted
        self.out = {}  # output port -> delivery cycle
        self.stalled = False


class RouterCoverage:
    def __init__(self, colors: int, profile: str):
        self.colors = colors
        p = f"[{profile}]"
        self.flow = CoverGroup(f"router.flow{p}", [(port.letter, c, s, st) for port in Port for c in range(colors)
                                                   for s in range(1, 32) for st in ("stalled", "free")],
                               "input port x color x TX set x stalled, from the link monitors")
        self.multicast = CoverGroup(f"router.multicast{p}", [(n, k) for n in range(2, 6) for k in ("whole", "partial")],
                                    "multicast deliveries in one grant or several")
        self.switch = CoverGroup(f"router.switch{p}", SWITCH_BINS, "switch position moves seen at the outputs")
        self.error = CoverGroup(f"router.error{p}", [(e.name,) for e in RouterError],
                                "router error flags seen on the status port")
        self.groups = [self.flow, self.multicast, self.switch, self.error]
        self._flying = defaultdict(deque)  # (color, payload, ctrl) -> flights not yet delivered everywhere
        self._round = []
        self._low = defaultdict(lambda: [-1] * colors)  # output port -> last cycle each color's ready was low
        self._switched = {}  # color -> (positions, ring)

    def watch_switch(self, color, positions, ring=False):
        self._switched[color] = ([tuple(p) for p in positions], ring)

    def sample_status(self, errors: int):
        for e in RouterError:
            if errors >> e & 1:
                self.error.sample((e.name,))

    def sample_cycle(self, h):
        """One cycle of the fixture's links (h.groups: input/output vectors per side and RAMP, keyed
        by the router port they serve: one link each on the 1 x 1 fixture)."""
        colors, W, cyc = self.colors, WAVELET_BITS, h.cycle
        cmask = (1 << colors) - 1
        for port, links in h.groups.items():
            hd = h.handles[port]
            ready_out = value_of(hd["out_ready"])
            for i in range(len(links)):
                low = ~(ready_out >> (i * colors)) & cmask
                if low:
                    last = self._low[port]
                    for c in range(colors):
                        if low >> c & 1:
                            last[c] = cyc
            iv = value_of(hd["in_valid"])
            if iv:
                rdy, data = value_of(hd["in_ready"]), value_of(hd["in_data"])
                for i in range(len(links)):
                    if iv >> i & 1:
                        w = unpack_wavelet(data >> (i * W) & ((1 << W) - 1))
                        if w.color < colors and rdy >> (i * colors + w.color) & 1:
                            f = _Flight(port, w.color, w.payload, w.ctrl, cyc)
                            self._flying[(w.color, w.payload, w.ctrl)].append(f)
                            self._round.append(f)
            ov = value_of(hd["out_valid"])
            if ov:
                data = value_of(hd["out_data"])
                for i in range(len(links)):
                    if ov >> i & 1:
                        w = unpack_wavelet(data >> (i * W) & ((1 << W) - 1))
                        self._deliver(port, w, cyc)

    def _deliver(self, port, w, cyc):
        for f in self._flying.get((w.color, w.payload, w.ctrl), ()):
            if port not in f.out:
                f.out[port] = cyc
                if self._low[port][w.color] > f.admitted:
                    f.stalled = True
                return
        raise AssertionError(f"cycle {cyc}: {port.letter} delivered {w} that no input admitted")

    def finish_round(self):
        for f in self._round:
            if not f.out:
                continue  # dropped: counted by the router's drop counter, not a flow
            mask = sum(1 << int(p) for p in f.out)
            self.flow.sample((f.port.letter, f.color, mask, "stalled" if f.stalled else "free"))
            if len(f.out) > 1:
                self.multicast.sample((len(f.out), "whole" if len(set(f.out.values())) == 1 else "partial"))
        self._switch_moves()
        self._round = []
        self._flying.clear()

    def _switch_moves(self):
        for color, (positions, ring) in self._switched.items():
            seq = sorted((f for f in self._round if f.color == color and f.out), key=lambda f: min(f.out.values()))
            txs = [tx for _, tx in positions]
            if len(set(txs)) != len(txs):
                continue  # positions not told apart by their TX sets
            pos = [txs.index(sum(1 << int(p) for p in f.out)) if sum(1 << int(p) for p in f.out) in txs else None
                   for f in seq]
            last = len(positions) - 1
            for k in range(len(seq) - 1):
                a, b = pos[k], pos[k + 1]
                if a is None or b is None:
                    continue
                cmd = _CMD.get(seq[k].payload & 3, "none") if seq[k].ctrl else "none"
                if cmd == "advance":
                    outcome = ("moved" if b == a + 1 else "wrapped" if a == last and b == 0 and ring
                               else "held_at_last" if a == last == b else None)
                elif cmd == "reset":
                    outcome = "to_first" if b == 0 else None
                else:
                    outcome = "stayed" if a == b else None
                if outcome is None:
                    raise AssertionError(f"color {color}: command {cmd} moved the switch from position {a} to {b}")
                self.switch.sample((cmd, outcome))

    def save(self, run: str):
        return save(self.groups, run)
