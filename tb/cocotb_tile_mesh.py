"""cocotb tests of a generated tile mesh (hdl/mesh.py): everything through the mesh edge.

``front_door_routing``: loads route tables through the west edge on the management color
(sdk/loader.py builds the streams), checks the management traffic that leaves the east edge against
the golden routing model, then runs edge-to-edge multicast patterns on five colors under random
idles and backpressure and checks every edge exit against the golden model. Records the load time
in cycles. Works for PE tiles and fabric-only tiles (the config says which).
"""

from __future__ import annotations

import copy
import json
import random

import cocotb

from golden.route_patterns import edge_patterns
from golden.routing import MeshRoutes, Port, simulate
from hdl.profiles import get_profile
from sdk.engines.verilator import tb_config
from sdk.loader import MeshLoader, management_routes
from tb.fabric import FabricHarness
from tb.scoreboard import compare_fabric


def _edge_only(exit_):
    return exit_[1] != Port.RAMP


async def load_through_west_edge(h, streams, max_cycles=1_000_000, log=None, progress_every=0) -> int:
    """Send every row's management stream ({row: [(color, payload, ctrl)]}, e.g. MeshLoader.streams())
    into its west-edge link and wait until every row's
    management echo has left its east edge (the management color's reset route passes each
    wavelet along the whole row, docs/mesh.md), i.e. every tile has seen its last write; return
    the cycles from the first wavelet offered to the last echo. With ``log`` and ``progress_every``,
    report progress every that many cycles (large meshes load for minutes)."""
    want = {}
    for r, stream in streams.items():
        for w in stream:
            h.drivers[((r, 0), Port.W)].send(*w)
        want[r] = (len(stream), stream[0][0] if stream else None)
    start = h.cycle
    last = start

    def echoed(r):
        n, color = want[r]
        return sum(1 for w in h.monitors[((r, h.cols - 1), Port.E)].received if w[0] == color) >= n

    pending = {r for r in want if want[r][0]}
    while pending:
        await h.step()
        done = {r for r in pending if echoed(r)}
        if done:
            last = h.cycle
            pending -= done
        if progress_every and log and (h.cycle - start) % progress_every == 0:
            log.info("loading: cycle %d, %d of %d rows echoed", h.cycle - start, len(want) - len(pending), len(want))
        if h.cycle - start > max_cycles:
            raise AssertionError(f"management streams not echoed after {max_cycles} cycles: rows {sorted(pending)}")
    await h.run_until_idle(quiet=16)
    return last - start


@cocotb.test()
async def front_door_routing(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    rng = random.Random(cfg.get("seed", 1))
    M = prof.mgmt_color
    mesh, sources = edge_patterns(rows, cols, prof.colors, avoid=(M,))
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    h = FabricHarness(dut, rows, cols, prof.colors, rng)
    await h.reset()

    # 1. load the routes through the west edge
    load_cycles = await load_through_west_edge(h, loader.streams())
    reset_state = management_routes(MeshRoutes(rows, cols, prof.colors), prof)
    echo = compare_fabric(simulate(reset_state, h.injections()), h.observed(), observable=_edge_only)
    assert all(v == 0 for v in h.row_status()["err"]), f"error after loading: {h.row_status()}"
    h.clear()

    # 2. traffic on the loaded routes
    golden_mesh = management_routes(copy.deepcopy(mesh), prof)
    h.start_noise(idle_prob=cfg.get("idle", 0.2), stall_prob=cfg.get("stall", 0.2))
    total = cfg.get("wavelets", 20_000)
    seq = {}
    for n in range(total):
        link, color = sources[n % len(sources)]
        k = seq.get((link, color), 0)
        seq[(link, color)] = k + 1
        h.drivers[link].send(color, ((n % len(sources)) << 24 | k << 2) & 0xFFFFFFFF)
    cycles = await h.run_until_idle(max_cycles=100 * total)
    summary = compare_fabric(simulate(golden_mesh, h.injections()), h.observed(), observable=_edge_only)
    status = h.row_status()
    assert all(v == 0 for v in status["err"]), f"error flags raised: {status}"
    report = {"rows": rows, "cols": cols, "profile": prof.name, "core": cfg.get("core", True),
              "load_wavelets": sum(len(s) for s in loader.streams().values()),
              "load_cycles": load_cycles, "mgmt_echo_checked": echo["wavelets_checked"],
              "wavelets_injected": total, "deliveries_checked": summary["wavelets_checked"], "cycles": cycles}
    if cfg.get("report"):
        with open(cfg["report"], "w") as fh:
            json.dump(report, fh, indent=2)
    dut._log.info("tile mesh: %s", report)


@cocotb.test()
async def clock_run(dut):
    """Simulation speed: W -> E routes loaded through the management path, then every row streams
    wavelets across the mesh for ``cycles`` cycles. Reports the wall time of that stretch."""
    import time

    from golden.route_patterns import edge_to_edge

    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols, cycles = cfg["rows"], cfg["cols"], cfg.get("cycles", 2000)
    color = 0 if prof.mgmt_color != 0 else 1
    mesh = MeshRoutes(rows, cols, prof.colors)
    sources = edge_to_edge(mesh, color)
    loader = MeshLoader(rows, cols, prof)
    loader.routes(mesh)
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(1))
    # progress about every 30 s of wall time at ~150,000 PE-cycles/s (silent on small meshes)
    every = max(1, 5_000_000 // (rows * cols)) if rows * cols >= 16_384 else 0
    await h.reset()
    load_cycles = await load_through_west_edge(h, loader.streams(), log=dut._log, progress_every=every)
    load_wavelets = sum(len(s) for s in loader.streams().values())
    h.clear()
    for link, c in sources:
        for k in range(cycles):
            h.drivers[link].send(c, k << 2)
    t0 = time.monotonic()
    for k in range(cycles):
        await h.step()
        if every and (k + 1) % every == 0:
            dut._log.info("streaming: cycle %d of %d, %.0f PE-cycles/s", k + 1, cycles,
                          (k + 1) * rows * cols / (time.monotonic() - t0))
    wall = time.monotonic() - t0
    delivered = sum(len(v) for v in h.observed().values())
    assert delivered >= rows * (cycles - cols - 8), f"only {delivered} wavelets crossed the mesh"
    with open(cfg["report"], "w") as fh:
        json.dump({"cycles": cycles, "wall_seconds": wall, "delivered": delivered, "load_cycles": load_cycles,
                   "load_wavelets": load_wavelets}, fh)


@cocotb.test()
async def front_door_program(dut):
    """End to end through the edge: routes and one program (broadcast) are loaded through the west
    edge; each input wavelet is row-broadcast to every PE, whose data task sends payload + 1 east
    along the row; the east edge must receive exactly cols copies of x + 1 for every x."""
    from collections import Counter

    from tb.kernels import row_echo_setup

    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    cin, cout = 1, 2
    _, _, streams = row_echo_setup(rows, cols, prof.name, cin, cout)
    h = FabricHarness(dut, rows, cols, prof.colors, random.Random(cfg.get("seed", 1)))
    await h.reset()
    load_cycles = await load_through_west_edge(h, streams)
    h.clear()
    h.start_noise(idle_prob=0.2, stall_prob=0.2)
    n = cfg.get("per_row", 50)
    for r in range(rows):
        for k in range(n):
            h.drivers[((r, 0), Port.W)].send(cin, (r << 16) + k * 3)
    cycles = await h.run_until_idle(quiet=64)
    for r in range(rows):
        got = Counter(h.monitors[((r, cols - 1), Port.E)].received)
        want = Counter({(cout, (r << 16) + k * 3 + 1, 0): cols for k in range(n)})
        assert got == want, f"row {r}: east edge got {sum(got.values())} wavelets, want {sum(want.values())}; " \
                            f"missing {list((want - got).elements())[:4]} extra {list((got - want).elements())[:4]}"
    status = h.row_status()
    assert not any(status["err"]) and not any(status["halted"]), status
    dut._log.info("front-door program: %d wavelets loaded in %d cycles; %d results checked in %d cycles",
                  sum(len(s) for s in streams.values()), load_cycles, rows * cols * n, cycles)
