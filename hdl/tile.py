"""The tile: one router, one PE core with its SRAM, and the management loader — the unit the mesh
generator instantiates R x C times.

Inside, the router's RAMP output is split by color: the management color goes to the loader
(which is always ready), every other color to the PE. The loader drives the router's configuration
port and the PE's load bus, so a tile is configured and loaded entirely through its links
(docs/mesh.md). The PE's own sends enter the router's RAMP input.

``Tile(profile, core=False)`` builds a fabric tile without the PE: its RAMP accepts and discards
every non-management wavelet. It serves routing-only meshes and scale studies of the fabric.

The fault chain (hdl/fault.py): each tile registers a ``FaultInfo`` word from its west neighbour to
its east neighbour. It forwards the word it receives when that word is valid; otherwise it reports
itself while ``err`` is high (column, PE status word, router error flags, loader error; a fabric
tile reports pe_status 0), and sends 0 when it has no error. The east end of each row is the mesh
top's ``row_fault``: the westernmost faulty tile of the row (docs/mesh.md).

Interface (``wiring.Component``):
    in_n, in_e, in_s, in_w        In(LinkSignature(colors))    links from the neighbours
    out_n, out_e, out_s, out_w    Out(LinkSignature(colors))   links to the neighbours
    col      In(COL_BITS)   this tile's column (tied off by the mesh top; selects management messages)
    err      Out(1)         any router error flag, a malformed management header, or a PE error
    idle     Out(1)         the PE has nothing to run and nothing in flight
    halted   Out(1)         the PE halted (after an error)
    fault_in   In(FaultInfo)    the fault word from the west neighbour (0 at the west edge)
    fault_out  Out(FaultInfo)   registered: fault_in if it is valid, else this tile's report if
                                ``err``, else 0; to the east neighbour (the row's output at the east edge)
    probe      Out(ProbeLayout)   activity counters, the PE's status word, the router's error flags
                                and drop counter (hdl/probe.py). Not wired to the mesh top: engines
                                that see inside the tiles (native, flat) read it
    events     Out(TraceEvents)   this cycle's task and vector-op events, for timeline traces
                                (``trace`` would collide with Verilator's own method)
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fault import FaultInfo
from .isa import Status
from .mgmt import COL_BITS, MgmtLoader
from .pe import PE
from .probe import ProbeCounters, ProbeLayout, TraceEvents
from .profiles import get_profile
from .router import LinkSignature, Router
from .wavelet import EDGE_SIDES

__all__ = ["Tile", "TILE_MODULE"]

TILE_MODULE = "tessera_tile"
_SIDES = tuple(p.letter for p in EDGE_SIDES)


class Tile(wiring.Component):
    def __init__(self, profile="small", core: bool = True):
        self.profile = get_profile(profile)
        self.core = core
        c = self.profile.colors
        members = {f"in_{s}": In(LinkSignature(c)) for s in _SIDES}
        members.update({f"out_{s}": Out(LinkSignature(c)) for s in _SIDES})
        members.update(col=In(COL_BITS), err=Out(1), idle=Out(1), halted=Out(1),
                       fault_in=In(FaultInfo), fault_out=Out(FaultInfo), probe=Out(ProbeLayout),
                       events=Out(TraceEvents))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        prof = self.profile
        M = prof.mgmt_color
        m.submodules.router = router = Router(prof)
        m.submodules.mgmt = mgmt = MgmtLoader()

        for s in _SIDES:
            wiring.connect(m, wiring.flipped(getattr(self, f"in_{s}")), getattr(router, f"in_{s}"))
            wiring.connect(m, getattr(router, f"out_{s}"), wiring.flipped(getattr(self, f"out_{s}")))

        ramp = router.out_ramp
        is_mgmt = ramp.data.color == M
        m.d.comb += [
            mgmt.col.eq(self.col),
            mgmt.wav.valid.eq(ramp.valid & is_mgmt),
            mgmt.wav.payload.eq(ramp.data),
        ]
        wiring.connect(m, mgmt.cfg, router.cfg)
        if not self.core:
            m.d.comb += [
                ramp.ready.eq(-1),
                router.in_ramp.valid.eq(0),
                self.err.eq(router.errors.any() | mgmt.error),
                self.idle.eq(1),
            ]
            self._fault_chain(m, router, mgmt, pe_status=0)
            self._probe(m, router, None)
            return m

        m.submodules.pe = pe = PE(prof)
        m.d.comb += [
            pe.ramp_in.valid.eq(ramp.valid & ~is_mgmt),
            pe.ramp_in.data.eq(ramp.data),
            # per-color ready: the PE's bits, with the loader's (always ready) in the management slot
            ramp.ready.eq(Cat(*(mgmt.wav.ready if c == M else pe.ramp_in.ready[c] for c in range(prof.colors)))),
        ]
        wiring.connect(m, pe.ramp_out, router.in_ramp)
        wiring.connect(m, mgmt.load, pe.load)
        m.d.comb += [
            pe.dbg.req.eq(0),
            self.err.eq(router.errors.any() | mgmt.error | (Status(pe.status.word).code != 0)),
            self.idle.eq(pe.status.idle),
            self.halted.eq(pe.status.halted),
        ]
        self._fault_chain(m, router, mgmt, pe_status=pe.status.word)
        self._probe(m, router, pe)
        return m

    def _probe(self, m, router, pe):
        """The activity counters (when the profile has them) and the status snapshot."""
        pr = self.probe
        m.d.comb += [pr.router_errors.eq(router.errors), pr.drops.eq(router.drops)]
        if pe is not None:
            m.d.comb += [pr.pe_status.eq(pe.status.word),
                         self.events.task_start.eq(pe.events.task_start), self.events.task_end.eq(pe.events.task_end),
                         self.events.task.eq(pe.events.task), self.events.vec_issue.eq(pe.events.vec_issue),
                         self.events.vec_done.eq(pe.events.vec_done)]
        if not self.profile.counters:
            return
        m.submodules.counters = ctr = ProbeCounters(has_pe=pe is not None)
        sides = [router.link_out(p) for p in EDGE_SIDES]
        m.d.comb += [
            ctr.link_out.eq(Cat(*(s.valid for s in sides))),
            ctr.link_stall.eq(Cat(*(router.stalls[p] for p in EDGE_SIDES))),
            ctr.to_ramp.eq(router.out_ramp.valid),
            pr.counters.eq(ctr.counters),
        ]
        if pe is not None:
            m.d.comb += ctr.pe.eq(pe.events)

    def _fault_chain(self, m, router, mgmt, pe_status):
        """fault_out <= fault_in if it is valid, else this tile's report while ``err``, else 0."""
        report = Signal(FaultInfo)
        m.d.comb += [
            report.valid.eq(1),
            report.col.eq(self.col),
            report.pe_status.eq(pe_status),
            report.router_errors.eq(router.errors),
            report.mgmt_error.eq(mgmt.error),
        ]
        with m.If(self.fault_in.valid):
            m.d.sync += self.fault_out.eq(self.fault_in)
        with m.Elif(self.err):
            m.d.sync += self.fault_out.eq(report)
        with m.Else():
            m.d.sync += self.fault_out.eq(0)
