"""One router on Verilator (cocotb), checked against the golden routing model, in both profiles."""

import pytest

from tb.builds import router_mesh_build, run_cocotb

pytestmark = pytest.mark.sim  # every test here runs a simulator (docs/verification.md "Test tiers")

CASES = [
    "every_input_color_to_every_tx_set",
    "rx_violation_and_errors",
    "stalled_color_never_blocks_others",
    "fair_arbitration",
    "switch_advance_reset_ring",
]


# One xdist group per Verilator build: one worker builds it and runs its tests while the other
# worker builds and runs another, instead of both waiting on the same build.
@pytest.mark.parametrize("profile", [pytest.param(p, marks=pytest.mark.xdist_group(f"router_1x1_{p}"))
                                     for p in ("small", "wse")])
@pytest.mark.parametrize("case", CASES)
def test_router(case, profile):
    run_cocotb(router_mesh_build(1, 1, profile), "tb.cocotb_router_mesh", case, profile=profile, seed=7)
