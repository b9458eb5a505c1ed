"""cocotb job player for kernels on a generated tile mesh (hdl/mesh.py): the simulation host.

Plays the jobs that ``tb/gemm_host.py`` builds — management streams into the west edge, then data
wavelets into edge input links — and records the wavelets that leave the edge output links. All
checking of results happens in the caller (it has the golden model); this module checks the
protocol (FabricHarness monitors), the row error and halt flags, and that the expected number of
wavelets arrived before a watchdog.

Config (sdk.engines.verilator.tb_config()):
    jobs      path of a JSON list of jobs: {"load": {row: [[color, payload, ctrl], ...]},
              "inject": {link: [...]}, "expect": {link: {"color", "count"}}, "max_idle": cycles}
    results   path where a JSON list of {"outputs": {link: [...]}, "cycles", "load_cycles",
              "busy_rows": [fraction of cycles each row was not idle], "status", "pe_busy"} is
              written; "pe_busy" ({"busy": per PE, the fraction of the job's cycles it was not idle; "elems": vector
              elements completed per cycle}) only for jobs
              with "pe_counters" (the model must be a flat build: sdk.engines.models.mesh_model(engine="flat"))
    progress  print a progress line every this many cycles (0: never)

``cycles`` counts from the first data wavelet offered to the mesh to the cycle the last expected
output wavelet left it; loading (routes, program, per-PE words) is ``load_cycles``.
"""

from __future__ import annotations

import json
import random
import time

import cocotb

from golden.routing import Port
from hdl.profiles import get_profile
from sdk.engines.verilator import tb_config
from tb.fabric import FabricHarness

_SIDE = {"W": Port.W, "E": Port.E, "N": Port.N, "S": Port.S}


def link_of(name, rows, cols):
    """"W3" -> ((3, 0), Port.W) etc.: the edge link of that side and index."""
    side, idx = name[0], int(name[1:])
    pe = {"W": (idx, 0), "E": (idx, cols - 1), "N": (0, idx), "S": (rows - 1, idx)}[side]
    return pe, _SIDE[side]


async def play(h, job, rows, cols, log, progress=0):
    from tb.cocotb_tile_mesh import load_through_west_edge

    load_cycles = await load_through_west_edge(h, {int(r): [tuple(w) for w in s] for r, s in job["load"].items()})
    st = h.row_status()
    if any(st["err"]) or any(st["halted"]):
        raise AssertionError(f"error while loading: {st}")
    h.clear()
    busy0 = _pe_counts(h.dut, rows, cols) if job.get("pe_counters") else None
    for name, wavelets in job["inject"].items():
        drv = h.drivers[link_of(name, rows, cols)]
        for w in wavelets:
            drv.send(*w)
    expect = {link_of(n, rows, cols): (e["color"], e["count"]) for n, e in job["expect"].items()}
    mons = {link: h.monitors[link] for link in expect}

    def done_count():
        return sum(min(cnt, sum(1 for w in mons[link].received if w[0] == color))
                   for link, (color, cnt) in expect.items())

    total = sum(cnt for _, cnt in expect.values())
    start = h.cycle
    last_change, last_seen = h.cycle, (-1, -1)
    busy = [0] * rows
    t0 = time.monotonic()
    while True:
        await h.step()
        idle = h.row_status()["idle"]
        for r in range(rows):
            busy[r] += not idle[r]
        got = sum(len(m.received) for m in mons.values())
        moved = (got, h.transfers_in)
        if moved != last_seen:
            last_seen, last_change = moved, h.cycle
        if got >= total and done_count() >= total:
            break
        if (h.cycle - start) % 1024 == 0:
            st = h.row_status()
            if any(st["err"]) or any(st["halted"]):
                raise AssertionError(f"cycle {h.cycle - start}: a PE or router raised an error: {st}")
        if progress and (h.cycle - start) % progress == 0:
            log.info("  cycle %d: %d/%d result wavelets, %d data wavelets in, %.0f cycles/s",
                     h.cycle - start, done_count(), total, h.transfers_in, (h.cycle - start) / (time.monotonic() - t0))
        if h.cycle - last_change > job["max_idle"]:
            raise AssertionError(f"no progress for {job['max_idle']} cycles: {done_count()}/{total} result "
                                 f"wavelets, row status {h.row_status()}")
    cycles = h.cycle - start
    pe_busy = None
    if busy0 is not None:
        busy1 = _pe_counts(h.dut, rows, cols)
        pe_busy = {key: [[round((b1[key] - b0[key]) / max(1, cycles), 4) for b0, b1 in zip(r0, r1, strict=True)]
                         for r0, r1 in zip(busy0, busy1, strict=True)] for key in ("busy", "elems")}
    await h.run_cycles(8)
    st = h.row_status()
    if any(st["err"]) or any(st["halted"]):
        raise AssertionError(f"a PE or router raised an error: {st}")
    return {"outputs": {n: [list(w) for w in h.monitors[link_of(n, rows, cols)].received] for n in job["expect"]},
            "cycles": cycles, "load_cycles": load_cycles, "busy_rows": [b / max(1, cycles) for b in busy],
            "status": st, "wall_seconds": time.monotonic() - t0, "pe_busy": pe_busy}


def _pe_counts(dut, rows, cols):
    """Each PE's busy-cycle and vector-element counters (docs/pe.md), read from inside the tiles:
    possible only in a flat model (sdk.engines.models.mesh_model(engine="flat")), not a native-mesh one."""
    out = []
    for r in range(rows):
        row = []
        for c in range(cols):
            pe = dut.g_row[r].g_col[c].tile.pe
            row.append({"busy": pe.busy_cycles.value.to_unsigned(), "elems": pe.vec_elems.value.to_unsigned()})
        out.append(row)
    return out


@cocotb.test()
async def run_jobs(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    with open(cfg["jobs"]) as fh:
        jobs = json.load(fh)
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(cfg.get("seed", 1)))
    results = []
    for i, job in enumerate(jobs):
        await h.reset()
        h.clear()
        dut._log.info("job %d/%d: %s %s", i + 1, len(jobs), job.get("kind"), job.get("plan"))
        res = await play(h, job, rows, cols, dut._log, cfg.get("progress", 0))
        dut._log.info("job %d: %d cycles (load %d), %.1f s", i + 1, res["cycles"], res["load_cycles"],
                      res["wall_seconds"])
        results.append(res)
    with open(cfg["results"], "w") as fh:
        json.dump(results, fh)
