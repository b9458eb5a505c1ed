"""The link plan of a mesh: which physical tile stands for which logical one, and what lies on each link.

Role
----
One place for the facts about a mesh's links that its Verilog top (hdl/mesh_top.py), the native
mesh (sdk/builds/native_mesh.py) and the golden latency model (golden/routing.py, given
``hop_extra``) must agree on. A mesh is described by a ``Wafer`` (docs/wafer.md): spare columns
with a repair map, and dies whose boundary links carry extra register stages. A perfect R x C mesh
is the wafer with no spares and one die, ``Wafer()``: its plan has R x C working positions, no
repair cell, no die boundary and no link chain.

The physical mesh is R x CP positions (CP = C plus the spare columns). Per position (r, p):
``fused`` (no working tile: defective, or a spare nobody needs), ``logical_col`` (the column of
the tile there; 0 where fused), and the straps of its repair cell (hdl/repair_cell.py),
``selects[k]`` for k in n, s, sr, nr: the physical column offset of the north / south neighbour
plus ``reach``, the spares per segment (``reach`` alone: straight). Per link slot: the slot west
of physical column p (p = 0 and p = CP: the west and east edge) and the slot north of row r
(r = 0 and r = R: the north and south edge) is a die-boundary link or a wire; the edge slots are
always wires. The north and south edge links of logical column c enter at the physical column of
logical (0, c) and (R - 1, c); the west and east ones at physical columns 0 and CP - 1.

Everything per position or per link is computed on first use: the plan of a perfect wafer-sized
mesh costs nothing until asked for it.

Interface
---------
Wafer(repair=None, die=None, stages=1)    what makes a mesh a wafer; ``.check(rows, cols)`` -> Wafer
    repair   hdl.repair.RepairMap (logical rows x cols) or None (no spares)
    die      (rows, cols) of logical PEs per die, or None; with repair its columns are a multiple
             of the spare scheme's segment, so a segment never straddles two dies
    .scheme, .physical_cols(cols), .phys(r, c), .tag()
WaferError                                a wafer that does not fit the mesh (names the value)
LinkPlan(rows, cols, wafer=None)          ``wafer`` checked; None: ``Wafer()``
    .rows, .cols, .wafer, .physical_cols, .stages, .reach
    .cells        every position has a repair cell (the wafer has spares)
    .boundaries   some slot between tiles is a die-boundary link
    .phys(r, c)   the physical column of logical (r, c)
    .fused[r][p], .logical_col[r][p], .selects[k][r][p], .north_phys[c], .south_phys[c]
    .h_boundary[p] (p = 0 .. CP), .v_boundary[r] (r = 0 .. R)
    .chains       {(kind, r, c, side letter): [stages, ...]}: the stages each logical link passes
                  through, in travel order: kind "out" the link leaving logical (r, c) on that side
                  (to its neighbour or to the edge), "in" the edge link entering (r, c) there; a
                  bypassed tile is a 1-stage link, a die boundary a ``stages`` one; links with no
                  stage are left out
    .hop_extra    {(r, c, side letter): cycles} for every logical link leaving (r, c): its extra
                  cycles over a plain link, the sum of its chain (at the edge the same stretch
                  serves the link entering there)
    .ports(colors) -> [(direction, name, width)]   the top's ports: the logical edge
mesh_ports(rows, cols, colors)           the same ports, from the shape alone
link_chains(rows, cols, wafer) -> .chains;  hop_extra_cycles(rows, cols, wafer) -> .hop_extra
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

from .boundary import check_stages
from .fault import FAULT_BITS
from .mesh_common import check_mesh_shape
from .repair import RepairMap, SpareScheme
from .wavelet import EDGE_SIDES, WAVELET_BITS, Port, side_links

__all__ = ["Wafer", "WaferError", "LinkPlan", "mesh_ports", "link_chains", "hop_extra_cycles"]


class WaferError(ValueError):
    """A wafer description that does not fit the mesh; the message names the value."""


@dataclass(frozen=True, eq=False)
class Wafer:
    repair: RepairMap | None = None
    die: tuple | None = None
    stages: int = 1

    def check(self, rows: int, cols: int) -> Wafer:
        check_mesh_shape(rows, cols)
        try:
            check_stages(self.stages)
        except ValueError as e:
            raise WaferError(str(e)) from None
        if self.repair is not None:
            rm = self.repair
            if (rm.rows, rm.cols) != (rows, cols):
                raise WaferError(f"the repair map is for a {rm.rows}x{rm.cols} mesh, not {rows}x{cols}")
            if rm.scheme.spares < 1:
                raise WaferError(f"spare scheme {rm.scheme}: a repaired mesh needs at least one spare per segment")
        if self.die is not None:
            try:
                dr, dc = (int(x) for x in self.die)
            except (TypeError, ValueError):
                raise WaferError(f"die {self.die!r}: expected ROWSxCOLS") from None
            if dr < 1 or dc < 1:
                raise WaferError(f"die {dr}x{dc}: both sides must be at least 1")
            if rows % dr or cols % dc:
                bad = "rows" if rows % dr else "columns"
                raise WaferError(f"die {dr}x{dc} does not divide the {rows}x{cols} mesh ({bad}: "
                                 f"{rows if rows % dr else cols} is not a multiple of {dr if rows % dr else dc})")
            if self.repair is not None and dc % self.repair.scheme.segment:
                raise WaferError(f"die {dr}x{dc}: its {dc} columns are not a multiple of the spare scheme's segment "
                                 f"({self.repair.scheme.segment}): a segment and its spares must sit in one die")
        return self

    @property
    def scheme(self) -> SpareScheme | None:
        return None if self.repair is None else self.repair.scheme

    def physical_cols(self, cols: int) -> int:
        return cols if self.repair is None else self.repair.scheme.physical_cols(cols)

    def phys(self, r: int, c: int) -> int:
        return c if self.repair is None else self.repair.phys[r][c]

    def _key(self):
        return (None if self.repair is None else self.repair.to_json(), self.die, self.stages)

    def __eq__(self, other):
        return isinstance(other, Wafer) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def tag(self) -> str:
        """A short name for build caches: the shape of the wafer and a hash of its map."""
        parts = []
        if self.repair is not None:
            h = hashlib.sha1(self.repair.to_json().encode()).hexdigest()[:8]
            parts.append(f"rep{self.repair.scheme.spares}-{self.repair.scheme.segment}-{h}")
        if self.die is not None:
            parts.append(f"die{self.die[0]}x{self.die[1]}l{self.stages}")
        return "_".join(parts)


def mesh_ports(rows: int, cols: int, colors: int) -> list:
    """(direction, name, width) of every top-level port: per edge side (EDGE_SIDES: n, e, s, w) the
    links entering and leaving, then the row status and fault words."""
    W = WAVELET_BITS
    ports = [("input", "clk", 1), ("input", "rst", 1)]
    for side in EDGE_SIDES:
        s, n = side.letter, side_links(side, rows, cols)
        ports += [("input", f"{s}_in_valid", n), ("input", f"{s}_in_data", n * W),
                  ("output", f"{s}_in_ready", n * colors),
                  ("output", f"{s}_out_valid", n), ("output", f"{s}_out_data", n * W),
                  ("input", f"{s}_out_ready", n * colors)]
    ports += [("output", "row_err", rows), ("output", "row_idle", rows), ("output", "row_halted", rows),
              ("output", "row_fault", rows * FAULT_BITS)]
    return ports


class LinkPlan:
    def __init__(self, rows: int, cols: int, wafer: Wafer | None = None):
        self.wafer = (wafer or Wafer()).check(rows, cols)
        self.rows, self.cols = rows, cols
        self.physical_cols = self.wafer.physical_cols(cols)
        self.stages = self.wafer.stages
        self.cells = self.wafer.repair is not None
        self.reach = self.wafer.scheme.spares if self.cells else 0
        self.boundaries = any(self.h_boundary) or any(self.v_boundary)

    def ports(self, colors: int) -> list:
        return mesh_ports(self.rows, self.cols, colors)

    def phys(self, r: int, c: int) -> int:
        return self.wafer.phys(r, c)

    # -- die boundaries -------------------------------------------------------------------------

    @cached_property
    def h_boundary(self) -> list:
        """Per physical column p = 0 .. CP: the slot west of it is a die-boundary link."""
        CP, die = self.physical_cols, self.wafer.die
        if die is None:
            return [False] * (CP + 1)
        dc = die[1]
        width = dc + self.reach * (dc // self.wafer.scheme.segment) if self.cells else dc  # physical columns per die
        return [0 < p < CP and (p - 1) // width != p // width for p in range(CP + 1)]

    @cached_property
    def v_boundary(self) -> list:
        """Per row r = 0 .. R: the slot north of it is a die-boundary link."""
        die = self.wafer.die
        return [die is not None and 0 < r < self.rows and r % die[0] == 0 for r in range(self.rows + 1)]

    # -- positions ------------------------------------------------------------------------------

    @cached_property
    def fused(self) -> list:
        used = [set(self.phys(r, c) for c in range(self.cols)) for r in range(self.rows)]
        return [[int(p not in used[r]) for p in range(self.physical_cols)] for r in range(self.rows)]

    @cached_property
    def logical_col(self) -> list:
        col = [[0] * self.physical_cols for _ in range(self.rows)]
        for r in range(self.rows):
            for c in range(self.cols):
                col[r][self.phys(r, c)] = c
        return col

    @cached_property
    def selects(self) -> dict:
        """The repair cells' straps n, s, sr, nr per position: offset + reach (reach where unused)."""
        K = self.reach
        sel = {k: [[K] * self.physical_cols for _ in range(self.rows)] for k in ("n", "s", "sr", "nr")}
        for r in range(self.rows):
            for c in range(self.cols):
                p = self.phys(r, c)
                if r > 0:
                    sel["n"][r][p] = sel["nr"][r][p] = self.phys(r - 1, c) - p + K
                if r < self.rows - 1:
                    sel["s"][r][p] = sel["sr"][r][p] = self.phys(r + 1, c) - p + K
        return sel

    @property
    def north_phys(self) -> list:
        return [self.phys(0, c) for c in range(self.cols)]

    @property
    def south_phys(self) -> list:
        return [self.phys(self.rows - 1, c) for c in range(self.cols)]

    # -- links ----------------------------------------------------------------------------------

    def _eastward(self, p0: int, p1: int) -> list:
        """Stages from physical column p0 to p1 > p0 eastward (p0 = -1: the west edge, p1 = CP:
        the east edge): the slot west of each column p0 < p <= p1, then the bypass of each fused
        column strictly between."""
        seq = []
        for p in range(p0 + 1, p1 + 1):
            if self.h_boundary[p]:
                seq.append(self.stages)
            if p < p1:
                seq.append(1)
        return seq

    def _vertical(self, r: int) -> list:
        """Stages of the slot north of row r."""
        return [self.stages] if self.v_boundary[r] else []

    @cached_property
    def chains(self) -> dict:
        R, C, CP = self.rows, self.cols, self.physical_cols
        out = {}
        for r in range(R):
            for c in range(C):
                p = self.phys(r, c)
                e = self._eastward(p, self.phys(r, c + 1) if c + 1 < C else CP)
                w = self._eastward(self.phys(r, c - 1) if c > 0 else -1, p)
                out[("out", r, c, "E")], out[("out", r, c, "W")] = e, w[::-1]
                out[("out", r, c, "N")], out[("out", r, c, "S")] = self._vertical(r), self._vertical(r + 1)
                if c == 0:
                    out[("in", r, c, "W")] = w
                if c == C - 1:
                    out[("in", r, c, "E")] = e[::-1]
        return {k: v for k, v in out.items() if v}

    @cached_property
    def hop_extra(self) -> dict:
        chains = self.chains
        return {(r, c, s.name): sum(chains.get(("out", r, c, s.name), ()))
                for r in range(self.rows) for c in range(self.cols) for s in (Port.E, Port.W, Port.N, Port.S)}


def link_chains(rows: int, cols: int, wafer: Wafer | None) -> dict:
    """The stages on each logical link (``LinkPlan.chains``)."""
    return LinkPlan(rows, cols, wafer).chains


def hop_extra_cycles(rows: int, cols: int, wafer: Wafer | None) -> dict:
    """Extra cycles of each logical link over a plain one: one per bypassed tile, ``stages`` per die
    boundary crossed (``LinkPlan.hop_extra``; golden/routing.py zero_load_latency's ``hop_extra``)."""
    return LinkPlan(rows, cols, wafer).hop_extra
