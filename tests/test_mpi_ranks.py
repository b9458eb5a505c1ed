"""The native mesh on MPI ranks (sdk/builds/mpi_ranks.py, native_mesh_ranks.h; docs/mesh.md).

A mesh cut into bands of rows over 2 ranks, and over 3 ranks on this 2-core machine (oversubscribed,
and with bands of unequal height), must be the same machine as one process: the same front-door
routing run with random stalls (every delivery checked against the golden routing model, the same
cycle count, the same row status), the same GEMM and sparse-GEMV jobs (the same bits and cycles, the
same activity counters and status), and the same PE error reported in the same cycles. A worker
rank that dies, hangs or sends a malformed boundary message stops the run with an error naming the
rank and the cycle. Bad rank counts are refused before anything is built.
"""

from __future__ import annotations

import json

import pytest

from sdk.builds.engine_builds import mesh_build
from sdk.cases import gemm_case, gemv_case, run_case, run_cases
from sdk.records import DeviceError, SdkError
from sdk.runtime import Runtime
from tb.builds import run_cocotb

pytestmark = pytest.mark.sim

ROWS, COLS = 5, 3  # 3 ranks: bands of 1, 2 and 2 rows


def _routing(ranks: int) -> dict:
    build = mesh_build(ROWS, COLS, "small", core=False, ranks=ranks)
    run_dir = run_cocotb(build, "tb.cocotb_tile_mesh", "front_door_routing", profile="small", rows=ROWS, cols=COLS,
                         core=False, wavelets=3_000, seed=9, report=f"ranks{ranks}.json")
    return json.loads((run_dir / f"ranks{ranks}.json").read_text())


@pytest.mark.xdist_group("mpi_ranks")
def test_front_door_routing_on_ranks_is_identical():
    one = _routing(1)
    assert one["deliveries_checked"] > 0
    for ranks in (2, 3):
        assert _routing(ranks) == one, f"{ranks} ranks"


def _jobs(ranks: int, **env) -> list:
    cases = [gemm_case(ROWS, COLS, 17, 12, 14, "f16", seed=41), gemm_case(ROWS, COLS, 9, 10, 7, "f32", seed=42),
             gemv_case(ROWS, COLS, 13, 18, 0.5, seed=43)]
    build = mesh_build(ROWS, COLS, "small", ranks=ranks)
    keys = ("name", "cycles", "load_cycles", "bit_exact", "mismatches")
    return [{k: r[k] for k in keys} for r in run_cases(cases, build=build, run_name=f"ranks-{ranks}")]


@pytest.mark.xdist_group("mpi_ranks")
def test_gemm_and_gemv_on_ranks_are_identical():
    one = _jobs(1)
    assert all(r["bit_exact"] for r in one), one
    for ranks in (2, 3):
        assert _jobs(ranks) == one, f"{ranks} ranks"


@pytest.mark.xdist_group("mpi_ranks")
def test_status_and_probe_on_ranks_are_identical():
    """The row status and every tile's activity counters (gathered from the worker ranks) after a
    GEMM: the same as one process."""
    case = gemm_case(ROWS, COLS, 11, 8, 9, "f16", seed=44)
    got = {}
    for ranks in (1, 2):
        layout = case.kernel.layout()
        with Runtime(layout, build=mesh_build(ROWS, COLS, "small", ranks=ranks), run_name=f"status-{ranks}") as rt:
            rec = run_case(rt, case)
            act = rt.activity()
            got[ranks] = (rec.cycles, rt.status(), {k: v.tolist() for k, v in act.counters.items()},
                          act.pe_status.tolist(), act.router_errors.tolist())
    assert any(any(map(any, v)) for v in got[1][2].values()), "no counter counted anything"
    assert got[2] == got[1]


@pytest.mark.slow
@pytest.mark.xdist_group("mpi_ranks")
def test_error_flags_on_ranks_are_identical():
    """tb/cocotb_tile_mesh.py ``fault_report`` on a 2 x 3 PE mesh: the PE at (1, 1), on the second
    rank's band, halts on an out-of-range store; the rows' err flags and fault words, and the cycles
    they appear in, are those of one process."""
    reps = {}
    for ranks in (1, 2):
        run_dir = run_cocotb(mesh_build(2, 3, "small", ranks=ranks), "tb.cocotb_tile_mesh", "fault_report",
                             profile="small", rows=2, cols=3, core=True, report=f"fault{ranks}.json")
        reps[ranks] = json.loads((run_dir / f"fault{ranks}.json").read_text())
    assert reps[1]["final"][1]["valid"] == 1
    assert reps[2] == reps[1]


@pytest.mark.xdist_group("mpi_ranks")
@pytest.mark.parametrize("fault,needle", [
    ("die", r"MPI rank 1: died of signal 11 .* at cycle 200"),
    ("hang", r"cycle 200: no RDY message from rank 1 within 3 s"),
    ("corrupt", r"cycle 200: malformed OUT message from rank 1: bad magic"),
])
def test_a_failing_rank_stops_the_run_naming_rank_and_cycle(fault, needle, monkeypatch):
    monkeypatch.setenv("TESSERA_MPI_FAULT", f"1:200:{fault}")
    monkeypatch.setenv("TESSERA_MPI_TIMEOUT", "3")
    case = gemm_case(ROWS, COLS, 17, 12, 14, "f16", seed=41)
    with pytest.raises(DeviceError, match=needle):
        run_cases([case], build=mesh_build(ROWS, COLS, "small", ranks=2), run_name=f"fault-{fault}")


@pytest.mark.parametrize("ranks,engine,needle", [
    (0, "native", "must be a positive integer"),
    (6, "native", "at most one rank per row"),
    (True, "native", "must be a positive integer"),
    (2, "hierarchical", "only the native engine"),
])
def test_bad_ranks_are_refused_before_building(ranks, engine, needle):
    with pytest.raises(ValueError, match=needle):
        mesh_build(ROWS, COLS, "small", engine=engine, ranks=ranks)
    if engine == "native":
        case = gemm_case(ROWS, COLS, 8, 8, 8, "f16", seed=1)
        with pytest.raises(SdkError, match=needle):
            Runtime(case.kernel.layout(), ranks=ranks)
