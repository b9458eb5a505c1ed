"""Router-only meshes on Verilator (cocotb): multi-color multicast patterns under random idles and
backpressure, checked against the golden routing model (zero loss, zero duplication, order per flow)."""

import json

import pytest

from tb.builds import router_mesh_build, run_cocotb

pytestmark = pytest.mark.sim  # every test here runs a simulator (docs/verification.md "Test tiers")


@pytest.mark.slow
@pytest.mark.xdist_group("router_mesh_4x4")
def test_mesh_4x4_random_100k():
    """The acceptance test: 4x4 mesh, six patterns on six colors, 100,000 injected wavelets (in
    `make test-all`: the regression's router-only mesh is the line of dies below, and its tile
    meshes route through the same routers)."""
    run_cocotb(router_mesh_build(4, 4, "small"), "tb.cocotb_router_mesh", "random_multicast_patterns",
               profile="small", rows=4, cols=4, wavelets=100_000, seed=11, idle=0.2, stall=0.2)


# A line of 4 routers, each its own die, with 2-stage boundary links: every link is a boundary.
DIE_LINE = dict(rows=1, cols=4, profile="small", die=(1, 1), stages=2)


@pytest.mark.xdist_group("router_line_dies")
def test_die_boundaries_lossless_under_backpressure():
    """The route patterns across die-boundary links (hdl/boundary.py) under random idles and
    per-color backpressure, every exit checked, no drops, no boundary overflow."""
    run_cocotb(router_mesh_build(**DIE_LINE), "tb.cocotb_router_mesh", "random_multicast_patterns", profile="small",
               rows=1, cols=4, wavelets=20_000, seed=5, idle=0.2, stall=0.3)


@pytest.mark.xdist_group("router_line_dies")
def test_die_boundary_latency_and_full_rate(tmp_path):
    """A line of 4 routers, each its own die, with 2-stage boundary links: zero-load latency as the
    golden model predicts it (stages included: the cocotb test compares), one color and every color
    sharing a boundary link at one wavelet per cycle."""
    report = tmp_path / "figures.json"
    run_cocotb(router_mesh_build(**DIE_LINE), "tb.cocotb_router_mesh", "fabric_figures",
               profile="small", cols=4, die=[1, 1], stages=2, stream=600, report=str(report))
    fig = json.loads(report.read_text())
    assert fig["latency_by_routers"]["3"] == 3 + 2 * 2  # two boundaries of 2 stages
    assert fig["single_color_wavelets_per_cycle"] == 1.0
    assert fig["shared_link_wavelets_per_cycle"] >= 0.99
