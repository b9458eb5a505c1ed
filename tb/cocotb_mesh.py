"""cocotb tests of a router-only mesh (hdl/router_mesh.py) against the golden routing model.

Route patterns (golden/route_patterns.py) run on several colors at once: row broadcast, column
broadcast, a multicast tree from the north edge, a reverse row broadcast, a many-to-one merge and
edge-to-edge flows. The random test drives them with random idles and random per-color
backpressure and checks every exit: nothing lost, nothing duplicated, order kept per flow.
"""

from __future__ import annotations

import json
import random

import cocotb

from golden.route_patterns import standard_patterns
from golden.routing import simulate
from hdl.profiles import get_profile
from sdk.engines.verilator import tb_config
from tb.fabric import FabricHarness
from tb.scoreboard import compare_fabric


def _payload(source_id, seq):
    # low 2 bits 0: data wavelets carry no switch command; source in the top byte
    return ((source_id & 0xFF) << 24 | (seq & 0x3FFFFF) << 2) & 0xFFFFFFFF


@cocotb.test()
async def random_multicast_patterns(dut):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rows, cols = cfg["rows"], cfg["cols"]
    total = cfg.get("wavelets", 100_000)
    rng = random.Random(cfg.get("seed", 1))
    mesh, sources = standard_patterns(rows, cols, prof.colors)
    mesh.validate()
    h = FabricHarness(dut, rows, cols, prof.colors, rng)
    await h.reset()
    await h.configure(mesh)
    h.start_noise(idle_prob=cfg.get("idle", 0.2), stall_prob=cfg.get("stall", 0.2))

    # Sources take turns so every flow interleaves with every other; each wavelet is tagged.
    ids = {src: i for i, src in enumerate(sources)}
    seq = {src: 0 for src in sources}
    for n in range(total):
        link, color = sources[n % len(sources)] if n < len(sources) else rng.choice(sources)
        src = (link, color)
        h.drivers[link].send(color, _payload(ids[src], seq[src]))
        seq[src] += 1
    prof_py = None
    if cfg.get("pyprofile"):
        import cProfile
        prof_py = cProfile.Profile()
        prof_py.enable()
    cycles = await h.run_until_idle(max_cycles=50 * total, progress_every=cfg.get("progress", 0), log=dut._log)
    if prof_py:
        prof_py.disable()
        prof_py.dump_stats(cfg["pyprofile"])
    golden = simulate(mesh, h.injections())
    summary = compare_fabric(golden, h.observed(), h.status())
    assert h.transfers_in == total, f"{h.transfers_in} of {total} injected"
    assert all(err == 0 and drops == 0 for drops, err in h.status().values()), h.status()
    if cfg.get("report"):
        with open(cfg["report"], "w") as fh:
            json.dump({"rows": rows, "cols": cols, "profile": prof.name, "colors_used": len({c for _, c in sources}),
                       "flows": len(sources), "wavelets_injected": total,
                       "deliveries_checked": summary["wavelets_checked"], "exits": summary["exits"],
                       "cycles": cycles, "delivered_per_cycle": summary["wavelets_checked"] / max(1, cycles),
                       "idle_prob": cfg.get("idle", 0.2), "stall_prob": cfg.get("stall", 0.2),
                       "seed": cfg.get("seed", 1), "scoreboard": "pass"}, fh, indent=2)
    dut._log.info("%dx%d mesh, %d colors: %d wavelets injected, %d deliveries checked at %d exits "
                  "in %d cycles", rows, cols, len({c for _, c in sources}), total,
                  summary["wavelets_checked"], summary["exits"], cycles)
