"""Route patterns for meshes: the multicast shapes dataflow kernels use, as golden.routing tables.

Each builder adds one color's routes to a MeshRoutes and returns the flows' sources as
((pe, port), color) pairs. They are plain data, shared by the fabric tests, the fabric demo and the
benchmarks. (Kernels route with sdk/routes.py.)

Interface:
    row_broadcast(mesh, color, eastward=True)   source: the first PE of each row (RAMP); every PE of
                                                the row gets a copy, and the far edge too
    column_broadcast(mesh, color)               source: row 0 of each column; down to the south edge
    edge_tree(mesh, color)                      source: the north edge above the middle column;
                                                trunk down, spread along row 1, down every column
    merge_to_west(mesh, color)                  many-to-one: every PE of the bottom row to PE (R-1, 0)
    edge_to_edge(mesh, color, entry=W)          straight across from one edge to the opposite one
    edge_patterns(rows, cols, colors, avoid)    edge-only patterns (for meshes with PE cores) -> (mesh, sources)
    standard_patterns(rows, cols, colors)       all of the above on colors 0..5 -> (mesh, sources)
"""

from __future__ import annotations

from collections import defaultdict

from .routing import OPPOSITE, ColorRoute, MeshRoutes, Port, RouteError, mask_of

__all__ = ["row_broadcast", "column_broadcast", "edge_tree", "merge_to_west", "edge_to_edge",
           "edge_patterns", "standard_patterns"]


class _Builder:
    """Collects (rx, tx) port sets per PE for one color and writes single-position routes."""

    def __init__(self, mesh, color):
        self.mesh, self.color = mesh, color
        self.rx, self.tx = defaultdict(int), defaultdict(int)

    def add(self, pe, rx, *tx):
        self.rx[pe] |= mask_of(rx)
        self.tx[pe] |= mask_of(*tx)

    def commit(self):
        for pe in self.rx:
            self.mesh.set(pe, self.color, ColorRoute(((self.rx[pe], self.tx[pe]),)))


def row_broadcast(mesh: MeshRoutes, color: int, eastward: bool = True):
    b = _Builder(mesh, color)
    fwd, back = (Port.E, Port.W) if eastward else (Port.W, Port.E)
    cols = range(mesh.cols) if eastward else range(mesh.cols - 1, -1, -1)
    sources = []
    for r in range(mesh.rows):
        order = list(cols)
        first = (r, order[0])
        b.add(first, Port.RAMP, fwd)
        for c in order[1:]:
            b.add((r, c), back, Port.RAMP, fwd)  # the last one's `fwd` leaves through the edge
        sources.append(((first, Port.RAMP), color))
    b.commit()
    return sources


def column_broadcast(mesh: MeshRoutes, color: int):
    b = _Builder(mesh, color)
    sources = []
    for c in range(mesh.cols):
        b.add((0, c), Port.RAMP, Port.S)
        for r in range(1, mesh.rows):
            b.add((r, c), Port.N, Port.RAMP, Port.S)
        sources.append((((0, c), Port.RAMP), color))
    b.commit()
    return sources


def edge_tree(mesh: MeshRoutes, color: int, ramp: bool = True):
    """With ``ramp=False`` the tree delivers only to edges (the W, E and S edges)."""
    b = _Builder(mesh, color)
    j = mesh.cols // 2
    spread = min(1, mesh.rows - 1)
    R = (Port.RAMP,) if ramp else ()
    for r in range(spread):
        b.add((r, j), Port.N, Port.S, *R)
    b.add((spread, j), Port.N, *R, Port.S, Port.E, Port.W)
    for c in range(j + 1, mesh.cols):
        b.add((spread, c), Port.W, *R, Port.S, Port.E)
    for c in range(j - 1, -1, -1):
        b.add((spread, c), Port.E, *R, Port.S, Port.W)
    for c in range(mesh.cols):
        for r in range(spread + 1, mesh.rows):
            b.add((r, c), Port.N, *R, Port.S)
    b.commit()
    return [(((0, j), Port.N), color)]


def merge_to_west(mesh: MeshRoutes, color: int):
    b = _Builder(mesh, color)
    r = mesh.rows - 1
    sources = []
    for c in range(mesh.cols):
        if c == 0:
            b.add((r, 0), Port.RAMP, Port.RAMP)
        else:
            b.add((r, c), Port.RAMP, Port.W)
        if c + 1 < mesh.cols:
            b.add((r, c), Port.E)
        sources.append((((r, c), Port.RAMP), color))
    b.commit()
    return sources


def edge_to_edge(mesh: MeshRoutes, color: int, entry: Port = Port.W):
    """Straight across the mesh from the ``entry`` edge to the opposite one, on every row/column."""
    b = _Builder(mesh, color)
    exit_ = OPPOSITE[entry]
    for r in range(mesh.rows):
        for c in range(mesh.cols):
            b.add((r, c), entry, exit_)
    b.commit()
    if entry in (Port.W, Port.E):
        col = 0 if entry == Port.W else mesh.cols - 1
        return [(((r, col), entry), color) for r in range(mesh.rows)]
    row = 0 if entry == Port.N else mesh.rows - 1
    return [(((row, c), entry), color) for c in range(mesh.cols)]


def edge_patterns(rows: int, cols: int, colors: int, avoid=()):
    """Edge-to-edge patterns for meshes whose RAMP ports belong to PE cores: straight across in all
    four directions and an edge-to-edges multicast tree, on five colors not in ``avoid``.
    Returns (MeshRoutes, sources)."""
    free = [c for c in range(colors) if c not in set(avoid)]
    if len(free) < 5:
        raise RouteError(f"edge_patterns needs 5 free colors, {len(free)} available")
    mesh = MeshRoutes(rows, cols, colors)
    sources = []
    for color, entry in zip(free[:4], (Port.W, Port.N, Port.E, Port.S), strict=True):
        sources += edge_to_edge(mesh, color, entry)
    sources += edge_tree(mesh, free[4], ramp=False)
    return mesh, sources


def standard_patterns(rows: int, cols: int, colors: int):
    """Six patterns on colors 0..5 of one mesh; returns (MeshRoutes, sources)."""
    if colors < 6:
        raise RouteError(f"standard_patterns needs 6 colors, the profile has {colors}")
    mesh = MeshRoutes(rows, cols, colors)
    sources = []
    sources += row_broadcast(mesh, 0, eastward=True)
    sources += column_broadcast(mesh, 1)
    sources += edge_tree(mesh, 2)
    sources += row_broadcast(mesh, 3, eastward=False)
    sources += merge_to_west(mesh, 4)
    sources += edge_to_edge(mesh, 5)
    return mesh, sources
