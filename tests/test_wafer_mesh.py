"""The wafer mesh (hdl/link_plan.py, hdl/mesh_top.py, hdl/repair_cell.py): bad wafers refused
before anything is built, the golden model's extra cycles per link, and repaired meshes with die
boundaries on Verilator driven only through their logical edge: front-door routing under random
idles and backpressure against the golden model, zero-load latencies as the golden model predicts
them from the repair map, and GEMM / sparse GEMV bit-exact (docs/wafer.md)."""

import json
import subprocess
import sys

import pytest

from hdl.link_plan import Wafer, WaferError, hop_extra_cycles, link_chains
from hdl.repair import DefectMap, RepairError, SpareScheme
from sdk.builds.engine_builds import mesh_build
from sdk.cases import gemm_case, gemv_case, run_cases
from tb.builds import run_cocotb, verilog_mesh_build

ROWS, COLS = 4, 6


def _edges_map():
    """Scheme 1/3 (8 physical columns): the four corners, a defect in two adjacent rows at the last
    logical column of segment 0, one at the first column of segment 1; dies of 2 x 3 PEs."""
    defects = {(0, 0), (0, 7), (3, 0), (3, 7), (1, 2), (2, 2), (1, 4)}
    return Wafer(DefectMap(ROWS, COLS, SpareScheme(3, 1), frozenset(defects)).repair(), die=(2, 3), stages=2)


def _random_map():
    """Scheme 2/3 (10 physical columns): the first seed whose random map at 8 % per PE has at least
    3 % of the physical PEs defective and is repairable."""
    scheme = SpareScheme(3, 2)
    for seed in range(1, 100):
        dm = DefectMap.random(ROWS, COLS, scheme, 0.08, seed)
        try:
            rm = dm.repair()
        except RepairError:
            continue
        if len(dm.defects) >= 0.03 * ROWS * scheme.physical_cols(COLS):
            return Wafer(rm), len(dm.defects)
    raise AssertionError("no repairable random map")


WAFERS = {"edges_corners_segments_dies": lambda: _edges_map(), "random": lambda: _random_map()[0]}


def test_random_map_has_at_least_three_percent_defective():
    _, n = _random_map()
    assert n >= 0.03 * ROWS * SpareScheme(3, 2).physical_cols(COLS)


@pytest.mark.parametrize("make,needle", [
    (lambda: Wafer(die=(3, 3)).check(4, 6), "die 3x3 does not divide the 4x6 mesh (rows: 4 is not a multiple of 3)"),
    (lambda: Wafer(die=(2, 4)).check(4, 6), "columns: 6 is not a multiple of 4"),
    (lambda: Wafer(die=(0, 2)).check(4, 6), "die 0x2: both sides must be at least 1"),
    (lambda: Wafer(die="2by3").check(4, 6), "expected ROWSxCOLS"),
    (lambda: Wafer(die=(2, 3), stages=0).check(4, 6), "boundary stages must be 1..8, got 0"),
    (lambda: Wafer(DefectMap(4, 6, SpareScheme(2, 1)).repair(), die=(2, 3)).check(4, 6),
     "not a multiple of the spare scheme's segment (2)"),
    (lambda: Wafer(DefectMap(4, 6, SpareScheme(3, 1)).repair()).check(4, 5), "repair map is for a 4x6 mesh, not 4x5"),
    (lambda: DefectMap(4, 6, SpareScheme(3, 1), frozenset({(1, 4), (1, 6)})).repair(),
     "row 1, segment 1 (physical columns 4..7): 2 defective PEs but only 1 spare column"),
    (lambda: DefectMap(4, 6, SpareScheme(3, 1), frozenset({(4, 0)})), "PE (4, 0) is outside the physical mesh"),
])
def test_bad_wafers_rejected_with_the_value_named(make, needle):
    with pytest.raises((WaferError, RepairError), match=needle.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_cli_refuses_bad_wafers_before_writing(tmp_path):
    bad = tmp_path / "defects.json"
    bad.write_text(json.dumps({"defects": [[0, 1], [0, 2]]}))
    for args, needle in ((["--spares", "1/3", "--die", "3x3"], "does not divide"),
                         (["--spares", "1/3", "--defect-rate", "-0.1"], "defect rate -0.1"),
                         (["--spares", "1/3", "--defects", str(bad)], "row 0, segment 0"),
                         (["--defect-rate", "0.01"], "needs a spare scheme"),
                         (["--die", "2x3", "--boundary-stages", "9"], "boundary stages must be 1..8")):
        out = tmp_path / "out"
        p = subprocess.run([sys.executable, "-m", "hdl.mesh", "--rows", "4", "--cols", "6", *args, "--out", str(out)],
                           capture_output=True, text=True)
        assert p.returncode == 2 and needle in p.stderr, (args, p.stderr)
        assert not out.exists(), "nothing may be written for bad input"


def test_hop_extra_cycles_follow_the_map():
    """Written down from docs/wafer.md: one cycle per bypassed tile (defective or unused spare)
    along a row, the die stages per boundary crossed, diagonal links between rows free."""
    w = _edges_map()
    extra = hop_extra_cycles(ROWS, COLS, w)
    # row 0: physical 0 defective -> logical 0..2 at 1, 2, 3; segment 1 (4..7): 7 defective, 4, 5, 6
    assert w.repair.phys[0] == [1, 2, 3, 4, 5, 6]
    assert extra[(0, 0, "W")] == 1  # the west edge reaches logical (0, 0) through fused tile 0
    assert extra[(0, 2, "E")] == 2  # physical 3 -> 4 crosses the die boundary (2 stages), no tile skipped
    assert extra[(0, 5, "E")] == 1  # the defective spare 7 between logical (0, 5) and the east edge
    # row 1: 2 and 4 defective -> 0, 1, 3 | 5, 6, 7
    assert w.repair.phys[1] == [0, 1, 3, 5, 6, 7]
    assert extra[(1, 1, "E")] == 1 and extra[(1, 2, "E")] == 1 + 2 and extra[(1, 5, "E")] == 0
    assert extra[(1, 0, "S")] == 2 and extra[(2, 0, "N")] == 2  # rows 1 | 2: a die boundary
    assert extra[(0, 0, "S")] == 0 and extra[(3, 0, "N")] == 0
    assert all(extra[(r, c, s)] == 0 for r in range(ROWS) for c in range(COLS) for s in "NESW"
               if s in "NS" and not ((r == 1 and s == "S") or (r == 2 and s == "N")))
    assert hop_extra_cycles(ROWS, COLS, Wafer()) == {k: 0 for k in extra}
    # the native engine's chains: the same stages, in travel order (a die stage where the slot is)
    chains = link_chains(ROWS, COLS, w)
    # logical (1, 2) -> (1, 3): physical 3 -> 5 across the die edge west of 4, then the fused 4
    assert chains[("out", 1, 2, "E")] == [2, 1] and chains[("out", 1, 3, "W")] == [1, 2]
    assert chains[("in", 0, 0, "W")] == [1] and chains[("out", 0, 0, "W")] == [1]
    assert chains[("out", 1, 0, "S")] == [2] and ("out", 0, 0, "S") not in chains
    for (kind, r, c, side), stages in chains.items():
        assert sum(stages) == extra[(r, c, side)], (kind, r, c, side)


@pytest.mark.sim
@pytest.mark.parametrize("which", [pytest.param(w, marks=pytest.mark.slow) if w == "random" else w for w in WAFERS])
def test_repaired_mesh_routing_latency_and_kernels(which, tmp_path):
    """A repaired 4 x 6 mesh, driven only through its logical edge: front-door routing (loaded
    through the west edge, five colors of multicast under 20 % idles and backpressure) checked
    against the golden model with no loss and no error flag; every row's and column's zero-load
    latency equal to the golden model's from the repair map; GEMM (f16, f32) and sparse GEMV
    bit-exact. The first map runs all of it on the wafer's Verilog top with PE tiles, and the
    kernels again on the native engine, which must give the same bits in the same cycles; the
    second runs routing and latency on the Verilog top with fabric tiles and the kernels on the
    native engine."""
    wafer = WAFERS[which]()
    full = which == "edges_corners_segments_dies"
    build = verilog_mesh_build(ROWS, COLS, "small", full, wafer)
    report = tmp_path / "routing.json"
    run_cocotb(build, "tb.cocotb_tile_mesh", "front_door_routing", profile="small", rows=ROWS, cols=COLS,
               core=full, wavelets=4_000, seed=11, report=str(report))
    routing = json.loads(report.read_text())
    assert routing["deliveries_checked"] >= routing["wavelets_injected"] > 0
    hop_extra = [[r, c, s, n] for (r, c, s), n in hop_extra_cycles(ROWS, COLS, wafer).items() if n]
    assert hop_extra, "the map must cost something somewhere"
    lat = tmp_path / "latency.json"
    run_cocotb(build, "tb.cocotb_tile_mesh", "wafer_latency", profile="small", rows=ROWS, cols=COLS, core=full,
               hop_extra=hop_extra, report=str(lat))
    assert len(json.loads(lat.read_text())["latencies"]) == ROWS + COLS

    def cases():
        return [gemm_case(ROWS, COLS, 13, 20, 17, "f16", seed=41), gemm_case(ROWS, COLS, 7, 9, 12, "f32", seed=42),
                gemv_case(ROWS, COLS, 15, 24, 0.5, seed=43)]

    keys = ("name", "cycles", "load_cycles", "bit_exact", "mismatches")
    got = {}
    for engine in ("hierarchical", "native") if full else ("native",):
        m = build if engine == "hierarchical" else mesh_build(ROWS, COLS, "small", True, engine="native", wafer=wafer)
        got[engine] = [{k: r[k] for k in keys} for r in run_cases(cases(), engine=engine, build=m,
                                                                  run_name=f"wafer-{which}-{engine}")]
    assert [(r["name"], r["bit_exact"], r["mismatches"]) for r in got["native"]] == \
        [(c.name, True, 0) for c in cases()]
    if full:  # the native engine wires the same stages: the same bits in the same cycles
        assert got["native"] == got["hierarchical"]


def test_make_sim_refuses_a_bad_wafer_before_building(capsys):
    from demo import gemm
    assert gemm.main(["--rows", "4", "--cols", "6", "--spares", "1/3", "--defect-rate", "0.2"]) == 2
    assert "defect rate 0.2" in capsys.readouterr().err
    assert gemm.main(["--rows", "4", "--cols", "6", "--die", "3x3"]) == 2
    assert "die 3x3 does not divide the 4x6 mesh" in capsys.readouterr().err
