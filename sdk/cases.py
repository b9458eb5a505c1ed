"""GEMM and sparse-GEMV runs with test data, checked against the golden models: what ``make sim``,
the regression and the GEMM benchmark share.

A *case* is one kernel run: the kernel (sdk/kernels/gemm.py or gemv.py), its input bit patterns and
what identifies the data (seed, kind, density). Running it on a Runtime gives a KernelRecord: the
plan, cycles, load cycles, MAC utilisation (useful MACs / (PEs x lanes x cycles)), bit-exact against
golden/matmul.py, the largest error against float64 and whether it is within the bound.

A case is the kernel protocol ``run_case`` and ``run_cases`` drive; each kernel's subclass
(``GemmCase``, ``GemvCase``) fills it in with its inputs:
    .name  .kind ("gemm" | "gemv", the record's kind)  .kernel  .inputs  .extra  .plan
    .layout() -> Layout                    what the runtime loads (the GEMV's carries A)
    .feeds() -> {EdgeLink: (color, [(payload, ctrl)])}   the data streamed into the edge
    .expect() -> {EdgeLink: (color, count)}   the read-out's wavelets per edge link
    .decode(received) -> result bits       (sdk/readout.py: the framed read-out)
    .operands() -> tuple                   the kernel's operands (A and B, or A and x)
    .golden() -> result bits               golden/matmul.py's
    .outputs(result) -> {EdgeLink: [Wavelet]}   what a correct mesh sends for a result
    .run(rt, progress=0, counters=False, trace=None) -> (result bits, RunResult)
    .check(result) -> figures              bit-exact, float64 error and bound, NaN outputs
    .figures(result, run) -> figures       the kernel's own (utilisation, padded MACs, ...)

Interface:
    gemm_case(rows, cols, m, k, n, dtype="f16", profile="small", seed=1, kind="normal", name=None) -> Case
    gemv_case(rows, cols, m, k, density, profile="small", seed=1, name=None) -> Case
    run_case(rt, case, progress=0, counters=False, trace=None) -> KernelRecord
    run_cases(cases, engine="native", progress=0, counters=False, trace=None, **engine_options)
        -> [KernelRecord]
        every case on one Runtime (all cases share rows, cols and profile); counters: the tiles'
        activity over each run (native and flat engines): the record's figures "activity" (an
        sdk/activity.py Activity dict), "pe_vec_busy" (per PE: vector-busy cycles / cycles) and
        "macs_counted" (fmac lane operations, every PE), and ``record.activity`` (the Activity);
        trace (an sdk/trace.py TraceSpec): the first case's timeline in ``record.trace``
    format_table(records) -> str
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import readout
from .kernels.common import random_matrix, sparse_vector
from .kernels.gemm import Gemm
from .kernels.gemv import Gemv
from .layout import Layout
from .records import KernelRecord, SdkError
from .runtime import Runtime

__all__ = ["Case", "GemmCase", "GemvCase", "gemm_case", "gemv_case", "run_case", "run_cases", "format_table"]


@dataclass
class Case:
    """One kernel run with its test data; a subclass per kernel fills in the protocol."""
    name: str
    kind: str  # "gemm" | "gemv"
    kernel: object
    inputs: dict
    extra: dict = field(default_factory=dict)

    @property
    def plan(self):
        return self.kernel.plan

    def layout(self) -> Layout:
        raise NotImplementedError

    def feeds(self) -> dict:
        raise NotImplementedError

    def expect(self) -> dict:
        return self.kernel.expect()

    def decode(self, received: dict) -> np.ndarray:
        return self.kernel.decode(received)

    def operands(self) -> tuple:
        """The kernel's operands, in the order its golden, run and check take them."""
        raise NotImplementedError

    def golden(self) -> np.ndarray:
        return self.kernel.golden(*self.operands())

    def outputs(self, result) -> dict:
        return readout.encode(self.kernel.frames(), self.kernel.blocks(result))

    def run(self, rt: Runtime, progress: int = 0, counters: bool = False, trace=None):
        return self.kernel.run(rt, *self.operands(), progress=progress, counters=counters, trace=trace)

    def check(self, result) -> dict:
        return self.kernel.check(result, *self.operands())

    def figures(self, result, run) -> dict:
        return {}


class GemmCase(Case):
    def layout(self) -> Layout:
        return self.kernel.layout()

    def feeds(self) -> dict:
        return {link: (color, [(pl, 0) for pl in payloads])
                for link, (color, payloads) in self.kernel.inputs(self.inputs["a"], self.inputs["b"]).items()}

    def operands(self) -> tuple:
        return self.inputs["a"], self.inputs["b"]

    def figures(self, result, run) -> dict:
        p = self.plan
        return {"utilization": (round(p.useful_macs / (p.rows * p.cols * p.lanes * run.cycles), 4)
                                if run.cycles else None),
                "ideal_cycles": round(p.ideal_cycles()), "padded_macs": p.padded_macs}


class GemvCase(Case):
    def layout(self) -> Layout:
        return self.kernel.layout(self.inputs["a"])

    def feeds(self) -> dict:
        return self.kernel.inputs(self.inputs["x"])

    def operands(self) -> tuple:
        return self.inputs["a"], self.inputs["x"]

    def figures(self, result, run) -> dict:
        return {"dtype": "f16"}


def gemm_case(rows, cols, m, k, n, dtype="f16", profile="small", seed=1, kind="normal", name=None) -> Case:
    kernel = Gemm(rows, cols, m, k, n, dtype, profile)
    rng = np.random.default_rng(seed)
    a = random_matrix(rng, (m, k), dtype, kind)
    b = random_matrix(rng, (k, n), dtype, kind)
    return GemmCase(name or f"gemm-{dtype}-{m}x{k}x{n}-{kind}-s{seed}", "gemm", kernel, {"a": a, "b": b},
                {"seed": seed, "data": kind})


def gemv_case(rows, cols, m, k, density, profile="small", seed=1, name=None) -> Case:
    kernel = Gemv(rows, cols, m, k, profile)
    rng = np.random.default_rng(seed)
    a = random_matrix(rng, (m, k), "f16")
    x = sparse_vector(rng, k, density)
    return GemvCase(name or f"gemv-{m}x{k}-d{density}-s{seed}", "gemv", kernel, {"a": a, "x": x},
                {"seed": seed, "density": density, "nonzeros": Gemv.nonzeros(x)})


def run_case(rt: Runtime, case: Case, progress: int = 0, counters: bool = False, trace=None) -> KernelRecord:
    t0 = time.monotonic()
    load_before = rt.load_cycles
    got, res = case.run(rt, progress=progress, counters=counters, trace=trace)
    figures = case.check(got)
    p = case.plan
    summary = p.summary()
    rec = KernelRecord(case.name, case.kind, p.rows, p.cols, p.profile, rt.engine.name, res.cycles,
                       rt.load_cycles - load_before if res.cycles is not None else None,
                       figures.pop("bit_exact"), figures.pop("mismatches"), figures.pop("first_mismatch"),
                       round(time.monotonic() - t0, 2))
    rec.figures = {**{k: v for k, v in summary.items() if k not in ("rows", "cols", "profile")}, **case.extra,
                   "busy_rows": [round(b, 4) for b in res.busy_rows] if res.busy_rows else None}
    rec.activity = res.activity
    rec.trace = res.trace
    if res.activity is not None:
        act = res.activity
        rec.figures["pe_vec_busy"] = np.round(act.counters["vec_busy"] / max(1, act.cycles), 4).tolist()
        rec.figures["macs_counted"] = int(act.macs.sum())
        rec.figures["activity"] = act.to_dict()
    rec.figures.update(case.figures(got, res))
    rec.figures.update(figures)
    return rec


def run_cases(cases, engine="native", progress: int = 0, counters: bool = False, trace=None,
              **engine_options) -> list:
    """Play every case on one Runtime (one simulator launch for the Verilator engines)."""
    shapes = {(c.plan.rows, c.plan.cols, c.plan.profile) for c in cases}
    if len(shapes) != 1:
        raise SdkError(f"cases for different meshes in one run: {sorted(shapes)}")
    first = cases[0]
    layout = first.layout()
    if progress and isinstance(engine, str):
        engine_options.setdefault("console", True)  # the simulator's progress lines on the terminal
    out = []
    with Runtime(layout, engine=engine, **engine_options) as rt:
        for i, case in enumerate(cases):
            rt.note(f"job {i + 1}/{len(cases)}: {case.kind} {case.plan.summary()}")
            rec = run_case(rt, case, progress=progress, counters=counters, trace=trace if i == 0 else None)
            rt.note(f"job {i + 1}: {rec.cycles} cycles (load {rec.load_cycles}), {rec.wall_seconds:.1f} s")
            out.append(rec)
        if getattr(rt.engine, "waves_path", None):
            for rec in out:
                rec.figures["waves"] = str(rt.engine.waves_path)
    return out


def format_table(records) -> str:
    head = f"{'kernel':6} {'mesh':6} {'profile':7} {'shape (MxKxN)':15} {'dtype':5} {'density':>7} {'cycles':>9} " \
           f"{'MAC util':>8} {'bit-exact':>9} {'max err vs f64':>14}"
    lines = [head, "-" * len(head)]
    for r in records:
        shape = f"{r['M']}x{r['K']}x{r.get('N', 1)}"
        util = f"{100 * r['utilization']:.1f}%" if r.get("utilization") is not None else "-"
        dens = f"{r['density']:.2f}" if r.get("density") is not None else "-"
        cycles = r["cycles"] if r["cycles"] is not None else "-"
        lines.append(f"{r['kind']:6} {r['rows']}x{r['cols']:<4} {r['profile']:7} {shape:15} {r['dtype']:5} {dens:>7} "
                     f"{cycles:>9} {util:>8} {'yes' if r['bit_exact'] else 'NO':>9} {r['max_abs_err_f64']:>14.3g}")
    return "\n".join(lines)
