"""Golden model of a mesh of PE cores joined by the color-routed fabric, seen from its edges.

Role
----
Composes ``golden.pe_model.PEModel`` instances with ``golden.routing.simulate`` to predict what a
PE mesh computes and what leaves it at its edges. Like its parts it is not cycle-accurate. Written
from docs/mesh.md, docs/router.md and docs/pe.md; it imports nothing outside golden/.

The loop (one *round*):
  1. run every PE (row-major order) until it is idle, waiting for input, halted or out of budget;
  2. collect the wavelets each PE sent since the last round (its RAMP input to the router) and the
     wavelets injected at open mesh edges since then;
  3. carry them through the fabric with ``golden.routing.simulate``, continuing from the fabric
     state the last round left (switch positions, wavelets waiting for a position); deliveries at
     a PE's RAMP output go to that PE's input queues (``deliver``) — or, on the management color,
     to the tile's management loader — and deliveries at open edges to ``edge_out``;
  4. repeat until a round has nothing to carry (quiescent) or ``max_rounds`` is reached.

Order: within a round the routing model keeps each (source, color) flow in order, and every
round's wavelets come after the previous round's, so per-flow order holds end to end. Switch
routes work across rounds: a wavelet waiting for a switch position waits in the fabric state.

The management path (``mgmt_color`` given; docs/mesh.md "Loading through the edge"): every PE
routes that color RX {W}, TX {E, RAMP} from reset, and its tile's loader decodes headers
(column, target, address; a nonzero command field is an error) and data words: router
configuration writes (docs/router.md address map: route positions, switch control, which resets the
position; a reserved field or a color beyond the profile sets BAD_CFG) change the route table the
next round uses; PE load-bus writes go to ``PEModel.load_write``. At reset every other route is
empty and every PE's RUN is off, as in the hardware.

Interface
---------
``PEMeshModel(routes: MeshRoutes, mgmt_color=None, **pe_params)``   pe_params go to every PEModel
    .pe[(r, c)]                       the PEModel of each PE
    .routes                           the route table in force (MeshRoutes)
    .load((r, c), image)              load one PE directly (a test convenience)
    .inject((r, c), port, color, payload, ctrl=0)   a wavelet entering at an open edge port
    .run(max_rounds=1000, max_instructions=1_000_000) -> "quiescent" | "rounds"
    .states {pe: last PEModel.run() result}   .edge_out {(pe, port): [(color, payload, ctrl)]}
    .drops Counter {pe: wavelets the fabric dropped}  .router_errors {pe: set of error names}
    .loader_error {pe: bool}  .stuck [(pe, port, color, payload)] waiting for a switch  .rounds
"""

from __future__ import annotations

from collections import Counter, defaultdict

from .pe_model import PEModel
from .routing import ColorRoute, FabricState, MeshRoutes, Port, mask_of, simulate

__all__ = ["PEMeshModel"]

_BROADCAST_COL = 1023  # a header column that selects every column (docs/mesh.md)
_DROP_FLAG = {"rx_violation": "RX_VIOLATION", "bad_color": "BAD_COLOR", "no_tx": "NO_TX"}


class _Loader:
    """One tile's management loader (docs/mesh.md): header and data wavelets to writes."""

    def __init__(self, col: int):
        self.col = col
        self.selected = False
        self.target = 0
        self.addr = 0
        self.error = False

    def feed(self, payload: int, ctrl: int):
        """A management wavelet; returns (target, address, data) for a data word that writes."""
        if ctrl:
            cmd, col = payload & 3, payload >> 22 & 0x3FF
            if cmd:
                self.error = True
            self.selected = not cmd and col in (self.col, _BROADCAST_COL)
            self.target, self.addr = payload >> 21 & 1, payload >> 2 & (2**19 - 1)
            return None
        if not self.selected:
            return None
        write = (self.target, self.addr, payload)
        self.addr += 1
        return write


class PEMeshModel:
    def __init__(self, routes: MeshRoutes, mgmt_color: int | None = None, **pe_params):
        routes.validate()
        pe_params.setdefault("colors", routes.colors)
        self.routes = routes
        self.colors = routes.colors
        self.mgmt_color = mgmt_color
        self.pe = {pe: PEModel(**pe_params) for pe in routes.pes()}
        self._sent = dict.fromkeys(self.pe, 0)  # how many of each PE's emitted wavelets are routed
        self._edge_in: dict = defaultdict(list)
        self.edge_out: dict = defaultdict(list)
        self.states: dict = {}
        self.drops: Counter = Counter()
        self.router_errors: dict = defaultdict(set)
        self.fabric = FabricState()
        self.stuck: list = []
        self.rounds = 0
        self.loader = {}
        self._raw = {}  # (pe, color) -> [positions (rx, tx) x 4, last, ring] as configured
        if mgmt_color is not None:
            route = ColorRoute(((mask_of(Port.W), mask_of(Port.E, Port.RAMP)),))
            for pe in self.pe:
                self.routes.set(pe, mgmt_color, route)
                self.pe[pe].enabled = False
                self.loader[pe] = _Loader(pe[1])

    @property
    def loader_error(self) -> dict:
        return {pe: ld.error for pe, ld in self.loader.items()}

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
            self._carry(simulate(self.routes, injections, state=self.fabric))
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
        for (pe, reason), _ in result.drop_reasons.items():
            self.router_errors[pe].add(_DROP_FLAG[reason])
        self.stuck = list(result.stuck)
        for (pe, port), deliveries in result.outputs.items():
            for d in deliveries:
                if port != Port.RAMP:
                    self.edge_out[(pe, port)].append((d.color, d.payload, d.ctrl))
                elif d.color == self.mgmt_color:
                    write = self.loader[pe].feed(d.payload, d.ctrl)
                    if write is not None:
                        self._write(pe, *write)
                else:
                    self.pe[pe].deliver(d.color, d.payload, d.ctrl)

    def _write(self, pe, target: int, addr: int, data: int):
        if target == 1:
            self.pe[pe].load_write(addr, data)
            return
        # router configuration (docs/router.md): addr[7:3] color, addr[2:0] field
        color, fld = addr >> 3 & 0x1F, addr & 7
        if color >= self.colors or fld > 4:
            self.router_errors[pe].add("BAD_CFG")
            return
        if color == self.mgmt_color:
            return  # a host never rewrites the management route (sdk/loader.py refuses to)
        raw = self._raw.setdefault((pe, color), [[(0, 0)] * 4, 0, False])
        if fld < 4:
            raw[0][fld] = (data & 0x1F, data >> 5 & 0x1F)
        else:
            raw[1], raw[2] = data & 3, bool(data >> 2 & 1)
            self.fabric.positions[(pe, color)] = 0  # writing the switch control resets the position
        positions = tuple(raw[0][:raw[1] + 1])
        if any(rx or tx for rx, tx in positions):
            self.routes.set(pe, color, ColorRoute(positions, raw[2]))
        else:
            self.routes.routes.get(pe, {}).pop(color, None)
