"""What kernel runs did and cost: heat maps, energy and a wafer projection from their activity.

Shared by ``make sim`` (demo/gemm.py) and the benchmarks (bench/gemm.py, bench/energy.py). Takes
KernelRecords run with ``counters=True`` (sdk/cases.py: ``record.activity``), prices them
with the energy model (sdk/energy.py), draws the per-PE pictures (sdk/plots.py) and writes a
timeline trace when the record has one (sdk/trace.py).

Interface:
    useful_macs(record) -> int            the kernel's own MACs: M.K.N (GEMM), M x nonzeros (GEMV)
    energy_of(record, model, freq_hz=850e6) -> EnergyReport
    observe(records, outdir, model=None, prefix="", freq_hz=850e6, log=print) -> dict
        for each record: heat maps (vector busy, SRAM traffic, MACs, instructions) and the link map,
        its energy report (added to the record's figures as "energy"); a stacked bar of the
        energy by component of every record; the wafer projection of the first GEMM (750 x 994
        PEs of the wse profile); the trace of any record that has one. Returns
        {"pictures": {...}, "energy": {name: report dict}, "wafer": projection | None,
         "trace": path | None}
"""

from __future__ import annotations

from pathlib import Path

from .energy import EnergyModel, EnergyReport
from .plots import activity_maps, energy_bar
from .trace import write_trace

__all__ = ["useful_macs", "energy_of", "observe"]


def useful_macs(record) -> int:
    if record["kind"] == "gemm":
        return record["M"] * record["K"] * record["N"]
    return record["M"] * record["nonzeros"]


def energy_of(record, model: EnergyModel, freq_hz: float = 850e6) -> EnergyReport:
    if record.activity is None:
        raise ValueError(f"{record.name}: no activity counters (run it with counters=True)")
    return model.report(record.activity, profile=record.profile, useful_macs=useful_macs(record), freq_hz=freq_hz)


def observe(records, outdir, model: EnergyModel | None = None, prefix: str = "", freq_hz: float = 850e6,
            log=print) -> dict:
    model = model or EnergyModel()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = {"pictures": {}, "energy": {}, "wafer": None, "trace": None}
    bars = {}
    for rec in records:
        tag = f"{prefix}{rec['kind']}"
        maps = activity_maps(rec.activity, outdir, tag)
        out["pictures"][rec.name] = {k: str(v) for k, v in maps.items()}
        rep = energy_of(rec, model, freq_hz)
        rec.figures["energy"] = rep.to_dict()
        out["energy"][rec.name] = rep.to_dict()
        bars[f"{rec['kind']} {rec['M']}x{rec['K']}" + (f"x{rec['N']}" if rec["kind"] == "gemm" else "")] = rep.breakdown
        log(f"\n{rec.name}:\n  " + rep.format().replace("\n", "\n  "))
        if rec.trace is not None:
            path = write_trace(outdir / f"{tag}_trace.json", rec.trace, clock_hz=freq_hz, name=rec.name)
            out["trace"] = str(path)
            log(f"  timeline trace: {path} (open it in https://ui.perfetto.dev)")
        if rec["kind"] == "gemm" and out["wafer"] is None:
            out["wafer"] = model.wafer_projection(rec.activity, profile="wse", freq_hz=freq_hz)
    if bars:
        out["pictures"]["energy"] = str(energy_bar(bars, outdir / f"{prefix}energy.png"))
    if out["wafer"] is not None:
        w = out["wafer"]
        log(f"\nwafer projection ({w['rows']} x {w['cols']} PEs, profile {w['profile']}, "
            f"{w['freq_hz'] / 1e6:g} MHz, every PE at this GEMM's mean rates): {w['watts'] / 1e3:.2f} kW, "
            f"{w['tflops']:.0f} TFLOPS; the public CS-3 system figure is ~{w['public_system_watts'] / 1e3:g} kW "
            "(system, I/O, power delivery and cooling included; see docs/observability.md)")
    log(f"pictures: {outdir}/{prefix}*.png")
    return out
