"""Route patterns: which way one color goes at every PE of a region, as the layout applies them.

A pattern turns a region of the mesh into routes for one color — ``{pe: ColorRoute}`` (one or
more switch positions, each an RX set and a TX set; golden/routing.py) — including the PEs
outside the region that a wavelet must cross between the region and the mesh edge.
``Layout.route(color, pattern, region)`` applies one and checks it against the others.

Patterns (``side`` is "N", "E", "S" or "W"):

    row_broadcast(from_edge="W")   each row of the region: wavelets entering the row's link on
                                   that side reach every PE of the row in the region
    row_broadcast(root=c)          from PE (r, c) of each row (its RAMP) to the other PEs of the row
    col_broadcast(from_edge="N") / col_broadcast(root=r)   the same along columns
    broadcast(from_edge="W", row=None)   the whole region from ONE edge link (row ``row``, default
                                   the region's first): along that row, then up and down every column
    broadcast(root=(r, c))         the whole region from one PE
    merge(to_edge="E")             every PE of each row sends toward that edge; the row's wavelets
                                   leave through one link, interleaved by the routers' arbitration
    readout(to_edge="E")           switch-sequenced: every PE of each row sends its block followed
                                   by one control wavelet with SwitchCmd.ADVANCE; the edge link
                                   carries whole blocks, nearest PE first (position 0 = the PE's
                                   own RAMP, position 1 = forward from upstream)
    chain(toward="E")              neighbour to neighbour along each row: PE c sends to PE c + 1
                                   (for pipelined reductions; applied with two colors alternating by
                                   column, see ``Layout.route_chain``)
    point_to_point(src, dst)       from PE src's RAMP to PE dst's RAMP, along src's row then dst's
                                   column; ``src`` may be an EdgeLink ("W3") instead of a PE
    custom({pe: ColorRoute})       routes written out by hand

Interface:
    RoutePattern           .name, .routes(rows, cols, region) -> {pe: ColorRoute}
    every function above   returns a RoutePattern
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from golden.routing import ColorRoute, mask_of
from hdl.mesh import EdgeLink
from hdl.wavelet import OPPOSITE, Port

from .records import SdkError

__all__ = ["RoutePattern", "row_broadcast", "col_broadcast", "broadcast", "merge", "readout", "chain",
           "point_to_point", "custom"]

_AXIS = {Port.W: "row", Port.E: "row", Port.N: "col", Port.S: "col"}


@dataclass(frozen=True)
class RoutePattern:
    name: str
    make: Callable  # (rows, cols, region) -> {pe: ColorRoute}

    def routes(self, rows: int, cols: int, region) -> dict:
        return self.make(rows, cols, region)


def _side(side) -> Port:
    try:
        p = Port.of(side)
    except ValueError:
        p = None
    if p not in _AXIS:
        raise SdkError(f"{side!r} is not a mesh edge side (N, E, S or W)")
    return p


def _one(rx, tx) -> ColorRoute:
    return ColorRoute(((mask_of(*rx), mask_of(*tx)),))


def _lines(region, axis):
    """The region as lines along an axis: [(fixed index, [positions along the line])]."""
    if axis == "row":
        return [(r, list(region.col_range)) for r in region.row_range]
    return [(c, list(region.row_range)) for c in region.col_range]


def _pe(axis, fixed, pos):
    return (fixed, pos) if axis == "row" else (pos, fixed)


def _line_broadcast(rows, cols, region, axis, from_edge=None, root=None):
    """A broadcast along every row (axis "row") or column of the region, from the given edge side
    or from the PE at index ``root`` of each line."""
    lo_side, hi_side = (Port.W, Port.E) if axis == "row" else (Port.N, Port.S)
    length = cols if axis == "row" else rows
    out = {}
    for fixed, line in _lines(region, axis):
        first, last = line[0], line[-1]
        if root is None:
            if from_edge == lo_side:
                for p in range(0, first):  # cross the PEs between the edge and the region
                    out[_pe(axis, fixed, p)] = _one([lo_side], [hi_side])
                for p in line:
                    out[_pe(axis, fixed, p)] = _one([lo_side], [Port.RAMP] + ([hi_side] if p < last else []))
            else:
                for p in range(last + 1, length):
                    out[_pe(axis, fixed, p)] = _one([hi_side], [lo_side])
                for p in line:
                    out[_pe(axis, fixed, p)] = _one([hi_side], [Port.RAMP] + ([lo_side] if p > first else []))
        else:
            if not first <= root <= last:
                raise SdkError(f"broadcast root {root} is outside the region's {axis}s {first}..{last}")
            for p in line:
                if p == root:
                    tx = ([lo_side] if p > first else []) + ([hi_side] if p < last else [])
                    if tx:
                        out[_pe(axis, fixed, p)] = _one([Port.RAMP], tx)
                elif p < root:
                    out[_pe(axis, fixed, p)] = _one([hi_side], [Port.RAMP] + ([lo_side] if p > first else []))
                else:
                    out[_pe(axis, fixed, p)] = _one([lo_side], [Port.RAMP] + ([hi_side] if p < last else []))
    return out


def _axis_broadcast(axis, from_edge, root) -> RoutePattern:
    side = None if root is not None else _side(from_edge)
    if side is not None and _AXIS[side] != axis:
        ends = "W or E" if axis == "row" else "N or S"
        raise SdkError(f"{axis}_broadcast enters from the {ends} edge, not {side.name}")
    name = f"{axis}_broadcast(" + (f"root={root})" if root is not None else f"from_edge={side.name})")
    return RoutePattern(name, lambda rows, cols, reg: _line_broadcast(rows, cols, reg, axis, side, root))


def row_broadcast(from_edge="W", root: int | None = None) -> RoutePattern:
    return _axis_broadcast("row", from_edge, root)


def col_broadcast(from_edge="N", root: int | None = None) -> RoutePattern:
    return _axis_broadcast("col", from_edge, root)


def broadcast(from_edge="W", row: int | None = None, root: tuple | None = None) -> RoutePattern:
    """The whole region from one edge link (W/E: row ``row``, default the region's first row) or
    from PE ``root``: along that row, then up and down every column of the region."""
    side = None if root is not None else _side(from_edge)
    if side is not None and _AXIS[side] != "row":
        raise SdkError("broadcast(from_edge=...) enters from the W or E edge")

    def make(rows, cols, reg):
        r0 = root[0] if root is not None else (reg.row if row is None else row)
        if r0 not in reg.row_range:
            raise SdkError(f"broadcast row {r0} is outside the region's rows {reg.row_range.start}.."
                           f"{reg.row_range.stop - 1}")
        spine = _line_broadcast(rows, cols, type(reg)(r0, reg.col, 1, reg.cols), "row", side,
                                root[1] if root is not None else None)
        out = {}
        for pe, route in spine.items():
            rx, tx = route.positions[0]
            if pe[1] in reg.col_range:  # region PEs of the spine also feed their column
                tx |= mask_of(*([Port.N] if pe[0] > reg.row else []), *([Port.S] if pe[0] < reg.row_range[-1] else []))
            out[pe] = ColorRoute(((rx, tx),))
        if root is not None and root not in out:  # a 1 x 1 spine: the root feeds its column only
            tx = mask_of(*([Port.N] if r0 > reg.row else []), *([Port.S] if r0 < reg.row_range[-1] else []))
            if tx:
                out[root] = ColorRoute(((mask_of(Port.RAMP), tx),))
        for c in reg.col_range:
            for r in reg.row_range:
                if r == r0:
                    continue
                if r < r0:
                    out[(r, c)] = _one([Port.S], [Port.RAMP] + ([Port.N] if r > reg.row else []))
                else:
                    out[(r, c)] = _one([Port.N], [Port.RAMP] + ([Port.S] if r < reg.row_range[-1] else []))
        return out

    name = f"broadcast(root={root})" if root is not None else f"broadcast(from_edge={side.name})"
    return RoutePattern(name, make)


def _toward(rows, cols, region, edge, switched):
    axis = _AXIS[edge]
    down = edge  # the direction the data travels
    up = OPPOSITE[edge]
    length = cols if axis == "row" else rows
    out = {}
    for fixed, line in _lines(region, axis):
        order = line if edge in (Port.E, Port.S) else line[::-1]  # upstream first
        beyond = range(line[-1] + 1, length) if edge in (Port.E, Port.S) else range(0, line[0])
        for i, p in enumerate(order):
            if switched:
                pos = [(mask_of(Port.RAMP), mask_of(down))] + ([(mask_of(up), mask_of(down))] if i else [])
                out[_pe(axis, fixed, p)] = ColorRoute(tuple(pos))
            else:
                out[_pe(axis, fixed, p)] = _one([Port.RAMP] + ([up] if i else []), [down])
        for p in beyond:
            out[_pe(axis, fixed, p)] = _one([up], [down])
    return out


def merge(to_edge="E") -> RoutePattern:
    edge = _side(to_edge)
    return RoutePattern(f"merge(to_edge={edge.name})", lambda rows, cols, reg: _toward(rows, cols, reg, edge, False))


def readout(to_edge="E") -> RoutePattern:
    edge = _side(to_edge)
    return RoutePattern(f"readout(to_edge={edge.name})",
                        lambda rows, cols, reg: _toward(rows, cols, reg, edge, True))


def chain(toward="E", parity: int = 0) -> RoutePattern:
    """One of the two colors of a neighbour-to-neighbour chain along each row (column for N/S):
    the PEs whose index along the line has the given parity send (RAMP -> ``toward``), the next PE
    receives (-> RAMP). With the other color on the other parity, every PE receives from its
    upstream neighbour and sends to its downstream one. ``Layout.route_chain`` applies both."""
    edge = _side(toward)
    axis = _AXIS[edge]
    up = OPPOSITE[edge]

    def make(rows, cols, reg):
        out = {}
        for fixed, line in _lines(reg, axis):
            order = line if edge in (Port.E, Port.S) else line[::-1]
            for i, p in enumerate(order):
                send = i % 2 == parity and i + 1 < len(order)
                recv = i > 0 and (i - 1) % 2 == parity
                if send:
                    out[_pe(axis, fixed, p)] = _one([Port.RAMP], [edge])
                elif recv:
                    out[_pe(axis, fixed, p)] = _one([up], [Port.RAMP])
        return out

    return RoutePattern(f"chain(toward={edge.name}, parity={parity})", make)


def point_to_point(src, dst) -> RoutePattern:
    """From PE ``src`` (or the edge link ``src``, e.g. "W3") to PE ``dst``: along the source's row
    to the destination's column, then along that column."""

    def make(rows, cols, reg):
        d = tuple(dst)
        if isinstance(src, (str, EdgeLink)):
            try:
                start, entry = EdgeLink.of(src).pe_port(rows, cols)
            except ValueError as e:
                raise SdkError(f"point_to_point: {e}") from None
        else:
            start, entry = tuple(src), Port.RAMP
        for pe in (start, d):
            if not (0 <= pe[0] < rows and 0 <= pe[1] < cols):
                raise SdkError(f"point_to_point: PE {pe} is outside the {rows}x{cols} mesh")
        path = [start]
        r, c = start
        while c != d[1]:
            c += 1 if d[1] > c else -1
            path.append((r, c))
        while r != d[0]:
            r += 1 if d[0] > r else -1
            path.append((r, c))
        out = {}
        rx = entry
        for i, pe in enumerate(path):
            if i + 1 < len(path):
                nxt = path[i + 1]
                step = (nxt[0] - pe[0], nxt[1] - pe[1])
                tx = {(0, 1): Port.E, (0, -1): Port.W, (1, 0): Port.S, (-1, 0): Port.N}[step]
            else:
                tx = Port.RAMP
            if rx == Port.RAMP and tx == Port.RAMP:
                raise SdkError(f"point_to_point from PE {start} to itself needs no route")
            out[pe] = _one([rx], [tx])
            rx = OPPOSITE.get(tx)
        return out

    return RoutePattern(f"point_to_point({src}, {tuple(dst)})", make)


def custom(routes: dict, name: str = "custom") -> RoutePattern:
    fixed = {tuple(pe): r for pe, r in routes.items()}
    return RoutePattern(name, lambda rows, cols, reg: dict(fixed))
