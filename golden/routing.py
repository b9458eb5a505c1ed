"""Golden model of Tessera's color-routed fabric, independent of the RTL.

Written from the routing spec (docs/router.md), not from hdl/: given a mesh shape, per-PE
per-color routes (with switch positions) and the wavelet streams injected at RAMP inputs and mesh
edges, it predicts what leaves the fabric at every exit (each PE's RAMP output and every edge
link), as a multiset and, per (source, color), in order; how many wavelets each router drops and
why; and the zero-load latency of each flow.

Spec points the model encodes:
  * Ports N=0, E=1, S=2, W=3, RAMP=4; sets are bit masks over these. Row 0 is north.
  * Per color up to 4 positions (rx_mask, tx_mask); position 0 at start. A control wavelet whose
    payload[1:0] is 1 (ADVANCE) or 2 (RESET) moves its color's position once it has been sent to
    every port of its TX set. ADVANCE past the last position wraps to 0 in ring mode and stays put
    otherwise.
  * A wavelet arriving on a port in no position's RX set of its color (or on an unconfigured or
    non-routable color) is dropped and counted; one admitted by another position waits for it.
    A wavelet admitted by a position with an empty TX set is dropped and counted.
  * Links and per-(port, color) buffers keep order, so each (source, color) flow arrives in order.

Interface:
    Port, OPPOSITE, STEP                       the port numbering and geometry
    ColorRoute(positions, ring=False)          one color's switch positions at one PE
    MeshRoutes(rows, cols, colors, routes, open_edges="NESW")
        .validate()                            raises RouteError naming PE, color and port
        .exits() / .entries()                  (pe, port) pairs at the fabric boundary
    simulate(mesh, injections, state=None) -> FabricResult   (.outputs per exit, .drops, .links:
                                               wavelets that left each PE on each side)
    FabricState                                switch positions and wavelets still waiting in the
                                               fabric; pass ``result.state`` to the next call to
                                               carry on from where one call stopped
    zero_load_latency(mesh, pe, port, color, die=None, stages=0) -> {(pe, port): cycles}
                                       (die boundaries add ``stages`` per crossing: link_extra_cycles)
    Delivery                                   (color, payload, ctrl, source) at an exit
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

__all__ = ["Port", "OPPOSITE", "STEP", "MAX_POSITIONS", "COLOR_LIMIT", "ColorRoute", "MeshRoutes",
           "RouteError", "Delivery", "FabricResult", "FabricState", "simulate", "zero_load_latency", "ports_of",
           "mask_of", "link_extra_cycles"]

MAX_POSITIONS = 4
COLOR_LIMIT = 32  # the wavelet's color field is 5 bits


class Port(enum.IntEnum):
    N = 0
    E = 1
    S = 2
    W = 3
    RAMP = 4


OPPOSITE = {Port.N: Port.S, Port.S: Port.N, Port.E: Port.W, Port.W: Port.E}
STEP = {Port.N: (-1, 0), Port.S: (1, 0), Port.E: (0, 1), Port.W: (0, -1)}
ALL_PORTS = (1 << len(Port)) - 1


def ports_of(mask: int) -> list[Port]:
    return [p for p in Port if mask >> p & 1]


def mask_of(*ports) -> int:
    m = 0
    for p in ports:
        m |= 1 << (Port[p] if isinstance(p, str) else Port(p))
    return m


def _fmt_mask(mask: int) -> str:
    return "{" + ",".join(p.name for p in ports_of(mask)) + "}"


class RouteError(ValueError):
    """A route configuration or injection the fabric cannot carry."""


@dataclass(frozen=True)
class ColorRoute:
    positions: tuple  # ((rx_mask, tx_mask), ...), 1..4 entries
    ring: bool = False

    def __post_init__(self):
        object.__setattr__(self, "positions", tuple((int(rx), int(tx)) for rx, tx in self.positions))

    @classmethod
    def simple(cls, rx, tx):
        """One position; rx/tx as masks or iterables of Port/port names."""
        def m(x):
            return x if isinstance(x, int) else mask_of(*x)
        return cls(((m(rx), m(tx)),))

    @property
    def rx_union(self) -> int:
        u = 0
        for rx, _ in self.positions:
            u |= rx
        return u


@dataclass(frozen=True)
class Delivery:
    color: int
    payload: int
    ctrl: int
    source: tuple  # (pe, port) where it entered the fabric


@dataclass
class FabricState:
    """What the fabric holds between two ``simulate`` calls: every (pe, color) switch position and
    the wavelets waiting in (pe, input port, color) buffers for a position that admits them."""
    positions: dict = field(default_factory=lambda: defaultdict(int))  # (pe, color) -> position
    queues: dict = field(default_factory=lambda: defaultdict(deque))  # (pe, port, color) -> deque

    def waiting(self) -> int:
        return sum(len(q) for q in self.queues.values())


@dataclass
class FabricResult:
    outputs: dict = field(default_factory=lambda: defaultdict(list))  # (pe, port) -> [Delivery]
    drops: Counter = field(default_factory=Counter)  # pe -> wavelets dropped there
    drop_reasons: Counter = field(default_factory=Counter)  # (pe, reason) -> count
    stuck: list = field(default_factory=list)  # (pe, port, color, payload) left waiting for a switch
    final_positions: dict = field(default_factory=dict)  # (pe, color) -> position
    state: FabricState | None = None  # to continue in a later call
    links: Counter = field(default_factory=Counter)  # (pe, port N/E/S/W) -> wavelets that left pe that way

    def exit_multiset(self, exit_) -> Counter:
        return Counter((d.color, d.payload, d.ctrl) for d in self.outputs.get(exit_, []))


class MeshRoutes:
    def __init__(self, rows: int, cols: int, colors: int, routes=None, open_edges: str = "NESW"):
        for what, v in (("rows", rows), ("cols", cols)):
            if not isinstance(v, int) or v < 1:
                raise RouteError(f"mesh {what} must be a positive integer, got {v!r}")
        if not 1 <= colors <= COLOR_LIMIT:
            raise RouteError(f"colors={colors} out of range 1..{COLOR_LIMIT}")
        self.rows, self.cols, self.colors = rows, cols, colors
        self.open_edges = frozenset(Port[s] for s in open_edges)
        self.routes: dict = defaultdict(dict)  # (r, c) -> {color: ColorRoute}
        for (pe, color), route in (routes or {}).items():
            self.set(pe, color, route)

    def set(self, pe, color, route: ColorRoute):
        self.routes[tuple(pe)][color] = route

    def route(self, pe, color) -> ColorRoute | None:
        return self.routes.get(tuple(pe), {}).get(color)

    def pes(self):
        return [(r, c) for r in range(self.rows) for c in range(self.cols)]

    def neighbour(self, pe, port):
        """The PE beyond ``port`` of ``pe``, or None at the mesh edge (RAMP has no neighbour)."""
        if port == Port.RAMP:
            return None
        dr, dc = STEP[port]
        r, c = pe[0] + dr, pe[1] + dc
        return (r, c) if 0 <= r < self.rows and 0 <= c < self.cols else None

    def is_edge(self, pe, port) -> bool:
        return port != Port.RAMP and self.neighbour(pe, port) is None

    def exits(self):
        """Every (pe, port) through which wavelets leave the fabric: RAMP outputs and open edges."""
        out = []
        for pe in self.pes():
            out.append((pe, Port.RAMP))
            for p in (Port.N, Port.E, Port.S, Port.W):
                if self.is_edge(pe, p) and p in self.open_edges:
                    out.append((pe, p))
        return out

    entries = exits  # the same (pe, port) pairs carry wavelets in

    # ---- validation ------------------------------------------------------------------------
    def validate(self):
        """Raise RouteError for the first problem found, naming the PE, the color and the port."""
        for pe, table in self.routes.items():
            r, c = pe
            if not (0 <= r < self.rows and 0 <= c < self.cols):
                raise RouteError(f"PE {pe} is outside the {self.rows}x{self.cols} mesh")
            for color, route in table.items():
                where = f"PE {pe} color {color}"
                if not isinstance(color, int) or not 0 <= color < self.colors:
                    raise RouteError(f"{where}: color out of range 0..{self.colors - 1}")
                if not 1 <= len(route.positions) <= MAX_POSITIONS:
                    raise RouteError(f"{where}: {len(route.positions)} positions, expected 1..{MAX_POSITIONS}")
                for k, (rx, tx) in enumerate(route.positions):
                    if not 0 <= rx <= ALL_PORTS or not 0 <= tx <= ALL_PORTS:
                        raise RouteError(f"{where} position {k}: port mask out of range")
                    if rx and not tx:
                        raise RouteError(f"{where} position {k}: RX {_fmt_mask(rx)} with an empty TX set "
                                         "would drop every wavelet it admits")
                    for p in ports_of(rx | tx):
                        if self.is_edge(pe, p) and p not in self.open_edges:
                            raise RouteError(f"{where} position {k}: port {p.name} does not exist "
                                             f"(the {p.name} mesh edge is closed)")
                    for p in ports_of(tx):
                        nb = self.neighbour(pe, p)
                        if nb is None:
                            continue
                        nroute = self.route(nb, color)
                        if nroute is None or not nroute.rx_union >> OPPOSITE[p] & 1:
                            raise RouteError(
                                f"{where} position {k}: port {p.name} sends to PE {nb}, which does not "
                                f"accept color {color} from {OPPOSITE[p].name}")
        self._check_cycles()

    def _check_cycles(self):
        """Reject a color whose routes (the union over switch positions) contain a directed cycle:
        a wavelet on it could circulate forever. Conservative with switches; documented."""
        for color in range(self.colors):
            # node: (pe, in_port); edge: forwarded through some TX port to a neighbour's input.
            graph = defaultdict(set)
            for pe, table in self.routes.items():
                route = table.get(color)
                if route is None:
                    continue
                for rx, tx in route.positions:
                    for pin in ports_of(rx):
                        for pout in ports_of(tx):
                            nb = self.neighbour(pe, pout)
                            if nb is not None:
                                graph[(pe, pin)].add((nb, OPPOSITE[pout]))
            state = {}
            for start in list(graph):
                if state.get(start):
                    continue
                stack = [(start, iter(graph[start]))]
                state[start] = 1  # on stack
                while stack:
                    node, it = stack[-1]
                    nxt = next(it, None)
                    if nxt is None:
                        state[node] = 2
                        stack.pop()
                    elif state.get(nxt) == 1:
                        (pe, port) = nxt
                        raise RouteError(f"PE {pe} color {color} port {port.name}: routes form a cycle; "
                                         "wavelets on this color would circulate forever")
                    elif not state.get(nxt):
                        state[nxt] = 1
                        stack.append((nxt, iter(graph[nxt])))


def _check_entry(mesh: MeshRoutes, pe, port):
    pe = tuple(pe)
    port = Port(port)
    if not (0 <= pe[0] < mesh.rows and 0 <= pe[1] < mesh.cols):
        raise RouteError(f"injection at PE {pe}: outside the mesh")
    if port != Port.RAMP and not (mesh.is_edge(pe, port) and port in mesh.open_edges):
        raise RouteError(f"injection at PE {pe} port {port.name}: not a RAMP port or an open mesh edge")
    return pe, port


def simulate(mesh: MeshRoutes, injections, max_steps: int | None = None, state: FabricState | None = None
             ) -> FabricResult:
    """Carry every injected wavelet through the fabric.

    ``injections`` maps (pe, port) to a sequence of (color, payload, ctrl) in injection order,
    where port is RAMP or an edge port facing outside the mesh. ``state`` (from an earlier call's
    ``result.state``) supplies the switch positions and the wavelets still waiting; it is updated
    in place. A wavelet that arrives on a color with no route at that PE is dropped.
    """
    res = FabricResult()
    state = state if state is not None else FabricState()
    queues = state.queues  # (pe, in_port, color) -> deque[(payload, ctrl, source)]
    pos = state.positions  # (pe, color) -> position

    def arrive(pe, port, color, payload, ctrl, source):
        route = mesh.route(pe, color) if color < mesh.colors else None
        if color >= mesh.colors:
            res.drops[pe] += 1
            res.drop_reasons[(pe, "bad_color")] += 1
        elif route is None or not route.rx_union >> port & 1:
            res.drops[pe] += 1
            res.drop_reasons[(pe, "rx_violation")] += 1
        else:
            queues[(pe, port, color)].append((payload, ctrl, source))

    total = state.waiting()
    for (pe, port), stream in injections.items():
        pe, port = _check_entry(mesh, pe, port)
        for color, payload, ctrl in stream:
            if not 0 <= color < COLOR_LIMIT:
                raise RouteError(f"injection at PE {pe} port {port.name}: color {color} does not fit 5 bits")
            arrive(pe, port, color, payload, ctrl, (pe, port))
            total += 1
    steps = 0
    limit = max_steps if max_steps is not None else 64 + 4 * (total + 1) * (mesh.rows + mesh.cols + 2) * 5
    progress = True
    while progress:
        progress = False
        for key in list(queues):
            q = queues[key]
            pe, pin, color = key
            while q:
                route = mesh.route(pe, color)
                if route is None:  # the route was removed while the wavelet waited
                    q.popleft()
                    res.drops[pe] += 1
                    res.drop_reasons[(pe, "rx_violation")] += 1
                    progress = True
                    continue
                k = min(pos[(pe, color)], len(route.positions) - 1)
                rx, tx = route.positions[k]
                if not rx >> pin & 1:
                    break  # waits for a switch position that admits this port
                payload, ctrl, source = q.popleft()
                progress = True
                steps += 1
                if steps > limit:
                    raise RouteError("wavelets still moving after the step budget: routes circulate")
                if not tx:
                    res.drops[pe] += 1
                    res.drop_reasons[(pe, "no_tx")] += 1
                    continue
                for pout in ports_of(tx):
                    if pout != Port.RAMP:
                        res.links[(pe, pout)] += 1
                    nb = mesh.neighbour(pe, pout)
                    if nb is None:
                        if pout != Port.RAMP and pout not in mesh.open_edges:
                            raise RouteError(f"PE {pe} color {color}: TX to closed edge {pout.name}")
                        res.outputs[(pe, pout)].append(Delivery(color, payload, ctrl, source))
                    else:
                        arrive(nb, OPPOSITE[pout], color, payload, ctrl, source)
                if ctrl:
                    cmd = payload & 3
                    last = len(route.positions) - 1
                    if cmd == 1:
                        pos[(pe, color)] = k + 1 if k < last else (0 if route.ring else k)
                    elif cmd == 2:
                        pos[(pe, color)] = 0
    for (pe, pin, color), q in queues.items():
        for payload, _, _ in q:
            res.stuck.append((pe, Port(pin), color, payload))
    res.final_positions = dict(pos)
    res.state = state
    return res


def link_extra_cycles(a, b, die=None, stages: int = 0) -> int:
    """Cycles a hop from PE ``a`` to its neighbour ``b`` takes beyond one: ``stages`` if the link
    crosses a die boundary (dies of ``die`` = (rows, cols) PEs, docs/wafer.md), else 0."""
    if die is None:
        return 0
    return stages if (a[0] // die[0] != b[0] // die[0] or a[1] // die[1] != b[1] // die[1]) else 0


def zero_load_latency(mesh: MeshRoutes, pe, port, color, die=None, stages: int = 0, hop_extra=None) -> dict:
    """Cycles from a wavelet entering at (pe, port) to its leaving at each exit, on an idle fabric
    with every switch at position 0: one cycle per router traversed (so 1 for a RAMP-to-RAMP turn
    in one router, and hops + 1 in general), plus ``stages`` for every die boundary crossed (dies
    of ``die`` = (rows, cols) PEs).

    On a wafer the physical links are given instead by ``hop_extra``: {(row, col, side letter):
    extra cycles} of the link leaving logical PE (row, col) on that side (for an edge PE's side
    facing the edge: the stretch between it and the mesh edge, both ways), one cycle per bypassed
    defective or spare tile and the die stages (docs/wafer.md; hdl/link_plan.py computes it from
    the repair map). Missing keys count 0."""
    pe, port = _check_entry(mesh, pe, port)
    out = {}
    extra = hop_extra or {}

    def hop(at, side):
        return extra.get((at[0], at[1], side.name), 0)

    start = 1 + (hop(pe, port) if port != Port.RAMP else 0)
    frontier = deque([(pe, port, start)])
    seen = set()
    while frontier:
        at, pin, cycles = frontier.popleft()
        if (at, pin) in seen:
            continue
        seen.add((at, pin))
        route = mesh.route(at, color)
        if route is None:
            continue
        rx, tx = route.positions[0]
        if not rx >> pin & 1:
            continue
        for pout in ports_of(tx):
            nb = mesh.neighbour(at, pout)
            if nb is None:
                out[(at, pout)] = cycles + hop(at, pout)
            else:
                step = 1 + hop(at, pout) + link_extra_cycles(at, nb, die, stages)
                frontier.append((nb, OPPOSITE[pout], cycles + step))
    return out
