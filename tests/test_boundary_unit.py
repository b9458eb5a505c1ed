"""The die-boundary link (hdl/boundary.py) in Amaranth's simulator: lossless and in order per color
under random idles and per-color backpressure, one wavelet per cycle for one color and for many
colors sharing the link, the added latency of L cycles, and the sticky overflow flag when a sender
ignores ready."""

from __future__ import annotations

import random

import pytest

from hdl.boundary import BoundaryLink, buffer_depth, check_stages, flip_flops
from tb.amaranth_sim import simulate

COLORS = 4


def _run(stages, queues, cycles, rx_ready=lambda cyc, c: True, idle=0.0, ignore_ready=False, seed=1):
    """Drive ``queues`` ({color: [payload]}) into tx obeying ready (unless told not to); record rx.

    Returns (received [(cycle, color, payload)], sent [(cycle, color)], overflow flag)."""
    dut = BoundaryLink(COLORS, stages)
    rng = random.Random(seed)
    got, sent, flags = [], [], []
    pending = {c: list(q) for c, q in queues.items()}

    async def bench(ctx, dut):
        rr = 0
        for cyc in range(cycles):
            ready_mask = sum(1 << c for c in range(COLORS) if rx_ready(cyc, c))
            ctx.set(dut.rx.ready, ready_mask)
            tx_ready = ctx.get(dut.tx.ready)
            pick = None
            if rng.random() >= idle:
                for k in range(COLORS):
                    c = (rr + k) % COLORS
                    if pending.get(c) and (ignore_ready or tx_ready >> c & 1):
                        pick = c
                        rr = c + 1
                        break
            if pick is not None:
                ctx.set(dut.tx.valid, 1)
                ctx.set(dut.tx.data, {"payload": pending[pick].pop(0), "color": pick, "ctrl": 0})
                sent.append((cyc, pick))
            else:
                ctx.set(dut.tx.valid, 0)
            if ctx.get(dut.rx.valid):
                c = ctx.get(dut.rx.data.color)
                assert ready_mask >> c & 1, f"cycle {cyc}: color {c} presented while not ready"
                got.append((cyc, c, ctx.get(dut.rx.data.payload)))
            await ctx.tick()
        flags.append(ctx.get(dut.overflow))

    simulate(dut, bench)
    return got, sent, flags[0]


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_lossless_in_order_under_random_backpressure(stages):
    rng = random.Random(stages)
    queues = {c: [c << 24 | k for k in range(150)] for c in range(COLORS)}
    stall = {(cyc, c) for cyc in range(3000) for c in range(COLORS) if rng.random() < 0.3}
    got, sent, overflow = _run(stages, queues, 3000, rx_ready=lambda cyc, c: (cyc, c) not in stall, idle=0.2)
    assert not overflow
    for c in range(COLORS):
        assert [p for _, col, p in got if col == c] == queues[c], f"color {c} lost, duplicated or reordered"


@pytest.mark.parametrize("stages", [1, 2, 4])
@pytest.mark.parametrize("colors_used", [1, COLORS])
def test_one_wavelet_per_cycle_for_one_color_and_for_shared_colors(stages, colors_used):
    n = 400
    queues = {c: list(range(n)) for c in range(colors_used)}
    got, sent, overflow = _run(stages, queues, n * colors_used + 60)
    assert not overflow and len(got) == n * colors_used
    first, last = got[0][0], got[-1][0]
    rate = len(got) / (last - first + 1)
    assert rate == 1.0, f"{rate:.3f} wavelets/cycle over {stages} stages with {colors_used} colors"
    assert first == sent[0][0] + stages, "a transfer takes L cycles more than on a plain link"


def test_a_sender_ignoring_ready_sets_the_sticky_overflow_flag():
    queues = {0: list(range(40))}
    got, sent, overflow = _run(1, queues, 80, rx_ready=lambda cyc, c: cyc > 60, ignore_ready=True)
    assert overflow
    assert len(got) == buffer_depth(1) and len(sent) == 40  # the buffer's worth survives, the rest is flagged


def test_cost_grows_with_stages_and_colors():
    assert buffer_depth(1) == 3 and buffer_depth(2) == 5
    assert flip_flops(8, 1) == 8 * 3 * 33 + 8
    assert flip_flops(24, 2) > flip_flops(24, 1) > flip_flops(8, 1)
    for bad in (0, 9, 1.5):
        with pytest.raises(ValueError, match="boundary stages"):
            check_stages(bad)


def test_a_die_that_does_not_tile_the_mesh_is_refused_naming_it():
    from hdl.router_mesh import check_die, crosses_die

    assert check_die(4, 6, (2, 3)) == (2, 3) and check_die(4, 6, None) is None
    with pytest.raises(ValueError, match=r"die 3x3 does not divide the 4x6 mesh \(rows 4 are not a multiple of 3\)"):
        check_die(4, 6, (3, 3))
    with pytest.raises(ValueError, match=r"columns 6 are not a multiple of 4"):
        check_die(4, 6, (2, 4))
    with pytest.raises(ValueError, match="at least 1"):
        check_die(4, 6, (0, 2))
    assert crosses_die((2, 3), (1, 2), (1, 3)) and not crosses_die((2, 3), (0, 0), (1, 2))
