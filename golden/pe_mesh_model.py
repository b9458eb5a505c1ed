"""Golden model of a mesh of PE cores joined by the color-routed fabric (static routes).

Role
----
Composes ``golden.pe_model.PEModel`` instances with ``golden.routing.simulate`` to predict what a
PE mesh computes and what leaves it at its edges. Like its parts it is not cycle-accurate.

The loop (one *round*):
  1. run every PE (row-major order) until it is idle, waiting for input, halted or out of budget;
  2. collect the wavelets each PE sent since the last round (its RAMP input to the router) and the
     wavelets injected at open mesh edges since then;
  3. carry them through the fabric with ``golden.routing.simulate``; deliveries at a PE's RAMP
     output go to that PE's input queues (``deliver``), deliveries at open edges to ``edge_out``;
  4. repeat until a round has nothing to carry (quiescent) or ``max_rounds`` is reached.

Order: within a round the routing model keeps each (source, color) flow in order, and every
round's wavelets come after the previous round's, so per-flow order holds end to end. Routes must
have a single switch position per color (``simulate`` starts every call at position 0, so switch
state could not carry over between rounds); the constructor rejects multi-position routes.

Interface
---------
``PEMeshModel(routes: MeshRoutes, **pe_params)``   pe_params go to every PEModel
    .pe[(r, c)]                       the PEModel of each PE
    .load((r, c), image)              load one PE
    .inject((r, c), port, color, payload, ctrl=0)   a wavelet entering at an open edge port
    .run(max_rounds=1000, max_instructions=1_000_000) -> "quiescent" | "rounds"
    .states {pe: last PEModel.run() result}   .edge_out {(pe, port): [(color, payload, ctrl)]}
    .drops Counter {pe: wavelets the fabric dropped}  .rounds
"""

from __future__ import annotations

from collections import Counter, defaultdict

from .pe_model import PEModel
from .routing import MeshRoutes, Port, RouteError, simulate

__all__ = ["PEMeshModel"]


class PEMeshModel:
    def __init__(self, routes: MeshRoutes, **pe_params):
        routes.validate()
        for pe, table in routes.routes.items():
            for color, route in table.items():
                if len(route.positions) != 1:
                    raise RouteError(f"PE {pe} color {color}: the PE mesh model needs single-position routes")
        pe_params.setdefault("colors", routes.colors)
        self.routes = routes
        self.pe = {pe: PEModel(**pe_params) for pe in routes.pes()}
        self._sent = dict.fromkeys(self.pe, 0)  # how many of each PE's emitted wavelets are routed
        self._edge_in: dict = defaultdict(list)
        self.edge_out: dict = defaultdict(list)
        self.states: dict = {}
        self.drops: Counter = Counter()
        self.rounds = 0

    def load(self, pe, image):
        self.pe[tuple(pe)].load(image)

    def inject(self, pe, port, color: int, payload: int, ctrl: int = 0):
        self._edge_in[(tuple(pe), Port(port))].append((color, payload, ctrl))

    def run(self, max_rounds: int = 1000, max_instructions: int = 1_000_000) -> str:
        for _ in range(max_rounds):
            for pe in sorted(self.pe):
                self.states[pe] = self.pe[pe].run(max_instructions)
            injections = self._collect()
            if not injections:
                return "quiescent"
            self.rounds += 1
            self._carry(simulate(self.routes, injections))
        return "rounds"

    def _collect(self) -> dict:
        injections = defaultdict(list)
        for pe, model in self.pe.items():
            new = model.emitted[self._sent[pe]:]
            self._sent[pe] = len(model.emitted)
            if new:
                injections[(pe, Port.RAMP)].extend(new)
        for key, stream in self._edge_in.items():
            injections[key].extend(stream)
        self._edge_in.clear()
        return injections

    def _carry(self, result):
        self.drops.update(result.drops)
        for (pe, port), deliveries in result.outputs.items():
            for d in deliveries:
                if port == Port.RAMP:
                    self.pe[pe].deliver(d.color, d.payload, d.ctrl)
                else:
                    self.edge_out[(pe, port)].append((d.color, d.payload, d.ctrl))
