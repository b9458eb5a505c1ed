"""The front-door smoke program: every wavelet that enters a row at its west edge on color ``cin``
reaches every PE of the row (row broadcast); each PE's data task sends payload + 1 on ``cout``,
merged eastward, so the row's east link carries ``cols`` copies of x + 1 for every x.

Used by the tile-mesh and FPGA tests and the board self-test (``python -m fpga.host selftest``):
small enough for any mesh, and it exercises loading through the edge, routing in both
directions, data tasks and sends.

Interface:
    SOURCE                                   the program (parameters CIN, COUT)
    layout(rows, cols, profile="small", cin=1, cout=2) -> Layout
    inputs(rows, per_row, cin=1) -> {EdgeLink: [payload]}        distinct payloads per row
    expected(rows, cols, per_row, cout=2) -> {EdgeLink: Counter}  what each east link must carry
"""

from __future__ import annotations

from collections import Counter

from hdl.mesh import EdgeLink
from hdl.wavelet import Port, Wavelet

from .. import routes
from ..layout import Layout

__all__ = ["SOURCE", "layout", "inputs", "expected"]

SOURCE = """
    .task 1, on_x, CIN            ; data task: every wavelet on color CIN starts it
    .text
on_x:
    addi  r1, r15, 1              ; r15 = the wavelet's payload
    send  r1, COUT
    end
"""


def layout(rows: int, cols: int, profile="small", cin: int = 1, cout: int = 2) -> Layout:
    lay = Layout(rows, cols, profile)
    c_in, c_out = lay.color("in", cin), lay.color("out", cout)
    lay.route(c_in, routes.row_broadcast(from_edge="W"))
    lay.route(c_out, routes.merge(to_edge="E"))
    lay.place(lay.program(SOURCE, name="row_echo", params={"CIN": c_in, "COUT": c_out}), lay.all())
    return lay


def inputs(rows: int, per_row: int) -> dict:
    return {EdgeLink(Port.W, r): [(r << 16) + 3 * k for k in range(per_row)] for r in range(rows)}


def expected(rows: int, cols: int, per_row: int, cout: int = 2) -> dict:
    return {EdgeLink(Port.E, r): Counter({Wavelet(cout, p + 1, 0): cols for p in ps})
            for r, (_, ps) in enumerate(sorted(inputs(rows, per_row).items()))}
