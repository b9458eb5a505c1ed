"""The edge of a simulated mesh, cycle by cycle: link drivers, link monitors and the stepping loop.

Runs inside the simulator (cocotb). One coroutine steps the whole mesh top, touching each packed
port vector once per cycle, which keeps the Python cost per cycle flat as the number of links
grows:

    read-write phase   read the mesh's ready bits (registered, final after the edge), let every
                       LinkDriver pick at most one wavelet whose color is ready, drive the output
                       backpressure (random per color when asked)
    ReadOnly           every LinkMonitor records the wavelet on its link if valid, and checks the
                       link protocol: valid only for a color whose ready bit was high

The engines' job server (sdk/cosim/sim_server.py) plays host operations with it; the testbenches
in tb/ build on it (tb/fabric.py adds the router-mesh fixture's RAMP links and configuration bus).

Interface:
    links are hdl.mesh.EdgeLink keys (a subclass's DUT may add link groups with keys of their own:
    tb/fabric.py's RAMP links); ``.groups`` {Port: [link, ...] in port-vector order}, the edge
    sides in hdl/wavelet.py EDGE_SIDES order after any group a subclass adds: the order links are
    driven in each cycle, which fixes the order random idles and backpressure are drawn in
    EdgeHarness(dut, rows, cols, colors, rng=None, clock_ns=2)
        .drivers[link]  LinkDriver: .send(color, payload, ctrl) queues a wavelet; .idle_prob
        .monitors[link] LinkMonitor: .received [Wavelet]; .stall_prob, .hold_colors
        await .reset(cycles=3); await .step(); await .run_cycles(n)
        await .run_until_idle(max_cycles, watchdog, quiet)   every queue sent and nothing moving
        .row_status() -> {"err", "idle", "halted": [bit per row]}; .row_faults() -> [int per row]
        .transfers_in / .transfers_out / .cycle / .last_progress
        .injections(), .observed(), .clear(), .start_noise(idle_prob, stall_prob)
    NoProgress          the watchdog saw nothing move for too long while work was pending
    await load_through_west_edge(h, streams, color, settle=True, log=None, progress_every=0) -> cycles
                        management streams {row: [Wavelet]} into the west links, until every row's
                        echo (wavelets of ``color``) has left its east link; with ``settle``, until
                        nothing moves either; the cycles from the first wavelet to the last echo
"""

from __future__ import annotations

import random
from collections import deque

from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, ReadWrite, RisingEdge

from hdl.fault import FAULT_BITS
from hdl.mesh import EdgeLink
from hdl.wavelet import EDGE_SIDES, WAVELET_BITS, Port, Wavelet, pack_wavelet, side_links, unpack_wavelet

__all__ = ["EdgeHarness", "LinkDriver", "LinkMonitor", "NoProgress", "value_of", "load_through_west_edge"]

IDLE_QUIET = 16  # cycles with nothing moving that make a mesh settled


def value_of(handle) -> int:
    """A handle's value as an unsigned int (1-bit handles give a Logic, wider ones a LogicArray)."""
    v = handle.value
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


class NoProgress(AssertionError):
    """The watchdog saw no wavelet move for too long while work was pending."""


class LinkDriver:
    """Feeds one input link; keeps a queue per color so a stalled color never holds back another."""

    def __init__(self, link, colors, rng):
        self.link = link
        self.colors = colors
        self.queues = [deque() for _ in range(colors)]
        self.rng = rng
        self.idle_prob = 0.0
        self.ignore_ready = False  # protocol violation on purpose: tests the OVERFLOW error
        self._rr = 0
        self.sent = 0
        self.pending = 0  # wavelets queued, not yet sent
        self.log = []  # everything queued, in order: the stimulus the golden model is given

    def send(self, color, payload, ctrl=0):
        w = Wavelet(color, payload, ctrl)
        self.log.append(w)
        self.pending += 1
        # Colors beyond the profile still go out (the router must drop and count them): queue them
        # on a shared extra queue.
        if color >= len(self.queues):
            self.queues.append(deque())
            self.queues[-1].append(w)
            return
        self.queues[color].append(w)

    def pick(self, ready_bits: int):
        """The wavelet to present this cycle, or None; round-robin over ready colors
        (``ready_bits``: the link's ready vector, bit c = color c)."""
        if self.idle_prob and self.rng.random() < self.idle_prob:
            return None
        if not self.pending:
            return None
        n = len(self.queues)
        for i in range(n):
            k = (self._rr + i) % n
            q = self.queues[k]
            if q:
                color = q[0].color
                # A color with no ready bit (out of range) is sent regardless: it tests dropping.
                if color >= self.colors or ready_bits >> color & 1 or self.ignore_ready:
                    self._rr = (k + 1) % n
                    self.sent += 1
                    self.pending -= 1
                    return q.popleft()
        return None


class LinkMonitor:
    """Watches one output link and applies its backpressure (random per color when asked)."""

    def __init__(self, link, colors, rng):
        self.link = link
        self.colors = colors
        self.rng = rng
        self.received = []
        self.stall_prob = 0.0
        self.hold_colors = set()
        self.ready = (1 << colors) - 1

    def choose_ready(self):
        if not self.stall_prob and not self.hold_colors:
            self.ready = (1 << self.colors) - 1  # the common case: no draw, every color ready
            return self.ready
        r = 0
        for c in range(self.colors):
            if c in self.hold_colors:
                continue
            if self.stall_prob and self.rng.random() < self.stall_prob:
                continue
            r |= 1 << c
        self.ready = r
        return r


class EdgeHarness:
    def __init__(self, dut, rows, cols, colors, rng=None, clock_ns=2):
        self.dut, self.rows, self.cols, self.colors = dut, rows, cols, colors
        self.rng = rng or random.Random(1)
        self.clock_ns = clock_ns
        self.cycle = 0
        self.last_progress = 0
        self.groups = {}  # Port -> [link, ...] in the order of its port vectors
        self._extra_groups()
        for side in EDGE_SIDES:
            self.groups[side] = [EdgeLink(side, i) for i in range(side_links(side, rows, cols))]
        self.drivers, self.monitors = {}, {}
        for links in self.groups.values():
            for link in links:
                self.drivers[link] = LinkDriver(link, colors, self.rng)
                self.monitors[link] = LinkMonitor(link, colors, self.rng)
        self.handles = {g: {name: getattr(dut, f"{g.letter}_{name}") for name in
                            ("in_valid", "in_data", "in_ready", "out_valid", "out_data", "out_ready")}
                        for g in self.groups}
        self.transfers_in = 0
        self.transfers_out = 0
        self._clock = None
        self._last_driven = {}  # group -> [in_valid, in_data, out_ready] last written

    def _extra_groups(self):
        """Link groups a subclass's DUT has besides the four edges (driven first), keyed by the Port
        whose ``letter`` prefixes their port vectors."""

    def _drive_extra(self):
        """Called in the read-write phase of every step before the links are driven."""

    def _reset_extra(self):
        """Called while reset is asserted."""

    async def reset(self, cycles=3):
        """Start the clock (first call) and hold reset for ``cycles`` cycles; clears the routers'
        routes, FIFOs and status, and every PE."""
        if not self._clock:
            self._clock = Clock(self.dut.clk, self.clock_ns, unit="ns")
            self._clock.start()
        else:
            await RisingEdge(self.dut.clk)  # leave the read-only phase of the last step
        self.dut.rst.value = 1
        self._reset_extra()
        for h in self.handles.values():
            h["in_valid"].value = 0
            h["in_data"].value = 0
            h["out_ready"].value = 0
        self._last_driven = {g: [0, 0, 0] for g in self.handles}
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def step(self):
        """Advance one clock cycle."""
        await RisingEdge(self.dut.clk)
        # Registered outputs are only final once the edge has been evaluated: read and drive in
        # the read-write phase, sample combinational outputs in the read-only phase.
        await ReadWrite()
        self.cycle += 1
        colors, W = self.colors, WAVELET_BITS
        cmask = (1 << colors) - 1
        self._drive_extra()
        driven = {}
        for g, links in self.groups.items():
            h = self.handles[g]
            last = self._last_driven.setdefault(g, [None, None, None])
            ready_vec = value_of(h["in_ready"])
            valid, data = 0, 0
            for i, link in enumerate(links):
                d = self.drivers[link]
                if not d.pending and not d.idle_prob:
                    continue  # nothing to send and no random idle to draw: the link stays idle
                w = d.pick((ready_vec >> (i * colors)) & cmask)
                if w is not None:
                    valid |= 1 << i
                    data |= pack_wavelet(*w) << (i * W)
            # A write through the simulator interface costs more than the comparison: write what changed.
            if valid != last[0]:
                h["in_valid"].value = last[0] = valid
            if data != last[1]:
                h["in_data"].value = last[1] = data
            out_ready = 0
            for i, link in enumerate(links):
                out_ready |= self.monitors[link].choose_ready() << (i * colors)
            if out_ready != last[2]:
                h["out_ready"].value = last[2] = out_ready
            driven[g] = (valid, ready_vec)
        await ReadOnly()
        moved = False
        for g, links in self.groups.items():
            h = self.handles[g]
            valid, ready_before = driven[g]
            if valid:
                moved = True
                self.transfers_in += bin(valid).count("1")
            # ready is registered: it must not change within a cycle, whatever we drive
            assert value_of(h["in_ready"]) == ready_before, f"{g.name} ready changed mid-cycle"
            ov = value_of(h["out_valid"])
            if ov:
                od = value_of(h["out_data"])
                for i, link in enumerate(links):
                    if ov >> i & 1:
                        w = unpack_wavelet((od >> (i * W)) & ((1 << W) - 1))
                        mon = self.monitors[link]
                        assert w.color < colors and mon.ready >> w.color & 1, (
                            f"cycle {self.cycle}: {link} presented color {w.color} while its ready bit was low")
                        mon.received.append(w)
                        self.transfers_out += 1
                moved = True
        if moved:
            self.last_progress = self.cycle

    @property
    def pending(self):
        return sum(d.pending for d in self.drivers.values())

    async def run_cycles(self, n):
        for _ in range(n):
            await self.step()

    async def run_until_idle(self, max_cycles=1_000_000, watchdog=2000, quiet=64, progress_every=0, log=None):
        """Step until every driver queue is empty and nothing moved for ``quiet`` cycles.

        With ``progress_every`` and ``log``, report progress every that many cycles."""
        start = self.cycle
        self.last_progress = self.cycle
        while True:
            await self.step()
            if progress_every and log and (self.cycle - start) % progress_every == 0:
                log.info("cycle %7d: %d wavelets injected, %d delivered, %d still queued",
                         self.cycle - start, self.transfers_in, self.transfers_out, self.pending)
            if self.pending == 0 and self.cycle - self.last_progress >= quiet:
                return self.cycle - start
            if self.cycle - self.last_progress > watchdog:
                raise NoProgress(f"no wavelet moved for {watchdog} cycles at cycle {self.cycle} with "
                                 f"{self.pending} still queued")
            if self.cycle - start > max_cycles:
                raise NoProgress(f"not idle after {max_cycles} cycles")

    def row_status(self):
        """{"err": [...], "idle": [...], "halted": [...]}: one bit per row (a generated mesh top)."""
        return {k: [(value_of(getattr(self.dut, f"row_{k}")) >> r) & 1 for r in range(self.rows)]
                for k in ("err", "idle", "halted")}

    def row_faults(self) -> list[int] | None:
        """Each row's fault report (hdl/fault.py FaultInfo, as an int), or None if the DUT has none."""
        if not hasattr(self.dut, "row_fault"):
            return None
        v = value_of(self.dut.row_fault)
        return [(v >> (r * FAULT_BITS)) & ((1 << FAULT_BITS) - 1) for r in range(self.rows)]

    def injections(self):
        """{link: [Wavelet, ...]} queued since the last clear()."""
        return {link: list(d.log) for link, d in self.drivers.items() if d.log}

    def observed(self):
        return {link: list(m.received) for link, m in self.monitors.items() if m.received}

    def clear(self):
        for d in self.drivers.values():
            d.log.clear()
        for m in self.monitors.values():
            m.received.clear()

    def start_noise(self, idle_prob=0.0, stall_prob=0.0):
        for d in self.drivers.values():
            d.idle_prob = idle_prob
        for m in self.monitors.values():
            m.stall_prob = stall_prob


async def load_through_west_edge(h: EdgeHarness, streams: dict, color: int, settle: bool = True, log=None,
                                 progress_every: int = 0, max_cycles: int = 1_000_000) -> int:
    """Send every row's management stream into its west link and wait until every row's echo has
    left its east edge (the management color's reset route passes each wavelet along the whole row,
    docs/mesh.md), i.e. every tile has seen its last write. With ``log`` and ``progress_every``,
    report progress every that many cycles (large meshes load for minutes)."""
    want, seen, scanned = {}, {}, {}
    for r, stream in streams.items():
        r = int(r)
        for w in stream:
            h.drivers[EdgeLink(Port.W, r)].send(*w)
        mon = h.monitors[EdgeLink(Port.E, r)]
        want[r], seen[r], scanned[r] = len(stream), 0, len(mon.received)

    def echoed(r):
        # count only what arrived since the last look: a row's stream can be 10^5 wavelets long
        rec = h.monitors[EdgeLink(Port.E, r)].received
        seen[r] += sum(1 for w in rec[scanned[r]:] if w.color == color)
        scanned[r] = len(rec)
        return seen[r] >= want[r]

    start = last = h.cycle
    pending = {r for r, n in want.items() if n}
    while pending:
        await h.step()
        done = {r for r in pending if echoed(r)}
        if done:
            last = h.cycle
            pending -= done
        if progress_every and log and (h.cycle - start) % progress_every == 0:
            log.info("loading: cycle %d, %d of %d rows echoed", h.cycle - start, len(want) - len(pending), len(want))
        if h.cycle - start > max_cycles:
            raise NoProgress(f"management streams not echoed after {max_cycles} cycles: rows {sorted(pending)}")
    if settle:
        await h.run_until_idle(quiet=IDLE_QUIET)
    return last - start
