"""Router-only meshes on Verilator (cocotb): multi-color multicast patterns under random idles and
backpressure, checked against the golden routing model (zero loss, zero duplication, order per flow)."""

import pytest

from tb.models import router_mesh_model, run_cocotb


@pytest.mark.xdist_group("router_mesh_4x4")
def test_mesh_4x4_random_100k():
    """The acceptance test: 4x4 mesh, six patterns on six colors, 100,000 injected wavelets."""
    run_cocotb(router_mesh_model(4, 4, "small"), "tb.cocotb_router_mesh", "random_multicast_patterns",
               profile="small", rows=4, cols=4, wavelets=100_000, seed=11, idle=0.2, stall=0.2)
