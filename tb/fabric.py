"""cocotb harness for fabric testbenches: the SDK's edge harness plus what the router-only mesh
fixture (hdl/router_mesh.py) has besides edges — a RAMP link per router, a configuration bus and
per-router status.

The stepping loop, drivers, monitors and the watchdog are sdk/cosim/edge.py's (the same code the
engines play host programs with); this module adds:

    RAMP links        group Port.RAMP, driven first, when the DUT has ``ramp_in_valid``; keyed by
                      RampLink(pe): a router's RAMP link is no edge link (the edge links are
                      hdl.mesh.EdgeLink keys, as in the plain EdgeHarness)
    golden keys       .at(pe, port) -> the harness key (EdgeLink or RampLink) of the golden routing
                      model's entry or exit (pe, port); .golden_keys({link: v}) -> {(pe, port): v},
                      the inverse, for golden.routing.simulate and tb/scoreboard.py
    configuration     .queue_cfg(pe, addr, data), .queue_routes(mesh_routes), await .configure(mesh)
                      (one write per cycle on cfg_we/cfg_sel/cfg_addr/cfg_data)
    .status() -> {pe: (drops, errors)}   the fixture's per-router drop counters and error flags
    .coverage         a tb.router_coverage.RouterCoverage (1 x 1 fixture) sampled every cycle, its
                      round closed by .clear() and the status words fed to it; None: no sampling

On a generated tile mesh (hdl/mesh.py) neither exists: it is configured through its west edge
(sdk/loader.py) and FabricHarness behaves as the plain EdgeHarness.

Interface:
    FabricHarness(dut, rows, cols, colors, rng=None, clock_ns=2)   an sdk.cosim.edge.EdgeHarness
    RampLink(pe)                                                    the key of a router's RAMP link
    LinkDriver, LinkMonitor, NoProgress                             (re-exported for testbenches)
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from hdl.mesh import EdgeLink
from hdl.router import DROP_COUNTER_BITS, RouterError
from hdl.router_config import encode_color_route
from hdl.wavelet import Port
from sdk.cosim.edge import EdgeHarness, LinkDriver, LinkMonitor, NoProgress, value_of

__all__ = ["FabricHarness", "RampLink", "LinkDriver", "LinkMonitor", "NoProgress"]


class RampLink(NamedTuple):
    """The RAMP link of router ``pe`` = (row, col) in the router-only fixture: the link a PE would
    use, driven and watched by the harness (not an edge link: it has no EdgeLink)."""
    pe: tuple[int, int]

    def __str__(self) -> str:
        return f"RAMP{tuple(self.pe)}"


class FabricHarness(EdgeHarness):
    def __init__(self, dut, rows, cols, colors, rng=None, clock_ns=2, coverage=None):
        self.cfg_queue = deque()
        self.coverage = coverage
        self.has_ramp = hasattr(dut, "ramp_in_valid")
        self.has_cfg = hasattr(dut, "cfg_we")
        super().__init__(dut, rows, cols, colors, rng, clock_ns)

    def _extra_groups(self):
        if self.has_ramp:
            self.groups[Port.RAMP] = [RampLink((r, c)) for r in range(self.rows) for c in range(self.cols)]

    def _reset_extra(self):
        if self.has_cfg:
            self.dut.cfg_we.value = 0

    def _drive_extra(self):
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

    def pe_index(self, pe):
        return pe[0] * self.cols + pe[1]

    # ---- the golden routing model's keys ---------------------------------------------------
    def at(self, pe, port):
        """The harness key of the link through ``port`` (a Port of hdl/ or golden/) of tile ``pe``:
        a RampLink for RAMP, else the EdgeLink there (ValueError if the port faces a tile)."""
        if int(port) == Port.RAMP:
            return RampLink(tuple(pe))
        return EdgeLink.at(pe, port, self.rows, self.cols)

    def golden_keys(self, by_link: dict) -> dict:
        """``by_link`` ({EdgeLink or RampLink: value}) keyed as the golden routing model keys its
        entries and exits: {(pe, port): value}."""
        return {(link.pe, Port.RAMP) if isinstance(link, RampLink) else link.pe_port(self.rows, self.cols): v
                for link, v in by_link.items()}

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

    @property
    def pending(self):
        return super().pending + len(self.cfg_queue)

    async def step(self):
        await super().step()
        if self.coverage is not None:
            self.coverage.sample_cycle(self)  # still in the read-only phase of this cycle

    def clear(self):
        if self.coverage is not None:
            self.coverage.finish_round()
        super().clear()

    def status(self):
        drops = value_of(self.dut.drops)
        errors = value_of(self.dut.errors)
        nerr = len(RouterError)
        out = {}
        for r in range(self.rows):
            for c in range(self.cols):
                i = self.pe_index((r, c))
                out[(r, c)] = ((drops >> (i * DROP_COUNTER_BITS)) & (2**DROP_COUNTER_BITS - 1),
                               (errors >> (i * nerr)) & (2**nerr - 1))
                if self.coverage is not None:
                    self.coverage.sample_status(out[(r, c)][1])
        return out
