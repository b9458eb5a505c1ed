"""cocotb tests of one router (the 1 x 1 router mesh fixture: every port is exposed).

Each test configures routes through the configuration bus, drives wavelets with the harness in
tb/fabric.py and checks the result with the scoreboard against golden/routing.py. The pytest side
(tests/test_router.py) passes the profile through TESSERA_TB_CONFIG.
"""

from __future__ import annotations

import itertools
import random

import cocotb

from golden.routing import ColorRoute, MeshRoutes, Port, mask_of, simulate
from hdl.profiles import get_profile
from hdl.router import RouterError
from hdl.router_config import cfg_addr
from sdk.engines.verilator import tb_config
from tb.fabric import FabricHarness
from tb.scoreboard import compare_fabric

PE = (0, 0)
ALL_SETS = list(range(1, 32))  # every non-empty subset of the 5 ports


def _setup(dut, seed=1):
    cfg = tb_config()
    prof = get_profile(cfg.get("profile", "small"))
    rng = random.Random(cfg.get("seed", seed))
    h = FabricHarness(dut, 1, 1, prof.colors, rng)
    return h, prof, rng


def _link(port):
    return (PE, Port(port))


def _tag(src_port, seq, color=0):
    """A payload unique per (source port, color, sequence); low 2 bits kept 0 (no switch command)."""
    return ((src_port & 7) << 28 | (color & 31) << 22 | (seq & 0xFFFFF) << 2) & 0xFFFFFFFF


async def _check_round(h, mesh, check_drops=True):
    golden = simulate(mesh, h.injections())
    status = h.status() if check_drops else None
    summary = compare_fabric(golden, h.observed(), status)
    h.clear()
    return golden, summary


@cocotb.test()
async def every_input_color_to_every_tx_set(dut):
    """Every (input port, color) reaches every one of the 31 TX sets, multicast included, under
    random idles and backpressure; functional coverage of the (input, color, TX set) bins."""
    h, prof, rng = _setup(dut)
    await h.reset()
    h.start_noise(idle_prob=0.25, stall_prob=0.25)
    covered = set()
    total = 0
    for rnd in range(len(ALL_SETS)):
        mesh = MeshRoutes(1, 1, prof.colors)
        for c in range(prof.colors):
            mesh.set(PE, c, ColorRoute(((0b11111, ALL_SETS[(rnd + c) % len(ALL_SETS)]),)))
        mesh.validate()
        await h.configure(mesh)
        for port in Port:
            for c in range(prof.colors):
                for k in range(2):
                    h.drivers[_link(port)].send(c, _tag(port, rnd * 2 + k, c))
                covered.add((port, c, ALL_SETS[(rnd + c) % len(ALL_SETS)]))
        await h.run_until_idle()
        _, summary = await _check_round(h, mesh)
        total += summary["wavelets_checked"]
    want = {(p, c, s) for p in Port for c in range(prof.colors) for s in ALL_SETS}
    assert covered == want, f"coverage holes: {sorted(want - covered)[:10]}"
    assert all(e == 0 for _, e in h.status().values()), f"unexpected error flags {h.status()}"
    dut._log.info("checked %d deliveries over %d (input, color, TX set) bins", total, len(covered))


@cocotb.test()
async def rx_violation_and_errors(dut):
    """Wavelets outside the RX set, on non-routable colors, on a position with no TX set, and sent
    against backpressure are dropped, counted and flagged; bad configuration writes are flagged."""
    h, prof, rng = _setup(dut)
    await h.reset()
    mesh = MeshRoutes(1, 1, prof.colors)
    mesh.set(PE, 1, ColorRoute.simple(["W"], ["E"]))
    await h.configure(mesh)
    # Color 1 accepted only from W: two from N are dropped; the one from W is delivered.
    h.drivers[_link(Port.N)].send(1, _tag(Port.N, 0, 1))
    h.drivers[_link(Port.N)].send(1, _tag(Port.N, 1, 1))
    h.drivers[_link(Port.W)].send(1, _tag(Port.W, 0, 1))
    # Color 2 has no route at all: every port is outside its (empty) RX set.
    h.drivers[_link(Port.RAMP)].send(2, _tag(Port.RAMP, 0, 2))
    await h.run_until_idle()
    golden, _ = await _check_round(h, mesh)
    drops, errors = h.status()[PE]
    assert drops == 3 == golden.drops[PE], (drops, golden.drops)
    assert errors == 1 << RouterError.RX_VIOLATION, f"errors={errors:#b}"

    expected_drops = 3
    if prof.colors < 32:  # a color beyond the profile
        h.drivers[_link(Port.S)].send(prof.colors, _tag(Port.S, 0, 0))
        await h.run_until_idle()
        golden, _ = await _check_round(h, mesh, check_drops=False)
        expected_drops += 1
        drops, errors = h.status()[PE]
        assert drops == expected_drops and errors >> RouterError.BAD_COLOR & 1, (drops, f"{errors:#b}")
        assert golden.drop_reasons[(PE, "bad_color")] == 1

    # A position that admits N but sends nowhere (the Python validator rejects it; hardware must
    # still not lose it silently). Written straight to the configuration bus.
    h.queue_cfg(PE, cfg_addr(3, 0), mask_of("N"))
    h.queue_cfg(PE, cfg_addr(3, 4), 0)
    await h.run_cycles(3)
    h.drivers[_link(Port.N)].send(3, _tag(Port.N, 9, 3))
    await h.run_until_idle()
    h.clear()
    expected_drops += 1
    drops, errors = h.status()[PE]
    assert drops == expected_drops and errors >> RouterError.NO_TX & 1, (drops, f"{errors:#b}")

    # Overflow: color 1 held at E, the sender ignores ready: depth wavelets fit, the rest drop.
    h.monitors[_link(Port.E)].hold_colors = {1}
    drv = h.drivers[_link(Port.W)]
    drv.ignore_ready = True
    for k in range(prof.fifo_depth + 2):
        drv.send(1, _tag(Port.W, 100 + k, 1))
    await h.run_cycles(prof.fifo_depth + 8)
    drv.ignore_ready = False
    expected_drops += 2
    drops, errors = h.status()[PE]
    assert drops == expected_drops and errors >> RouterError.OVERFLOW & 1, (drops, f"{errors:#b}")
    h.monitors[_link(Port.E)].hold_colors = set()
    await h.run_until_idle()
    got = h.observed().get(_link(Port.E), [])
    assert [w[1] for w in got] == [_tag(Port.W, 100 + k, 1) for k in range(prof.fifo_depth)], got
    h.clear()

    # Configuration writes to a reserved field and to a color beyond the profile.
    assert not errors >> RouterError.BAD_CFG & 1
    h.queue_cfg(PE, cfg_addr(0, 6), 0)
    await h.run_cycles(3)
    drops, errors = h.status()[PE]
    assert errors >> RouterError.BAD_CFG & 1, f"errors={errors:#b}"
    assert drops == expected_drops, "a configuration error must not count as a drop"


@cocotb.test()
async def stalled_color_never_blocks_others(dut):
    """Color 0 (RAMP -> E) is held stalled forever at E; every other color keeps its full rate,
    including color 1 which shares the E link with it."""
    h, prof, rng = _setup(dut)
    await h.reset()
    flows = {0: (Port.RAMP, Port.E), 1: (Port.W, Port.E), 2: (Port.N, Port.S),
             3: (Port.S, Port.N), 4: (Port.E, Port.W)}
    flows = {c: f for c, f in flows.items() if c < prof.colors}
    mesh = MeshRoutes(1, 1, prof.colors)
    for c, (src, dst) in flows.items():
        mesh.set(PE, c, ColorRoute.simple([src], [dst]))
    await h.configure(mesh)
    h.monitors[_link(Port.E)].hold_colors = {0}
    n = 400
    for c, (src, _) in flows.items():
        for k in range(n):
            h.drivers[_link(src)].send(c, _tag(src, k, c))
    cycles = 0
    while any(len(h.monitors[_link(dst)].received) < n for c, (_, dst) in flows.items() if c):
        await h.step()
        cycles += 1
        assert cycles < 4 * n, "other colors did not finish while color 0 was stalled"
    held = sum(1 for w in h.monitors[_link(Port.E)].received if w[0] == 0)
    assert held == 0, "a held color was delivered"
    # n wavelets each on its own link: n cycles plus the pipeline's fill.
    rate = n / cycles
    assert rate >= 0.97, f"other colors ran at {rate:.3f} wavelets/cycle while color 0 stalled"
    h.monitors[_link(Port.E)].hold_colors = set()
    await h.run_until_idle()
    await _check_round(h, mesh)
    dut._log.info("other colors at %.3f wavelets/cycle with color 0 stalled", rate)


@cocotb.test()
async def fair_arbitration(dut):
    """All colors, from four inputs, compete for output E: each flow gets an equal share and the
    link stays busy every cycle."""
    h, prof, rng = _setup(dut)
    await h.reset()
    inputs = [Port.RAMP, Port.N, Port.S, Port.W]
    mesh = MeshRoutes(1, 1, prof.colors)
    for c in range(prof.colors):
        mesh.set(PE, c, ColorRoute.simple([inputs[c % 4]], ["E"]))
    await h.configure(mesh)
    per_flow = 60
    for c in range(prof.colors):
        src = inputs[c % 4]
        for k in range(per_flow * 2):
            h.drivers[_link(src)].send(c, _tag(src, k, c))
    mon = h.monitors[_link(Port.E)]
    window = per_flow * prof.colors
    start = len(mon.received)
    for _ in range(8):
        await h.step()
    start = len(mon.received)
    await h.run_cycles(window)
    got = mon.received[start:]
    counts = [sum(1 for w in got if w[0] == c) for c in range(prof.colors)]
    ratio = max(counts) / max(1, min(counts))
    assert len(got) >= 0.99 * window, f"shared link carried {len(got)} in {window} cycles"
    assert ratio <= 1.1, f"unfair: per-color counts {counts}"
    await h.run_until_idle()
    await _check_round(h, mesh)
    dut._log.info("shared link: %d wavelets in %d cycles, max/min %.3f", len(got), window, ratio)


@cocotb.test()
async def switch_advance_reset_ring(dut):
    """Switch positions advance and reset after a control wavelet has passed; ring mode wraps,
    otherwise the last position holds; a port admitted only by a later position waits for it."""
    h, prof, rng = _setup(dut)
    await h.reset()
    h.start_noise(idle_prob=0.3, stall_prob=0.3)
    mesh = MeshRoutes(1, 1, prof.colors)
    e, s, w, n, ramp = (mask_of(p) for p in ("E", "S", "W", "N", "RAMP"))
    # color 0: three positions, no ring
    mesh.set(PE, 0, ColorRoute(((ramp, e), (ramp, s), (ramp, w | n))))
    # color 1: two positions, ring
    mesh.set(PE, 1, ColorRoute(((w, e), (w, s)), ring=True))
    # color 2: position 1 admits a different port: N's wavelets wait for the switch
    if prof.colors > 2:
        mesh.set(PE, 2, ColorRoute(((w, e), (n, s))))
    mesh.validate()
    await h.configure(mesh)
    ADV, RST = 1, 2
    seq = itertools.count()

    def data(port, c):
        return (c, _tag(port, next(seq), c), 0)

    def ctrl(port, c, cmd):
        return (c, _tag(port, next(seq), c) | cmd, 1)

    ramp_stream = [data(Port.RAMP, 0), data(Port.RAMP, 0), ctrl(Port.RAMP, 0, ADV), data(Port.RAMP, 0),
                   ctrl(Port.RAMP, 0, ADV), data(Port.RAMP, 0), ctrl(Port.RAMP, 0, ADV), data(Port.RAMP, 0),
                   ctrl(Port.RAMP, 0, 0), data(Port.RAMP, 0), ctrl(Port.RAMP, 0, RST), data(Port.RAMP, 0)]
    w_stream = []
    for _ in range(5):
        w_stream += [data(Port.W, 1), ctrl(Port.W, 1, ADV)]
    if prof.colors > 2:
        w_stream += [data(Port.W, 2), ctrl(Port.W, 2, ADV)]
        n_stream = [data(Port.N, 2), data(Port.N, 2)]
        for wv in n_stream:
            h.drivers[_link(Port.N)].send(*wv)
    for wv in ramp_stream:
        h.drivers[_link(Port.RAMP)].send(*wv)
    for wv in w_stream:
        h.drivers[_link(Port.W)].send(*wv)
    await h.run_until_idle()
    golden, summary = await _check_round(h, mesh)
    assert golden.final_positions[(PE, 0)] == 0 and golden.final_positions[(PE, 1)] == 1
    # the golden model's own view, written down from the spec: color 0 visits E, S, then W|N
    exits = {p: [d.payload for d in golden.outputs.get((PE, p), []) if d.color == 0] for p in Port}
    assert [len(exits[p]) for p in (Port.E, Port.S, Port.W, Port.N)] == [4, 2, 6, 6], exits
    dut._log.info("switch test: %d deliveries checked", summary["wavelets_checked"])
