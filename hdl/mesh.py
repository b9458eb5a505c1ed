"""The mesh's entry points: R x C tiles from one tile module, with only the mesh edge as I/O.

The tile (hdl/tile.py: router + PE + management loader) is emitted once by Amaranth as the Verilog
module ``tessera_tile``. The mesh top ``tessera_mesh`` is written from the mesh's link plan
(hdl/link_plan.py) by the one generator of every mesh top (hdl/mesh_top.py): for a perfect mesh,
Verilog text with ``generate`` loops whose size — and the time and memory to generate it — do not
grow with the mesh: a 750 x 994 wafer-sized mesh is generated as fast as a 2 x 2 one. Tile (r, c)
is the instance ``g_row[r].g_col[c].tile``; row 0 is the north edge, column 0 the west edge. Each
tile's ``col`` input is tied to its column, which is how management messages address it
(docs/mesh.md). A wafer (``wafer=``: spares with a defect map, dies) has the same top on its
physical positions, behind the same ports (docs/wafer.md).

Along each row the tiles' fault words (hdl/fault.py) form a registered chain from west to east:
tile (r, 0)'s ``fault_in`` is 0, tile (r, c)'s is tile (r, c-1)'s ``fault_out``, and tile
(r, C-1)'s ``fault_out`` is row r's ``row_fault``: the westernmost faulty tile of the row, at
most C cycles after its error.

Top-level ports (W = 38-bit wavelets, K = profile.colors ready bits per link), O(R + C):

    {n,s}_in_{valid[C], data[C*W], ready[C*K]}    links entering the north/south edge, by column
    {n,s}_out_{valid[C], data[C*W], ready[C*K]}   links leaving it
    {w,e}_in_*, {w,e}_out_*                       the same for the west/east edge, by row
    row_err[R], row_halted[R]   OR over each row's tiles    row_idle[R]   AND over each row's tiles
    row_fault[R*FAULT_BITS]     row r at bits r*FAULT_BITS +: FAULT_BITS: the FaultInfo word
                                (hdl/fault.py) at the east end of the row's fault chain

Interface:
    generate_mesh(rows, cols, profile, out_dir, core=True, wafer=None) -> MeshDescription
                                                                      writes the Verilog and mesh.json
    mesh_sources(rows, cols, profile, core=True) -> {filename: text}  the Verilog, in memory
    mesh_top_verilog(rows, cols, colors, tile_module) -> str          the perfect mesh's top alone
    check_mesh_shape(rows, cols)                                      clear errors for bad dimensions
    EdgeLink(side, index)        one edge link: side N/E/S/W, index = column (N, S) or row (E, W);
                                 ``str(link)`` / ``EdgeLink.parse("W3")``, ``.pe(rows, cols)``,
                                 ``.pe_port(rows, cols)`` and its inverse ``EdgeLink.at(pe, port,
                                 rows, cols)`` (the golden models' keys), ``edge_links(rows, cols)``
    python -m hdl.mesh --rows R --cols C [--profile small] [--out DIR]
        a wafer (hdl/wafer_mesh.py, docs/wafer.md): [--spares K/S] [--defects FILE.json |
        --defect-rate P --seed N] [--die RxC] [--boundary-stages L]; a bad map, die or rate is
        refused (exit 2) before anything is written
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

from . import mesh_top, wafer_mesh
from .fault import FAULT, FAULT_BITS
from .link_plan import LinkPlan
from .mesh_common import MAX_COLS, MAX_ROWS, MESH_TOP, MeshShapeError, check_mesh_shape
from .mgmt import MGMT_BROADCAST
from .profiles import PROFILES, ProfileError, get_profile
from .tile import TILE_MODULE
from .wavelet import EDGE_SIDES, Port, side_links

__all__ = ["EdgeLink", "edge_links", "generate_mesh", "mesh_sources", "mesh_top_verilog", "check_mesh_shape",
           "MeshShapeError", "MeshDescription", "MAX_ROWS", "MAX_COLS", "MESH_TOP", "main"]

class EdgeLink(NamedTuple):
    """One link at the mesh edge: ``side`` N, E, S or W; ``index`` the column (N, S) or row (E, W).
    The same name serves the input link into the mesh and the output link out of it; written
    ``W3`` (the west link of row 3) or ``N0``."""
    side: Port
    index: int

    def __str__(self) -> str:
        return f"{self.side.name}{self.index}"

    @classmethod
    def of(cls, link) -> EdgeLink:
        """``link`` checked, if an EdgeLink, or parsed, if its written name (``"W3"``)."""
        if isinstance(link, str):
            return cls.parse(link)
        if (not isinstance(link, EdgeLink) or link.side not in EDGE_SIDES or isinstance(link.index, bool)
                or not isinstance(link.index, int) or link.index < 0):
            raise ValueError(f"{link!r} is not an edge link (an EdgeLink, or a name like W3)")
        return link

    @classmethod
    def parse(cls, text: str) -> EdgeLink:
        t = text.strip().upper()
        if len(t) < 2 or t[0] not in "NESW" or not t[1:].isdigit():
            raise ValueError(f"{text!r} is not an edge link name (N/E/S/W and an index, e.g. W3)")
        return cls(Port[t[0]], int(t[1:]))

    def links_on_side(self, rows: int, cols: int) -> int:
        return side_links(self.side, rows, cols)

    def check(self, rows: int, cols: int) -> EdgeLink:
        n = self.links_on_side(rows, cols)
        if not 0 <= self.index < n:
            raise ValueError(f"edge link {self}: a {rows}x{cols} mesh has {self.side.name}0..{self.side.name}{n - 1}")
        return self

    def pe(self, rows: int, cols: int) -> tuple[int, int]:
        """The tile at the mesh edge this link enters or leaves."""
        self.check(rows, cols)
        return {Port.N: (0, self.index), Port.S: (rows - 1, self.index), Port.W: (self.index, 0),
                Port.E: (self.index, cols - 1)}[self.side]

    def pe_port(self, rows: int, cols: int) -> tuple[tuple[int, int], Port]:
        """``(pe, side)``: the tile and port this link enters or leaves, the key the golden models
        (golden/) give an edge entry or exit; ``EdgeLink.at`` is the inverse."""
        return self.pe(rows, cols), self.side

    @classmethod
    def at(cls, pe, port, rows: int, cols: int) -> EdgeLink:
        """The edge link through ``port`` of tile ``pe``; ValueError if that port faces a tile."""
        r, c = pe
        port = Port.of(port)
        link = cls(port, c if port in (Port.N, Port.S) else r)
        if port not in EDGE_SIDES or link.pe(rows, cols) != (r, c):
            raise ValueError(f"port {port.name} of PE {tuple(pe)} is not at the edge of a {rows}x{cols} mesh")
        return link


def edge_links(rows: int, cols: int) -> list[EdgeLink]:
    """Every edge link of a mesh, side by side (N, E, S, W), index order."""
    return [EdgeLink(s, i) for s in EDGE_SIDES for i in range(side_links(s, rows, cols))]


def _indexed_by(port: str):
    if port.startswith(("n_", "s_")):
        return "column"
    if port.startswith(("w_", "e_", "row_")):
        return "row"
    return None


def mesh_top_verilog(rows: int, cols: int, colors: int, tile_module: str = TILE_MODULE) -> str:
    """The perfect R x C mesh's top (hdl/mesh_top.py)."""
    check_mesh_shape(rows, cols)
    return mesh_top.mesh_top_verilog(LinkPlan(rows, cols), colors, tile_module)


def mesh_sources(rows: int, cols: int, profile="small", core: bool = True) -> dict[str, str]:
    """The mesh's Verilog: ``core=False`` tiles the fabric only (router + loader, no PE)."""
    check_mesh_shape(rows, cols)
    return mesh_top.mesh_top_sources(LinkPlan(rows, cols), get_profile(profile), core)


@dataclass
class MeshDescription:
    rows: int
    cols: int
    profile: dict
    core: bool = True  # False: fabric tiles (router + management loader, no PE)
    top: str = MESH_TOP
    tile_module: str = "tessera_tile"
    files: list = field(default_factory=list)
    instance: str = "g_row[r].g_col[c].tile"
    coordinates: str = "row 0 is the north edge, column 0 the west edge; tile (r, c) has col input c"
    ports: list = field(default_factory=list)
    fault: dict = field(default_factory=dict)
    management: dict = field(default_factory=dict)
    wafer: dict | None = None  # spares, defect map, physical columns, dies (hdl/link_plan.py Wafer)
    generate_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def generate_mesh(rows: int, cols: int, profile="small", out_dir=None, core: bool = True,
                  wafer=None) -> MeshDescription:
    """Write tessera_tile.v, tessera_mesh.v and mesh.json into ``out_dir``; return the description.
    ``wafer`` (hdl.link_plan.Wafer): the physical wafer top with repair cells and die boundaries."""
    check_mesh_shape(rows, cols)
    prof = get_profile(profile)
    t0 = time.monotonic()
    plan = LinkPlan(rows, cols, wafer)
    sources = mesh_top.mesh_top_sources(plan, prof, core)
    desc = MeshDescription(
        rows=rows, cols=cols, profile=prof.as_dict(), core=core, files=sorted(sources),
        instance=mesh_top.tile_instance(plan),
        ports=[{"name": n, "dir": d, "width": w, "indexed_by": _indexed_by(n)} for d, n, w in plan.ports(prof.colors)],
        fault={"port": "row_fault", "bits_per_row": FAULT_BITS, "row": "bits r*bits_per_row +: bits_per_row",
               "fields": {path: {"offset": o, "width": w} for path, (o, w, _) in FAULT.fields.items()},
               "chain": "west to east, one register per tile; the westernmost faulty tile of the row",
               "latency": "at most cols cycles from a tile's error to row_fault", "doc": "docs/mesh.md"},
        management={"color": prof.mgmt_color, "enters": "west edge, one link per row",
                    "route": "RX {W}, TX {E, RAMP} out of reset", "column_broadcast": MGMT_BROADCAST,
                    "doc": "docs/mesh.md"},
    )
    if wafer is not None:
        desc.wafer = {"physical_cols": wafer.physical_cols(cols), "doc": "docs/wafer.md",
                      "spare_scheme": None if wafer.repair is None else str(wafer.scheme),
                      "phys": None if wafer.repair is None else wafer.repair.phys,
                      "die": None if wafer.die is None else list(wafer.die), "boundary_stages": wafer.stages}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in sources.items():
            (out / name).write_text(text)
    desc.generate_seconds = round(time.monotonic() - t0, 3)
    if out_dir is not None:
        (Path(out_dir) / "mesh.json").write_text(desc.to_json())
    return desc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hdl.mesh", description="Generate a Tessera mesh (Verilog + JSON).")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--profile", default="small", help=f"one of {', '.join(PROFILES)}")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default build/mesh/<R>x<C>_<profile>)")
    ap.add_argument("--fabric-only", action="store_true", help="tiles without the PE core (router + loader)")
    wafer_mesh.add_wafer_arguments(ap, seed_alias=True)
    args = ap.parse_args(argv)
    try:
        check_mesh_shape(args.rows, args.cols)
        prof = get_profile(args.profile)
        wafer = wafer_mesh.wafer_from_arguments(args, args.rows, args.cols)
    except (MeshShapeError, ProfileError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or Path("build") / "mesh" / f"{args.rows}x{args.cols}_{prof.name}"
    desc = generate_mesh(args.rows, args.cols, prof, out, core=not args.fabric_only, wafer=wafer)
    on = "" if wafer is None else f" on {args.rows} x {wafer.physical_cols(args.cols)} physical tiles"
    print(f"generated a {args.rows} x {args.cols} mesh ({args.rows * args.cols} tiles{on}, profile {prof.name}) "
          f"in {desc.generate_seconds:.2f} s: {', '.join(str(out / f) for f in desc.files)}, {out / 'mesh.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
