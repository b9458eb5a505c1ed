"""The mesh generator (hdl/mesh.py): bad input, wafer-size generation, and generated meshes on
Verilator loaded and exercised only through their edges (tb/cocotb_tile_mesh.py)."""

import subprocess
import sys
import time

import pytest
from conftest import run_cocotb, tile_mesh_model

from golden.routing import ColorRoute, MeshRoutes, RouteError
from hdl.mesh import MAX_COLS, MAX_ROWS, MeshShapeError, check_mesh_shape, generate_mesh, mesh_top_verilog
from hdl.profiles import ProfileError, get_profile
from tb.host import LoadError, MeshLoader


@pytest.mark.parametrize("rows,cols,needle", [
    (0, 4, "rows=0: must be at least 1"), (4, -2, "cols=-2: must be at least 1"),
    (MAX_ROWS + 1, 4, "exceeds the maximum"), (4, MAX_COLS + 1, "exceeds the maximum"),
    (2.5, 4, "must be an integer"), ("8", 8, "must be an integer"),
])
def test_bad_dimensions_rejected_before_building(rows, cols, needle):
    with pytest.raises(MeshShapeError, match=needle):
        check_mesh_shape(rows, cols)
    with pytest.raises(MeshShapeError):
        mesh_top_verilog(rows, cols, 8)


def test_cli_reports_errors_with_exit_code_2(tmp_path):
    for args, needle in ((["--rows", "0", "--cols", "3"], "at least 1"),
                         (["--rows", "2", "--cols", "2", "--profile", "nope"], "unknown profile 'nope'")):
        p = subprocess.run([sys.executable, "-m", "hdl.mesh", *args, "--out", str(tmp_path)],
                           capture_output=True, text=True)
        assert p.returncode == 2 and needle in p.stderr, p.stderr
    assert not any(tmp_path.iterdir()), "nothing may be written for bad input"
    with pytest.raises(ProfileError):
        get_profile("nope")


def test_wafer_size_top_is_generated_quickly(tmp_path):
    """The WSE-2 program mesh (750 x 994): the top is O(1) text, the tile is emitted once."""
    t0 = time.monotonic()
    desc = generate_mesh(750, 994, "small", tmp_path, core=False)
    assert time.monotonic() - t0 < 60
    top = (tmp_path / "tessera_mesh.v").read_text()
    assert "localparam R = 750, C = 994" in top and top.count("tessera_tile tile (") == 1
    assert (tmp_path / "tessera_tile.v").read_text().count("module tessera_tile(") == 1
    assert desc.rows == 750 and desc.cols == 994 and (tmp_path / "mesh.json").exists()
    widths = {p["name"]: p["width"] for p in desc.ports}
    assert widths["w_in_valid"] == 750 and widths["n_in_valid"] == 994  # O(R + C) I/O


def test_loader_rejects_disagreeing_routes_and_bad_targets():
    mesh = MeshRoutes(2, 2, 8)
    mesh.set((0, 0), 1, ColorRoute.simple(["RAMP"], ["E"]))
    mesh.set((0, 1), 1, ColorRoute.simple(["N"], ["RAMP"]))  # does not accept color 1 from W
    loader = MeshLoader(2, 2, "small")
    with pytest.raises(RouteError, match=r"PE \(0, 0\) color 1 position 0: port E sends to PE \(0, 1\)"):
        loader.routes(mesh)
    with pytest.raises(LoadError, match="outside"):
        loader.pe_writes((2, 0), [(0, 1)])
    with pytest.raises(LoadError, match="3x3 mesh"):
        loader.routes(MeshRoutes(3, 3, 8))


@pytest.mark.xdist_group("tile_mesh_fabric")
@pytest.mark.parametrize("rows,cols", [(8, 8), (1, 5), (5, 1)])
def test_front_door_fabric_mesh(rows, cols):
    run_cocotb(tile_mesh_model(rows, cols, "small", core=False), "tb.cocotb_tile_mesh", "front_door_routing",
               profile="small", rows=rows, cols=cols, core=False, wavelets=20_000 if rows * cols > 8 else 4_000,
               seed=3)


@pytest.mark.xdist_group("tile_mesh_pe_8x8")
@pytest.mark.parametrize("case", ["front_door_routing", "front_door_program"])
def test_front_door_pe_mesh_8x8(case):
    """The real mesh (router + PE + loader tiles), 8 x 8, configured and programmed only through its
    west edge: multi-color multicast routing against the golden model, and a program broadcast
    to all 64 PEs whose results leave through the east edge."""
    run_cocotb(tile_mesh_model(8, 8, "small", core=True), "tb.cocotb_tile_mesh", case,
               profile="small", rows=8, cols=8, wavelets=20_000, per_row=50, seed=5)
