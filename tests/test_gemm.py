"""Mesh GEMM and sparse GEMV end to end on Verilator (sdk/kernels/, run by sdk/cases.py on
an SDK Runtime): loaded, fed and read back through the mesh edge, every result bit-exact against
the golden matmul model (golden/matmul.py) and within the float64 error bound. One simulator launch
per mesh plays all of its cases."""

import functools

import numpy as np
import pytest

from sdk.cases import gemm_case, gemv_case, run_cases
from sdk.kernels.common import KernelError, sparse_vector
from sdk.kernels.gemm import Gemm, plan_gemm
from sdk.kernels.gemv import plan_gemv

# (rows, cols) -> the cases played on that mesh
MESH_CASES = {
    (2, 2): lambda: [
        gemm_case(2, 2, 16, 24, 20, "f16", seed=1),
        gemm_case(2, 2, 1, 1, 1, "f16", seed=2),
        gemm_case(2, 2, 7, 13, 5, "f16", seed=3),
        gemm_case(2, 2, 20, 17, 9, "f16", seed=4),
        gemm_case(2, 2, 20, 17, 9, "f16", seed=5),
        gemm_case(2, 2, 10, 9, 12, "f32", seed=6),
        gemm_case(2, 2, 1, 3, 1, "f32", seed=7),
        gemm_case(2, 2, 8, 8, 8, "f16", kind="zeros"),
        gemm_case(2, 2, 12, 10, 14, "f16", seed=8, kind="special"),
        gemm_case(2, 2, 6, 7, 8, "f32", seed=9, kind="special"),
        gemm_case(2, 2, 64, 64, 64, "f16", seed=10, name="gemm-util"),
        gemv_case(2, 2, 20, 30, 0.3, seed=1),
        gemv_case(2, 2, 1, 1, 1.0, seed=2),
        gemv_case(2, 2, 9, 12, 0.0, seed=3),
        gemv_case(2, 2, 64, 128, 0.1, seed=4, name="gemv-sparse"),
        gemv_case(2, 2, 64, 128, 1.0, seed=4, name="gemv-dense"),
    ],
    (1, 3): lambda: [
        gemm_case(1, 3, 9, 11, 13, "f16", seed=11),
        gemm_case(1, 3, 5, 4, 7, "f32", seed=12),
        gemv_case(1, 3, 7, 10, 0.5, seed=13),
    ],
    (3, 2): lambda: [
        gemm_case(3, 2, 11, 8, 7, "f16", seed=14),
        gemm_case(3, 2, 9, 5, 6, "f16", seed=15, kind="special"),
        gemv_case(3, 2, 13, 9, 0.4, seed=16),
    ],
}


@functools.lru_cache(maxsize=None)
def _results(mesh):
    cases = MESH_CASES[mesh]()
    return {r["name"]: r for r in run_cases(cases, run_name=f"test-{mesh[0]}x{mesh[1]}")}


def _params():
    for mesh, make in MESH_CASES.items():
        for case in make():
            yield pytest.param(mesh, case.name, id=f"{mesh[0]}x{mesh[1]}-{case.name}",
                               marks=pytest.mark.xdist_group(f"gemm_{mesh[0]}x{mesh[1]}"))


@pytest.mark.sim
@pytest.mark.parametrize("mesh,name", list(_params()))
def test_bit_exact(mesh, name):
    rec = _results(mesh)[name]
    assert rec["bit_exact"], f"{name}: {rec['mismatches']} elements differ from the golden model, " \
                             f"first {rec.get('first_mismatch')}"
    assert rec["f64_bound_ok"], f"{name}: error {rec['max_abs_err_f64']} against float64 beyond the bound"
    if rec.get("data") == "special":
        assert rec["nan_outputs"] > 0, "special inputs (inf, NaN) should produce some NaN results"


@pytest.mark.sim
@pytest.mark.xdist_group("gemm_2x2")
def test_gemm_utilization_and_sparse_gemv_speed():
    res = _results((2, 2))
    util = res["gemm-util"]
    assert util["utilization"] >= 0.70, f"64x64x64 f16 GEMM on 2x2: utilisation {util['utilization']}"
    sparse, dense = res["gemv-sparse"], res["gemv-dense"]
    assert sparse["cycles"] <= 0.2 * dense["cycles"], \
        f"GEMV at 10 % density took {sparse['cycles']} cycles, dense {dense['cycles']}"


@pytest.mark.parametrize("args,needle", [
    ((0, 2, 4, 4, 4), "rows=0"),
    ((2, 2, 0, 4, 4), "M must be a positive integer"),
    ((2, 2, 4, 4.5, 4), "K must be a positive integer"),
    ((2, 2, 4, 4, 4, "bf16"), "dtype 'bf16'"),
    ((1, 1, 256, 256, 256), "more than the 8192 bytes of SRAM"),
    ((2, 2, 4, 4, 4, "f16", "tiny"), "tiny"),
])
def test_bad_gemm_requests(args, needle):
    with pytest.raises((KernelError, ValueError), match=needle):
        plan_gemm(*args)


def test_bad_inputs_and_gemv_requests():
    gemm = Gemm(2, 2, 4, 4, 4)
    with pytest.raises(KernelError, match="shape"):
        gemm.inputs(np.zeros((4, 5), np.uint16), np.zeros((4, 4), np.uint16))
    with pytest.raises(KernelError, match="bit patterns"):
        gemm.inputs(np.zeros((4, 4), np.float32), np.zeros((4, 4), np.uint16))
    with pytest.raises(KernelError, match="density"):
        sparse_vector(np.random.default_rng(1), 8, 1.5)
    with pytest.raises(KernelError, match="SRAM"):
        plan_gemv(1, 1, 512, 512)
