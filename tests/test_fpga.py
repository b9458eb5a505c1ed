"""The FPGA core (hdl/board_core.py: bit-level UART + host bridge + generated PE mesh) on Verilator:
routes, traffic and a program go through the UART only, checked against the golden routing and
PE mesh models, and a PE error is read back as the row's fault word (tb/cocotb_fpga.py). The
bitstream build itself is not part of the regression (it takes many minutes); its input checks are
(tests/test_fpga_unit.py, test_fpga_build_errors)."""

import os
import subprocess
import sys

import pytest

from tb.builds import BOARD_DIVISOR, board_build, run_cocotb

ROWS, COLS, DIVISOR = 2, 2, BOARD_DIVISOR


@pytest.mark.sim
@pytest.mark.xdist_group("fpga_core_2x2")
@pytest.mark.parametrize("case", ["bridge_routing", "bridge_program", "bridge_gemm", "bridge_faults"])
def test_fpga_core_through_uart(case):
    run_cocotb(board_build(ROWS, COLS), "tb.cocotb_fpga", case, profile="small", rows=ROWS, cols=COLS,
               divisor=DIVISOR, wavelets=60, per_row=8, seed=11)


@pytest.mark.sim
@pytest.mark.xdist_group("fpga_core_1x1_fpga")
@pytest.mark.parametrize("case", ["bridge_program", "bridge_gemm"])
def test_fpga_profile_board_core_through_uart(case):
    """The configuration of the PE bitstream (docs/fpga.md): one tile of the ``fpga`` profile (5
    colors) behind the UART runs a loaded program as the golden PE mesh model says, and plays a
    GEMM bit-exact against golden/matmul.py. (bridge_routing's traffic patterns need 5 colors
    besides the management one.)"""
    run_cocotb(board_build(1, 1, "fpga"), "tb.cocotb_fpga", case, profile="fpga", rows=1, cols=1,
               divisor=DIVISOR, wavelets=60, per_row=8, seed=12)


@pytest.mark.parametrize("args,needle", [
    (["--board", "nope"], "unknown board 'nope'; known boards: ecpix5, ulx3s"),
    (["--rows", "0"], "rows=0: must be at least 1"),
    (["--rows", "65"], "addresses 1..64 rows"),
    (["--profile", "huge"], "unknown profile 'huge'"),
    (["--freq", "1000"], "PLL cannot make 1000 MHz"),
])
def test_fpga_build_errors(args, needle, tmp_path):
    """Bad input is refused before any tool runs, with exit status 2 and a message saying why."""
    p = subprocess.run([sys.executable, "-m", "fpga.build", *args, "--out", str(tmp_path / "b")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and needle in p.stderr, (p.returncode, p.stderr[-2000:])
    assert not (tmp_path / "b").exists()


def test_fpga_build_missing_tool(tmp_path):
    # the other two tools point at something that exists, so the test does not depend on
    # whether the `fpga` extra is installed
    env = dict(os.environ, NEXTPNR_ECP5="no-such-nextpnr-ecp5", YOSYS=sys.executable, ECPPACK=sys.executable)
    p = subprocess.run([sys.executable, "-m", "fpga.build", "--out", str(tmp_path / "b")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 2 and "no-such-nextpnr-ecp5 (for NEXTPNR_ECP5) is not installed" in p.stderr, p.stderr
    assert "make fpga" in p.stderr and not (tmp_path / "b").exists()
