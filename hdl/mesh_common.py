"""What every module about a mesh needs: its top's name, the limits of its shape, the tile's Verilog.

Role: the mesh top's module name, the limits and checks of a mesh's shape, and the tile's
Verilog emitted once per (profile, core) and process; the link plan (hdl/link_plan.py), the top's
generator (hdl/mesh_top.py) and the mesh's entry points (hdl/mesh.py) share them.

Interface
---------
MESH_TOP, MAX_ROWS, MAX_COLS; MeshShapeError; check_mesh_shape(rows, cols)
tile_verilog(profile, core=True) -> str                        the tile module (``tessera_tile``)
"""

from __future__ import annotations

from amaranth.back import verilog

from .mgmt import MGMT_BROADCAST
from .profiles import get_profile
from .tile import TILE_MODULE, Tile

__all__ = ["MESH_TOP", "MAX_ROWS", "MAX_COLS", "MeshShapeError", "check_mesh_shape", "tile_verilog"]

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


def tile_verilog(profile, core: bool = True) -> str:
    """The tile module's Verilog (Amaranth), cached per (profile, core) within this process."""
    prof = get_profile(profile)
    key = (prof.name, core)
    if key not in _tile_cache:
        _tile_cache[key] = verilog.convert(Tile(prof, core=core), name=TILE_MODULE)
    return _tile_cache[key]
