"""The mesh generator (hdl/mesh.py): bad input, wafer-size generation, and generated meshes on
Verilator loaded and exercised only through their edges (tb/cocotb_tile_mesh.py)."""

import json
import subprocess
import sys
import time

import pytest

from golden.routing import ColorRoute, MeshRoutes, RouteError
from hdl.mesh import MAX_COLS, MAX_ROWS, MeshShapeError, check_mesh_shape, generate_mesh, mesh_top_verilog
from hdl.profiles import ProfileError, get_profile
from sdk.cases import gemm_case, gemv_case, run_cases
from sdk.loader import LoadError, MeshLoader
from tb.builds import run_cocotb, tile_mesh_build, verilog_mesh_build


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


@pytest.mark.sim
@pytest.mark.xdist_group("tile_mesh_fabric")
@pytest.mark.parametrize("rows,cols", [(8, 8), (1, 5), (5, 1)])
def test_front_door_fabric_mesh(rows, cols):
    run_cocotb(tile_mesh_build(rows, cols, "small", core=False), "tb.cocotb_tile_mesh", "front_door_routing",
               profile="small", rows=rows, cols=cols, core=False, wavelets=20_000 if rows * cols > 8 else 4_000,
               seed=3)


@pytest.mark.sim
@pytest.mark.xdist_group("tile_mesh_pe_8x8")
@pytest.mark.parametrize("case", ["front_door_routing", "front_door_program"])
def test_front_door_pe_mesh_8x8(case):
    """The real mesh (router + PE + loader tiles), 8 x 8, configured and programmed only through its
    west edge: multi-color multicast routing against the golden model, and a program broadcast
    to all 64 PEs whose results leave through the east edge."""
    run_cocotb(tile_mesh_build(8, 8, "small", core=True), "tb.cocotb_tile_mesh", case,
               profile="small", rows=8, cols=8, wavelets=20_000, per_row=50, seed=5)


def _routing_report(build, name, rows, cols, core):
    """front_door_routing on ``build`` with a fixed seed; returns its report (cycles included)."""
    run_dir = run_cocotb(build, "tb.cocotb_tile_mesh", "front_door_routing", profile="small", rows=rows,
                         cols=cols, core=core, wavelets=3_000, seed=9, report=f"{name}.json")
    return json.loads((run_dir / f"{name}.json").read_text())


@pytest.mark.sim
@pytest.mark.xdist_group("verilog_mesh")
def test_verilog_mesh_top_matches_native_mesh():
    """The generated Verilog mesh top (hdl/mesh.py, verilated with the tile as one hierarchical
    block) and the native-mesh build the other tests use (sdk/builds/native_mesh.py) are the same machine:
    on a 3 x 3 fabric mesh (every edge, corner and interior link) the same front-door routing run,
    with the same random stalls, checks out against the golden model on both and takes exactly the
    same number of cycles; on a 2 x 2 PE mesh GEMM and sparse-GEMV jobs give the same bits in the
    same cycles."""
    native = _routing_report(tile_mesh_build(3, 3, "small", core=False), "native", 3, 3, False)
    verilog = _routing_report(verilog_mesh_build(3, 3, "small", core=False), "verilog", 3, 3, False)
    assert native["deliveries_checked"] > 0
    assert verilog == native

    def cases():
        return [gemm_case(2, 2, 9, 14, 11, "f16", seed=21), gemm_case(2, 2, 6, 5, 7, "f32", seed=22),
                gemv_case(2, 2, 11, 16, 0.5, seed=23)]

    keys = ("name", "cycles", "load_cycles", "bit_exact", "mismatches")
    got = {}
    for engine, build in (("native", tile_mesh_build(2, 2, "small")),
                          ("hierarchical", verilog_mesh_build(2, 2, "small"))):
        got[engine] = [{k: r[k] for k in keys} for r in run_cases(cases(), engine=engine, build=build,
                                                                  run_name=f"equivalence-{engine}")]
    assert all(r["bit_exact"] for r in got["native"]), got["native"]
    assert got["hierarchical"] == got["native"]


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.xdist_group("tile_mesh_pe_threads")
def test_native_mesh_threads_give_the_same_run():
    """A native-mesh build run with 2 threads (row bands evaluated in parallel) plays a GEMM job
    bit for bit and cycle for cycle as the single-threaded one."""
    keys = ("cycles", "load_cycles", "bit_exact", "mismatches")
    runs = {}
    for threads in (1, 2):
        build = tile_mesh_build(4, 3, "small", threads=threads)
        [rec] = run_cases([gemm_case(4, 3, 20, 16, 18, "f16", seed=31)], build=build, run_name=f"threads-{threads}")
        runs[threads] = {k: rec[k] for k in keys}
    assert runs[1]["bit_exact"], runs[1]
    assert runs[2] == runs[1]
