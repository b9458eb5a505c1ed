"""cocotb measurements for bench/fabric.py on a 1 x N router line (hdl/router_mesh.py).

Writes a JSON object to the path in the config's "report":
    hop_latency_cycles               cycles per extra router on an idle line (slope of latency)
    latency_by_routers               {routers traversed: cycles from input valid to output valid}
    single_color_wavelets_per_cycle  one color, W edge to E edge through every router, long stream
    shared_link_wavelets_per_cycle   every color of the profile, fed from four inputs of router 0,
                                     sharing its east link
    fairness_max_min_ratio           most- over least-served color on that shared link
"""

from __future__ import annotations

import json
import random

import cocotb

from golden.routing import ColorRoute, MeshRoutes, Port, simulate, zero_load_latency
from hdl.profiles import get_profile
from sdk.engines.verilator import tb_config
from tb.fabric import FabricHarness
from tb.scoreboard import compare_fabric


def _line_to_ramp(cols, colors, color, dest):
    """Color `color`: RAMP of router 0 eastward to the RAMP of router `dest`."""
    m = MeshRoutes(1, cols, colors)
    m.set((0, 0), color, ColorRoute.simple([Port.RAMP], [Port.RAMP] if dest == 0 else [Port.E]))
    for c in range(1, dest + 1):
        m.set((0, c), color, ColorRoute.simple([Port.W], [Port.RAMP] if c == dest else [Port.E]))
    return m


async def _latency(h, mesh, color, dest):
    await h.configure(mesh)
    drv = h.drivers[((0, 0), Port.RAMP)]
    mon = h.monitors[((0, dest), Port.RAMP)]
    drv.send(color, 0x1234)
    sent_at = None
    for _ in range(100):
        before = drv.sent
        await h.step()
        if sent_at is None and drv.sent > before:
            sent_at = h.cycle
        if mon.received:
            got = h.cycle - sent_at
            h.clear()
            return got
    raise AssertionError("latency probe never arrived")


@cocotb.test()
async def fabric_figures(dut):
    cfg = tb_config()
    prof = get_profile(cfg["profile"])
    cols = cfg["cols"]
    h = FabricHarness(dut, 1, cols, prof.colors, random.Random(1))
    await h.reset()
    out = {"profile": prof.name, "colors": prof.colors, "line_routers": cols}

    # Zero-load latency through 1..cols routers, each on its own color-route, checked against the
    # golden model's prediction (routers traversed).
    lat = {}
    for dest in range(cols):
        mesh = _line_to_ramp(cols, prof.colors, 0, dest)
        got = await _latency(h, mesh, 0, dest)
        want = zero_load_latency(mesh, (0, 0), Port.RAMP, 0)[((0, dest), Port.RAMP)]
        assert got == want, f"latency through {dest + 1} routers: {got} cycles, golden model says {want}"
        lat[dest + 1] = got
        await h.reset()
    out["latency_by_routers"] = lat
    out["hop_latency_cycles"] = (lat[cols] - lat[1]) / (cols - 1) if cols > 1 else float(lat[1])

    # One color streaming W edge -> E edge through every router.
    n = cfg.get("stream", 4000)
    mesh = MeshRoutes(1, cols, prof.colors)
    for c in range(cols):
        mesh.set((0, c), 1, ColorRoute.simple([Port.W], [Port.E]))
    await h.configure(mesh)
    for k in range(n):
        h.drivers[((0, 0), Port.W)].send(1, k << 2)
    mon = h.monitors[((0, cols - 1), Port.E)]
    first = last = None
    while len(mon.received) < n:
        await h.step()
        if first is None and mon.received:
            first = h.cycle
        last = h.cycle
        assert h.cycle < 10 * n, "stream stalled"
    out["single_color_wavelets_per_cycle"] = round((n - 1) / (last - first), 4)
    compare_fabric(simulate(mesh, h.injections()), h.observed())
    h.clear()
    await h.reset()

    # Every color fed from four inputs of router 0, sharing router 0's east link, ending at
    # router 1's RAMP. Measured at router 1's RAMP output over a window where all are backlogged.
    inputs = [Port.RAMP, Port.N, Port.S, Port.W]
    mesh = MeshRoutes(1, cols, prof.colors)
    for c in range(prof.colors):
        mesh.set((0, 0), c, ColorRoute.simple([inputs[c % 4]], [Port.E]))
        mesh.set((0, 1), c, ColorRoute.simple([Port.W], [Port.RAMP]))
    await h.configure(mesh)
    per_color = cfg.get("shared_per_color", 400)
    for c in range(prof.colors):
        for k in range(per_color):
            h.drivers[((0, 0), inputs[c % 4])].send(c, (c << 24) | (k << 2))
    mon = h.monitors[((0, 1), Port.RAMP)]
    await h.run_cycles(16)  # fill the pipeline
    start_n, start_c = len(mon.received), h.cycle
    window = per_color * prof.colors // 2
    await h.run_cycles(window)
    got = mon.received[start_n:]
    counts = [sum(1 for w in got if w[0] == c) for c in range(prof.colors)]
    out["shared_link_wavelets_per_cycle"] = round(len(got) / (h.cycle - start_c), 4)
    out["shared_link_per_color_counts"] = counts
    out["fairness_max_min_ratio"] = round(max(counts) / max(1, min(counts)), 4)
    await h.run_until_idle()
    compare_fabric(simulate(mesh, h.injections()), h.observed())
    with open(cfg["report"], "w") as fh:
        json.dump(out, fh, indent=2)
    dut._log.info("fabric figures: %s", out)
