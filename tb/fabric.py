"""cocotb harness for the router-only mesh fixture (hdl/router_mesh.py): drivers, monitors, a
configuration driver, a watchdog and the per-cycle loop that ties them together.

One coroutine steps the whole fixture cycle by cycle (touching each packed port vector once per
cycle, which keeps Python cost per cycle flat as the number of links grows):

    read-write phase        read the routers' ready bits (registered, final after the edge), let every
                            LinkDriver pick at most one wavelet whose color is ready, drive the
                            random output backpressure and the configuration bus
    ReadOnly                every LinkMonitor records the wavelet on its link if valid, and checks
                            the protocol: valid only for a color whose ready bit was high

Interface:
    Link = (pe, port) pairs, with pe = (row, col) and port a golden.routing.Port
    FabricHarness(dut, rows, cols, colors, rng)
        .drivers[link]  LinkDriver: .send(color, payload, ctrl) queues a wavelet; .idle_prob
        .monitors[link] LinkMonitor: .received list of (color, payload, ctrl); .stall_prob,
                        .hold_colors (colors whose ready is held low)
        await .reset(); await .configure(mesh_routes); await .write_cfg(pe, addr, data)
        await .run_until_idle(max_cycles, watchdog)  drive until all queues are sent and the
                        fabric has been quiet for a while; fails on no progress
        await .run_cycles(n)
        .status() -> {pe: (drops, errors)}
"""

from __future__ import annotations

import random
from collections import deque

from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, ReadWrite, RisingEdge

from golden.routing import Port
from hdl.router import DROP_COUNTER_BITS, RouterError
from hdl.router_config import encode_color_route
from hdl.wavelet import WAVELET_BITS, pack_wavelet, unpack_wavelet

__all__ = ["FabricHarness", "LinkDriver", "LinkMonitor", "NoProgress"]

_GROUP = {Port.N: "n", Port.S: "s", Port.W: "w", Port.E: "e", Port.RAMP: "ramp"}


def _u(handle) -> int:
    """A handle's value as an unsigned int (1-bit handles give a Logic, wider ones a LogicArray)."""
    v = handle.value
    return v.to_unsigned() if hasattr(v, "to_unsigned") else int(v)


class NoProgress(AssertionError):
    """The watchdog saw no wavelet move for too long while work was pending."""


class LinkDriver:
    """Feeds one input link; keeps a queue per color so a stalled color never holds back another."""

    def __init__(self, link, colors, rng):
        self.link = link
        self.queues = [deque() for _ in range(colors)]
        self.rng = rng
        self.idle_prob = 0.0
        self.ignore_ready = False  # protocol violation on purpose: tests the OVERFLOW error
        self._rr = 0
        self.sent = 0
        self.log = []  # everything queued, in order: the stimulus the golden model is given

    def send(self, color, payload, ctrl=0):
        self.log.append((color, payload, ctrl))
        # Colors beyond the profile still go out (the router must drop and count them): queue them
        # on a shared extra queue.
        if color >= len(self.queues):
            self.queues.append(deque())
            self.queues[-1].append((color, payload, ctrl))
            return
        self.queues[color].append((color, payload, ctrl))

    @property
    def pending(self):
        return sum(len(q) for q in self.queues)

    def pick(self, ready_bits):
        """The wavelet to present this cycle, or None; round-robin over ready colors."""
        if self.idle_prob and self.rng.random() < self.idle_prob:
            return None
        n = len(self.queues)
        for i in range(n):
            k = (self._rr + i) % n
            q = self.queues[k]
            if q:
                color = q[0][0]
                # A color with no ready bit (out of range) is sent regardless: it tests dropping.
                if color >= len(ready_bits) or ready_bits[color] or self.ignore_ready:
                    self._rr = (k + 1) % n
                    self.sent += 1
                    return q.popleft()
        return None


class LinkMonitor:
    """Watches one output link and applies its random backpressure."""

    def __init__(self, link, colors, rng):
        self.link = link
        self.colors = colors
        self.rng = rng
        self.received = []
        self.stall_prob = 0.0
        self.hold_colors = set()
        self.ready = (1 << colors) - 1

    def choose_ready(self):
        r = 0
        for c in range(self.colors):
            if c in self.hold_colors:
                continue
            if self.stall_prob and self.rng.random() < self.stall_prob:
                continue
            r |= 1 << c
        self.ready = r
        return r


class FabricHarness:
    def __init__(self, dut, rows, cols, colors, rng=None, clock_ns=2):
        self.dut, self.rows, self.cols, self.colors = dut, rows, cols, colors
        self.rng = rng or random.Random(1)
        self.clock_ns = clock_ns
        self.cycle = 0
        self.last_progress = 0
        self.groups = {}  # group -> [link, ...] in vector order
        # The router-mesh fixture exposes every RAMP link and a configuration bus; the generated
        # tile mesh (hdl/mesh.py) only its edges, and is configured through them.
        self.has_ramp = hasattr(dut, "ramp_in_valid")
        self.has_cfg = hasattr(dut, "cfg_we")
        if self.has_ramp:
            self.groups["ramp"] = [((r, c), Port.RAMP) for r in range(rows) for c in range(cols)]
        self.groups["n"] = [((0, c), Port.N) for c in range(cols)]
        self.groups["s"] = [((rows - 1, c), Port.S) for c in range(cols)]
        self.groups["w"] = [((r, 0), Port.W) for r in range(rows)]
        self.groups["e"] = [((r, cols - 1), Port.E) for r in range(rows)]
        self.drivers, self.monitors = {}, {}
        for links in self.groups.values():
            for link in links:
                self.drivers[link] = LinkDriver(link, colors, self.rng)
                self.monitors[link] = LinkMonitor(link, colors, self.rng)
        self.cfg_queue = deque()
        self.handles = {g: {name: getattr(dut, f"{g}_{name}") for name in
                            ("in_valid", "in_data", "in_ready", "out_valid", "out_data", "out_ready")}
                        for g in self.groups}
        self.transfers_in = 0
        self.transfers_out = 0
        self._clock = None

    def pe_index(self, pe):
        return pe[0] * self.cols + pe[1]

    async def reset(self, cycles=3):
        """Start the clock (first call) and hold reset for ``cycles`` cycles; clears the routers'
        routes, FIFOs and status."""
        if not self._clock:
            self._clock = Clock(self.dut.clk, self.clock_ns, unit="ns")
            self._clock.start()
        else:
            await RisingEdge(self.dut.clk)  # leave the read-only phase of the last step
        self.dut.rst.value = 1
        if self.has_cfg:
            self.dut.cfg_we.value = 0
        for h in self.handles.values():
            h["in_valid"].value = 0
            h["in_data"].value = 0
            h["out_ready"].value = 0
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    # ---- configuration ---------------------------------------------------------------------
    def queue_cfg(self, pe, addr, data):
        self.cfg_queue.append((self.pe_index(pe), addr, data))

    def queue_routes(self, mesh):
        """Queue configuration writes for every route of a golden.routing.MeshRoutes."""
        for pe, table in mesh.routes.items():
            for color, route in table.items():
                for addr, data in encode_color_route(color, route.positions, route.ring):
                    self.queue_cfg(pe, addr, data)

    async def configure(self, mesh):
        self.queue_routes(mesh)
        while self.cfg_queue:
            await self.step()
        await self.step()

    # ---- the cycle loop ----------------------------------------------------------------------
    async def step(self):
        """Advance one clock cycle."""
        await RisingEdge(self.dut.clk)
        # Registered outputs are only final once the edge has been evaluated: read and drive in
        # the read-write phase, sample combinational outputs in the read-only phase.
        await ReadWrite()
        self.cycle += 1
        colors, W = self.colors, WAVELET_BITS
        cmask = (1 << colors) - 1
        if self.cfg_queue and not self.has_cfg:
            raise AssertionError("this DUT has no configuration bus: configure it through the mesh edge")
        if self.cfg_queue:
            sel, addr, data = self.cfg_queue.popleft()
            self.dut.cfg_we.value = 1
            self.dut.cfg_sel.value = sel
            self.dut.cfg_addr.value = addr
            self.dut.cfg_data.value = data
        elif self.has_cfg:
            self.dut.cfg_we.value = 0
        driven = {}
        for g, links in self.groups.items():
            h = self.handles[g]
            ready_vec = _u(h["in_ready"])
            valid, data = 0, 0
            for i, link in enumerate(links):
                bits = (ready_vec >> (i * colors)) & cmask
                w = self.drivers[link].pick([bits >> c & 1 for c in range(colors)])
                if w is not None:
                    valid |= 1 << i
                    data |= pack_wavelet(*w) << (i * W)
            h["in_valid"].value = valid
            h["in_data"].value = data
            out_ready = 0
            for i, link in enumerate(links):
                out_ready |= self.monitors[link].choose_ready() << (i * colors)
            h["out_ready"].value = out_ready
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
            assert _u(h["in_ready"]) == ready_before, f"{g} ready changed mid-cycle"
            ov = _u(h["out_valid"])
            if ov:
                od = _u(h["out_data"])
                for i, link in enumerate(links):
                    if ov >> i & 1:
                        color, payload, ctrl = unpack_wavelet((od >> (i * W)) & ((1 << W) - 1))
                        mon = self.monitors[link]
                        assert color < colors and mon.ready >> color & 1, (
                            f"cycle {self.cycle}: {link} presented color {color} while its ready bit was low")
                        mon.received.append((color, payload, ctrl))
                        self.transfers_out += 1
                moved = True
        if moved:
            self.last_progress = self.cycle

    @property
    def pending(self):
        return sum(d.pending for d in self.drivers.values()) + len(self.cfg_queue)

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
        """Generated tile mesh: {"err": [...], "idle": [...], "halted": [...]} per row."""
        return {k: [(_u(getattr(self.dut, f"row_{k}")) >> r) & 1 for r in range(self.rows)]
                for k in ("err", "idle", "halted")}

    def status(self):
        drops = _u(self.dut.drops)
        errors = _u(self.dut.errors)
        nerr = len(RouterError)
        out = {}
        for r in range(self.rows):
            for c in range(self.cols):
                i = self.pe_index((r, c))
                out[(r, c)] = ((drops >> (i * DROP_COUNTER_BITS)) & (2**DROP_COUNTER_BITS - 1),
                               (errors >> (i * nerr)) & (2**nerr - 1))
        return out

    def injections(self):
        """{link: [(color, payload, ctrl), ...]} queued since the last clear()."""
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
