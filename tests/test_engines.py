"""The same SDK host programs on every engine: the programming guide's AXPY (demo/axpy.py), a PE
that halts, and the collectives — on the native Verilator mesh, the golden PE-mesh model and the
FPGA board core simulated with its UART (fpga-sim), with identical results; and the guide's code
is the demo's code."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from demo import axpy
from golden import fp
from sdk import DeviceError, Layout, Runtime, Until
from sdk.collectives import OPS, standalone
from sdk.kernels import row_echo
from tb.programs import HALT_WHERE_BAD

REPO = Path(__file__).resolve().parent.parent


def _axpy_data():
    """16 elements (4 per PE): the simulated board moves every word through its UART at 4 cycles a bit."""
    rng = np.random.default_rng(7)
    return rng.standard_normal(16).astype(np.float32), rng.standard_normal(16).astype(np.float32), np.float32(-1.25)


@pytest.fixture(scope="module")
def axpy_golden_result():
    x, y, a = _axpy_data()
    return axpy.axpy("golden", x, y, a)


@pytest.mark.sim
@pytest.mark.parametrize("engine", [pytest.param("native", marks=pytest.mark.xdist_group("engines_native_1x4")),
                                    pytest.param("fpga-sim", marks=pytest.mark.xdist_group("engines_fpga_1x4"))])
def test_axpy_gives_the_same_bits_on_every_engine(engine, axpy_golden_result):
    x, y, a = _axpy_data()
    got = axpy.axpy(engine, x, y, a)
    assert np.array_equal(got.view(np.uint32), axpy_golden_result.view(np.uint32))
    want = [fp.fmac_f32(int(yi), int(xi), int(a.view(np.uint32)))
            for xi, yi in zip(x.view(np.uint32), y.view(np.uint32), strict=True)]
    assert list(axpy_golden_result.view(np.uint32)) == want, "the golden engine disagrees with golden/fp.py"


def test_programming_guide_shows_the_demo_code():
    """docs/programming.md walks through demo/axpy.py: its code blocks are the demo's code."""
    guide = (REPO / "docs" / "programming.md").read_text()
    demo = (REPO / "demo" / "axpy.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, re.S)
    assert blocks, "no python block in docs/programming.md"
    for block in blocks[:2]:
        assert block.strip() in demo, f"this block of docs/programming.md is not in demo/axpy.py:\n{block}"


def _faulty_layout():
    lay = Layout(1, 4)  # the AXPY's mesh: the same Verilator builds serve both
    lay.place(lay.program(HALT_WHERE_BAD, name="faulty"), lay.all(), params=lambda pe: {"BAD": int(pe == (0, 2))})
    return lay


@pytest.mark.sim
@pytest.mark.parametrize("engine", [pytest.param("native", marks=pytest.mark.xdist_group("engines_native_1x4")),
                                    "golden",
                                    pytest.param("fpga-sim", marks=pytest.mark.xdist_group("engines_fpga_1x4"))])
def test_a_halting_pe_is_reported_by_coordinates_code_task_and_pc(engine):
    with pytest.raises(DeviceError) as e, Runtime(_faulty_layout(), engine=engine) as rt:
        rt.run("idle")
    assert [(f.pe, f.code, f.task, f.pc, f.halted) for f in e.value.faults] == [((0, 2), "SRAM_RANGE", 0, 4, True)]
    assert "PE (0, 2): halted: SRAM_RANGE in task 0 at pc 4" in str(e.value)


@pytest.mark.sim
@pytest.mark.xdist_group("engines_native_1x4")
def test_a_run_without_progress_is_reported():
    lay = row_echo.layout(1, 4)
    with Runtime(lay, engine="native") as rt:
        rt.send("W0", 1, [1, 2])
        with pytest.raises(DeviceError, match="W0: 0 of 99 expected|no progress"):
            rt.run(Until.outputs({"E0": (2, 99)}), max_idle=500)


@pytest.mark.sim
@pytest.mark.parametrize("shape", [pytest.param(s, marks=pytest.mark.xdist_group(f"engines_native_{s[0]}x{s[1]}"))
                                   for s in ((1, 4), (3, 1), (4, 4))])
def test_collectives_bit_exact_on_the_native_mesh(shape):
    """Every collective on one simulator launch per mesh (rt.load of each collective's layout), its
    results bit for bit the golden order's (sdk/collectives.py)."""
    rt = None
    try:
        for op in OPS:
            lay, coll = standalone(op, *shape, n=24)
            rng = np.random.default_rng(11)
            data = {pe: rng.standard_normal(coll.input_size(pe)).astype(np.float32) for pe in coll.input_pes()}
            if rt is None:
                rt = Runtime(lay, engine="native", run_name=f"collectives-{shape[0]}x{shape[1]}")
            else:
                rt.load(lay)
            out, cycles = coll.run(rt, data)
            assert cycles and cycles > 0
            want = coll.golden(data)
            for pe in want:
                assert np.array_equal(out[pe].view(np.uint32), want[pe].view(np.uint32)), (op, shape, pe)
    finally:
        if rt is not None:
            rt.close()
