"""The golden engine: the golden PE-mesh model (golden/pe_mesh_model.py) behind the engine interface.

No RTL: a fast functional run of the same host program — the same management streams (routes,
images, memory writes, control words decoded by the model's loaders), the same edge traffic, switch
routes included. It is not cycle-accurate: ``RunResult.cycles`` is None and ``run`` always runs
the mesh until it is quiescent (a number of cycles as the stop condition runs it to quiescence
too). Every faulty PE is reported (the hardware's fault report names the westernmost one of each
row).

Interface:
    GoldenEngine(rows, cols, profile="small", max_rounds=100_000)   an Engine; .model (PEMeshModel)
"""

from __future__ import annotations

import time

from golden.pe_mesh_model import PEMeshModel
from golden.pe_model import ERROR_NAMES
from golden.routing import MeshRoutes
from hdl.isa import pe_params
from hdl.mesh import EdgeLink
from hdl.wavelet import Port, Wavelet

from ..records import Fault, MeshStatus, RunResult
from ..trace import TraceSpec
from .base import Engine, Until

__all__ = ["GoldenEngine"]


class GoldenEngine(Engine):
    name = "golden"
    cycle_accurate = False

    def __init__(self, rows, cols, profile="small", max_rounds: int = 100_000):
        super().__init__(rows, cols, profile)
        self.max_rounds = max_rounds
        self.reset()

    def reset(self):
        p = self.profile
        self.model = PEMeshModel(MeshRoutes(self.rows, self.cols, p.colors), mgmt_color=p.mgmt_color,
                                 **pe_params(p))
        self._taken = {}

    def _run(self):
        state = self.model.run(max_rounds=self.max_rounds)
        return "idle" if state == "quiescent" else "stalled"

    def load(self, streams: dict, settle: bool = True):
        for r, stream in streams.items():
            pe, port = EdgeLink(Port.W, int(r)).pe_port(self.rows, self.cols)
            for w in stream:
                self.model.inject(pe, port, *w)
        self._run()
        m = self.profile.mgmt_color
        for r in range(self.rows):  # the management echo is the loader's, not the program's
            key = EdgeLink(Port.E, r).pe_port(self.rows, self.cols)
            taken = self._taken.get(key, 0)
            out = self.model.edge_out[key]
            kept = [w for w in out[taken:] if w[0] != m]
            out[taken:] = kept
        return None

    def inject(self, link: EdgeLink, wavelets):
        pe, port = link.pe_port(self.rows, self.cols)
        for w in wavelets:
            self.model.inject(pe, port, *w)

    def run(self, until: Until, max_idle: int = 20000, progress: int = 0, counters: bool = False,
            trace: TraceSpec | None = None) -> RunResult:
        self._no_probes(counters, trace)
        t0 = time.monotonic()
        reason = self._run()
        if reason == "idle" and until.kind == "outputs":
            reason = "outputs"
        return RunResult(cycles=None, reason=reason, status=self.status(), busy_rows=None,
                         wall_seconds=time.monotonic() - t0)

    def take(self) -> dict:
        out = {}
        for (pe, port), ws in self.model.edge_out.items():
            k = self._taken.get((pe, port), 0)
            if len(ws) > k:
                out[EdgeLink.at(pe, port, self.rows, self.cols)] = [Wavelet(*w) for w in ws[k:]]
                self._taken[(pe, port)] = len(ws)
        return out

    def status(self) -> MeshStatus:
        faults = []
        err, idle, halted = [0] * self.rows, [1] * self.rows, [0] * self.rows
        for (r, c), pe in sorted(self.model.pe.items()):
            st = pe.status
            rerr = sorted(self.model.router_errors.get((r, c), ()))
            lerr = self.model.loader.get((r, c)) is not None and self.model.loader[(r, c)].error
            if st.code or st.halted or rerr or lerr:
                faults.append(Fault((r, c), ERROR_NAMES[st.code], st.task, st.pc, st.async_, st.halted, rerr, lerr))
                err[r] = 1
            halted[r] |= int(st.halted)
            idle[r] &= int(pe.idle or st.halted)
        return MeshStatus(err, idle, halted, faults)
