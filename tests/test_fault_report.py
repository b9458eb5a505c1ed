"""The per-row fault report at the mesh edge (hdl/fault.py, hdl/tile.py, hdl/mesh.py ``row_fault``):
errors provoked through the west and south edges of generated meshes must show up on the faulty
row's ``row_fault`` with the tile's column and the error, ``cols - c`` cycles after the row's
``row_err``, and nowhere else (tb/cocotb_tile_mesh.py ``fault_report``). The native-mesh build and
the generated Verilog top give the same words in the same cycles."""

import json

import pytest

from hdl.fault import FAULT, FAULT_BITS, FaultInfo
from hdl.isa import Status
from hdl.mesh import generate_mesh
from tb.builds import run_cocotb, tile_mesh_build, verilog_mesh_build


def _fault_report(build, name, rows, cols, core):
    run_dir = run_cocotb(build, "tb.cocotb_tile_mesh", "fault_report", profile="small", rows=rows, cols=cols,
                         core=core, report=f"{name}.json")
    return json.loads((run_dir / f"{name}.json").read_text())


def test_fault_layout_and_mesh_port():
    """49 bits (valid, col, the PE's Status word, router flags, loader error), one word per row."""
    assert FAULT_BITS == FaultInfo.size == 1 + 10 + Status.size + 5 + 1 == 49
    desc = generate_mesh(3, 2, "small")
    port = {p["name"]: p for p in desc.ports}["row_fault"]
    assert (port["dir"], port["width"], port["indexed_by"]) == ("output", 3 * FAULT_BITS, "row")
    assert desc.fault["bits_per_row"] == FAULT_BITS and set(desc.fault["fields"]) == set(FAULT.fields)


@pytest.mark.sim
@pytest.mark.xdist_group("tile_mesh_fault_pe")
def test_fault_report_pe_mesh():
    """2 x 3 PE mesh: the PE at (1, 1) halts on an out-of-range store; row 1 reports column 1,
    SRAM_RANGE, task 3 and the store's PC (as the golden PE model says); row 0 reports nothing."""
    rep = _fault_report(tile_mesh_build(2, 3, "small"), "pe", 2, 3, True)
    row0, row1 = rep["final"]
    assert row0["valid"] == 0
    assert (row1["valid"], row1["col"], row1["pe_status.code"], row1["pe_status.task"]) == (1, 1, 3, 3)


@pytest.mark.sim
@pytest.mark.xdist_group("tile_mesh_fault_fabric")
def test_fault_report_fabric_mesh():
    """3 x 3 fabric mesh: a malformed management header into row 0 (every tile's loader error:
    column 0 is reported) and a wavelet on an unrouted color into tile (2, 1) (RX_VIOLATION,
    pe_status 0); row 1 reports nothing."""
    rep = _fault_report(tile_mesh_build(3, 3, "small", core=False), "fabric", 3, 3, False)
    top, middle, bottom = rep["final"]
    assert (top["valid"], top["col"], top["mgmt_error"]) == (1, 0, 1)
    assert middle["valid"] == 0
    assert (bottom["valid"], bottom["col"], bottom["router_errors"], bottom["pe_status.code"]) == (1, 1, 1, 0)


@pytest.mark.sim
@pytest.mark.xdist_group("verilog_mesh")
def test_fault_report_verilog_top_matches_native():
    """The fault chain of the generated Verilog top (tile as a hierarchical block) against the
    native-mesh build's C++ wiring: a 2 x 2 PE mesh and a 3 x 3 fabric mesh pass the same checks and
    give the same row status and fault words in every cycle."""
    for rows, cols, core in ((2, 2, True), (3, 3, False)):
        native = _fault_report(tile_mesh_build(rows, cols, "small", core), "fault-native", rows, cols, core)
        verilog = _fault_report(verilog_mesh_build(rows, cols, "small", core), "fault-verilog", rows, cols, core)
        assert any(w for w in native["trace"][-1][3]), native
        assert verilog == native
