"""GEMM / sparse-GEMV cases end to end: data, golden result, mesh run, comparison, figures.

Shared by the regression (tests/test_gemm.py), ``make sim`` (tb/demo_gemm.py) and the benchmark
(bench/gemm.py). A *case* is one kernel run: its plan (tb/gemm_host.py), input bit patterns, the
golden result (golden/matmul.py) and the job the mesh plays (tb/cocotb_gemm.py).

Interface:
    gemm_case(rows, cols, m, k, n, dtype="f16", profile="small", seed=1, kind="normal") -> Case
    gemv_case(rows, cols, m, k, density, profile="small", seed=1) -> Case
    run_cases(cases, run_name, progress=0, waves=False, threads=1, pe_counters=False, model=None)
        -> [record dict]   (one simulator launch)
    record(case, result) -> record dict   (for other job players, e.g. fpga/host.py on a board)
    SUMMARY_KEYS, format_table(records) -> str
A record: the plan summary plus cycles, load_cycles, utilization (useful MACs / (PEs x lanes x
cycles)), bit_exact, mismatches, max_abs_err_f64 and f64_bound_ok, and for GEMV density, nonzeros.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from golden.matmul import float64_error, gemm_bits, gemv_bits, to_f64
from hdl.profiles import get_profile
from sdk.engines.models import mesh_model
from sdk.engines.verilator import BUILD, Model
from tb import gemm_host as host

__all__ = ["gemm_case", "gemv_case", "run_cases", "record", "format_table", "Case"]


@dataclass
class Case:
    name: str
    kind: str  # "gemm" | "gemv"
    plan: object
    inputs: dict
    golden: np.ndarray
    job: dict
    extra: dict = field(default_factory=dict)


def gemm_case(rows, cols, m, k, n, dtype="f16", profile="small", seed=1, kind="normal", name=None) -> Case:
    plan = host.plan_gemm(rows, cols, m, k, n, dtype, profile)
    rng = np.random.default_rng(seed)
    a = host.random_matrix(rng, (m, k), dtype, kind)
    b = host.random_matrix(rng, (k, n), dtype, kind)
    gold = gemm_bits(a, b, dtype, plan.k_pad)
    return Case(name or f"gemm-{dtype}-{m}x{k}x{n}-{kind}-s{seed}", "gemm", plan, {"a": a, "b": b}, gold,
                host.gemm_job(plan, a, b), {"seed": seed, "data": kind})


def gemv_case(rows, cols, m, k, density, profile="small", seed=1, name=None) -> Case:
    plan = host.plan_gemv(rows, cols, m, k, profile)
    rng = np.random.default_rng(seed)
    a = host.random_matrix(rng, (m, k), "f16")
    x = host.sparse_vector(rng, k, density)
    gold = gemv_bits(a, x, [(0, k)], [(0, k)])
    job = host.gemv_job(plan, a, x)
    return Case(name or f"gemv-{m}x{k}-d{density}-s{seed}", "gemv", plan, {"a": a, "x": x}, gold, job,
                {"seed": seed, "density": density, "nonzeros": job["nonzeros"]})


def record(case: Case, res: dict) -> dict:
    """The figures and checks of one played case (res: a job player's result)."""
    p = case.plan
    prof = get_profile(p.profile)
    rec = {"name": case.name, "kind": case.kind, **p.summary(), **case.extra,
           "cycles": res["cycles"], "load_cycles": res["load_cycles"], "wall_seconds": round(res["wall_seconds"], 2),
           "busy_rows": [round(b, 4) for b in res["busy_rows"]], "pe_busy": res.get("pe_busy")}
    if case.kind == "gemm":
        got = host.gemm_decode(p, res["outputs"])
        lanes = prof.simd_f16 // 2
        rec["utilization"] = round(p.useful_macs / (p.rows * p.cols * lanes * res["cycles"]), 4)
        rec["ideal_cycles"] = round(p.ideal_cycles())
        err, ok, bound = float64_error(got, case.inputs["a"], case.inputs["b"], p.dtype)
    else:
        got = host.gemv_decode(p, res["outputs"])
        a, x = case.inputs["a"], case.inputs["x"]
        err, ok, bound = float64_error(got[:, None], a, x[:, None], "f16")
        rec["dtype"] = "f16"
    bad = np.argwhere(got != case.golden)
    rec["bit_exact"] = bool(bad.size == 0)
    rec["mismatches"] = int(bad.shape[0])
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        rec["first_mismatch"] = {"index": idx, "got": f"{int(got[idx]):#010x}",
                                 "want": f"{int(case.golden[idx]):#010x}"}
    rec["max_abs_err_f64"] = err
    rec["f64_bound_ok"] = ok
    rec["f64_bound"] = bound
    rec["nan_outputs"] = int(np.isnan(to_f64(got, "f32")).sum())
    return rec


def run_cases(cases, run_name="gemm", progress=0, waves=False, threads=1, pe_counters=False,
              model: Model | None = None) -> list[dict]:
    """Play every case on one mesh (all cases must share rows, cols and profile). ``pe_counters``:
    use a flat build and record each PE's busy fraction ("pe_busy"). The mesh is
    sdk.engines.models.mesh_model's native one, or flat for ``pe_counters`` and ``waves``; ``model``
    plays on this model instead (it must be that mesh)."""
    shapes = {(c.plan.rows, c.plan.cols, c.plan.profile) for c in cases}
    if len(shapes) != 1:
        raise ValueError(f"cases for different meshes in one run: {sorted(shapes)}")
    rows, cols, profile = shapes.pop()
    model = model or mesh_model(rows, cols, profile, engine="flat" if pe_counters else "native", waves=waves,
                                threads=threads)
    run_dir = BUILD / "runs" / f"{model.name}-{model.key}" / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    jobs_path, results_path = run_dir / "jobs.json", run_dir / "results.json"
    jobs_path.write_text(json.dumps([dict(c.job, pe_counters=pe_counters) for c in cases]))
    if results_path.exists():
        results_path.unlink()
    model.run("tb.cocotb_gemm", testcase="run_jobs", run_name=run_name, waves=waves, console=bool(progress),
              config={"rows": rows, "cols": cols, "profile": profile, "jobs": str(jobs_path),
                      "results": str(results_path), "progress": progress})
    results = json.loads(results_path.read_text())
    out = [record(c, r) for c, r in zip(cases, results, strict=True)]
    if waves:
        for rec in out:
            rec["waves"] = str(run_dir / "dump.fst")
    return out


SUMMARY_KEYS = ("kind", "mesh", "profile", "shape", "dtype", "cycles", "utilization", "bit_exact", "max_abs_err_f64")


def format_table(records) -> str:
    head = f"{'kernel':6} {'mesh':6} {'profile':7} {'shape (MxKxN)':15} {'dtype':5} {'density':>7} {'cycles':>9} " \
           f"{'MAC util':>8} {'bit-exact':>9} {'max err vs f64':>14}"
    lines = [head, "-" * len(head)]
    for r in records:
        shape = f"{r['M']}x{r['K']}x{r.get('N', 1)}"
        util = f"{100 * r['utilization']:.1f}%" if "utilization" in r else "-"
        dens = f"{r['density']:.2f}" if "density" in r else "-"
        lines.append(f"{r['kind']:6} {r['rows']}x{r['cols']:<4} {r['profile']:7} {shape:15} {r['dtype']:5} {dens:>7} "
                     f"{r['cycles']:>9} {util:>8} {'yes' if r['bit_exact'] else 'NO':>9} {r['max_abs_err_f64']:>14.3g}")
    return "\n".join(lines)
