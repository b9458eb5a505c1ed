"""What the perfect mesh top (hdl/mesh.py) and the wafer top (hdl/wafer_mesh.py) share.

Role: the mesh top's module name and its ports (the logical edge), the limits and checks of a
mesh's shape, and the tile's Verilog emitted once per (profile, core) and process.

Interface
---------
MESH_TOP, MAX_ROWS, MAX_COLS; MeshShapeError; check_mesh_shape(rows, cols)
mesh_ports(rows, cols, colors) -> [(direction, name, width)]   every top-level port
tile_verilog(profile, core=True) -> str                        the tile module (``tessera_tile``)
"""

from __future__ import annotations

from amaranth.back import verilog

from .fault import FAULT_BITS
from .mgmt import MGMT_BROADCAST
from .profiles import get_profile
from .tile import TILE_MODULE, Tile
from .wavelet import EDGE_SIDES, WAVELET_BITS, side_links

__all__ = ["MESH_TOP", "MAX_ROWS", "MAX_COLS", "MeshShapeError", "check_mesh_shape", "mesh_ports", "tile_verilog"]

MESH_TOP = "tessera_mesh"
MAX_COLS = MGMT_BROADCAST  # columns are addressed by 10-bit management headers; 1023 means "all"
MAX_ROWS = 1024
_tile_cache: dict = {}


class MeshShapeError(ValueError):
    """Mesh dimensions that cannot be built."""


def check_mesh_shape(rows, cols):
    for what, v, limit in (("rows", rows, MAX_ROWS), ("cols", cols, MAX_COLS)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise MeshShapeError(f"mesh {what} must be an integer, got {v!r}")
        if v < 1:
            raise MeshShapeError(f"mesh {what}={v}: must be at least 1")
        if v > limit:
            raise MeshShapeError(f"mesh {what}={v} exceeds the maximum {limit}")


def mesh_ports(rows, cols, K):
    """(direction, name, width) of every top-level port."""
    W = WAVELET_BITS
    ports = [("input", "clk", 1), ("input", "rst", 1)]
    for side, n in ((p.letter, side_links(p, rows, cols)) for p in EDGE_SIDES):
        ports += [("input", f"{side}_in_valid", n), ("input", f"{side}_in_data", n * W),
                  ("output", f"{side}_in_ready", n * K),
                  ("output", f"{side}_out_valid", n), ("output", f"{side}_out_data", n * W),
                  ("input", f"{side}_out_ready", n * K)]
    ports += [("output", "row_err", rows), ("output", "row_idle", rows), ("output", "row_halted", rows),
              ("output", "row_fault", rows * FAULT_BITS)]
    return ports


def tile_verilog(profile, core: bool = True) -> str:
    """The tile module's Verilog (Amaranth), cached per (profile, core) within this process."""
    prof = get_profile(profile)
    key = (prof.name, core)
    if key not in _tile_cache:
        _tile_cache[key] = verilog.convert(Tile(prof, core=core), name=TILE_MODULE)
    return _tile_cache[key]
