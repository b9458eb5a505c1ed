"""Quick unit checks of the router in Amaranth's own simulator (no Verilator build needed):
one-cycle traversal, per-color ready, multicast and the configuration error flag."""

import random

import pytest

from hdl.router import Router, RouterError
from hdl.router_config import FIELD_SWITCH, cfg_addr, encode_color_route
from hdl.wavelet import Port, SwitchCmd, port_set
from tb.amaranth_sim import simulate

PROFILE = "small"


def run(bench):
    simulate(Router(PROFILE), bench)


async def configure(ctx, dut, color, rx, tx):
    for addr, data in encode_color_route(color, [(port_set(*rx), port_set(*tx))]):
        ctx.set(dut.cfg.we, 1)
        ctx.set(dut.cfg.addr, addr)
        ctx.set(dut.cfg.data, data)
        await ctx.tick()
    ctx.set(dut.cfg.we, 0)


def test_one_cycle_traversal_and_multicast():
    async def bench(ctx, dut):
        await configure(ctx, dut, 3, ["W"], ["E", "RAMP"])
        ctx.set(dut.out_e.ready, 0xFF)
        ctx.set(dut.out_ramp.ready, 0xFF)
        assert ctx.get(dut.in_w.ready) >> 3 & 1
        ctx.set(dut.in_w.valid, 1)
        ctx.set(dut.in_w.data, {"payload": 0xCAFE, "color": 3, "ctrl": 0})
        assert not ctx.get(dut.out_e.valid)  # nothing combinational from input to output
        await ctx.tick()
        ctx.set(dut.in_w.valid, 0)
        # the cycle after it was written, it is on both outputs
        for out in (dut.out_e, dut.out_ramp):
            assert ctx.get(out.valid)
            assert ctx.get(out.data.payload) == 0xCAFE and ctx.get(out.data.color) == 3
        await ctx.tick()
        assert not ctx.get(dut.out_e.valid) and not ctx.get(dut.out_ramp.valid)
        assert ctx.get(dut.drops) == 0 and ctx.get(dut.errors) == 0
    run(bench)


def test_ready_falls_per_color_when_full():
    async def bench(ctx, dut):
        await configure(ctx, dut, 1, ["N"], ["S"])
        await configure(ctx, dut, 2, ["N"], ["S"])
        ctx.set(dut.out_s.ready, 0b100)  # color 1 stalled at S, color 2 free
        for k in range(2):  # fill color 1's FIFO (depth 2)
            ctx.set(dut.in_n.valid, 1)
            ctx.set(dut.in_n.data, {"payload": k, "color": 1, "ctrl": 0})
            await ctx.tick()
        ctx.set(dut.in_n.valid, 0)
        assert not ctx.get(dut.in_n.ready) >> 1 & 1, "color 1 full must withdraw its ready"
        assert ctx.get(dut.in_n.ready) >> 2 & 1, "color 2 must stay ready"
        assert not ctx.get(dut.out_s.valid), "a stalled color must not be presented"
        ctx.set(dut.in_n.valid, 1)
        ctx.set(dut.in_n.data, {"payload": 77, "color": 2, "ctrl": 0})
        await ctx.tick()
        ctx.set(dut.in_n.valid, 0)
        assert ctx.get(dut.out_s.valid) and ctx.get(dut.out_s.data.payload) == 77
    run(bench)


def test_bad_cfg_sets_sticky_flag():
    async def bench(ctx, dut):
        ctx.set(dut.cfg.we, 1)
        ctx.set(dut.cfg.addr, cfg_addr(0, 7))
        await ctx.tick()
        ctx.set(dut.cfg.we, 0)
        await ctx.tick()
        assert ctx.get(dut.errors) == 1 << RouterError.BAD_CFG
        await ctx.tick()
        assert ctx.get(dut.errors) == 1 << RouterError.BAD_CFG, "flags are sticky"
    run(bench)


def test_port_numbering_matches_spec():
    # docs/wavelet.md: N=0, E=1, S=2, W=3, RAMP=4
    assert [p.value for p in (Port.N, Port.E, Port.S, Port.W, Port.RAMP)] == [0, 1, 2, 3, 4]


def test_management_color_routes_west_to_east_and_ramp_out_of_reset():
    async def bench(ctx, dut):
        m = dut.profile.mgmt_color
        ctx.set(dut.out_e.ready, 0xFF)
        ctx.set(dut.out_ramp.ready, 0xFF)
        ctx.set(dut.in_w.valid, 1)
        ctx.set(dut.in_w.data, {"payload": 0x1234, "color": m, "ctrl": 1})
        await ctx.tick()
        ctx.set(dut.in_w.valid, 0)
        for out in (dut.out_e, dut.out_ramp):
            assert ctx.get(out.valid) and ctx.get(out.data.color) == m and ctx.get(out.data.ctrl) == 1
        # any other color is unrouted after reset: dropped and counted
        ctx.set(dut.in_w.valid, 1)
        ctx.set(dut.in_w.data, {"payload": 1, "color": (m + 1) % dut.profile.colors, "ctrl": 0})
        await ctx.tick()
        ctx.set(dut.in_w.valid, 0)
        await ctx.tick()
        assert ctx.get(dut.drops) == 1 and ctx.get(dut.errors) == 1 << RouterError.RX_VIOLATION
    run(bench)


# ---- helpers of the tests below: one wavelet per call, every output ready unless told otherwise

LETTERS = ("n", "e", "s", "w", "ramp")


async def cfg_write(ctx, dut, addr, data, we=1):
    ctx.set(dut.cfg.we, we)
    ctx.set(dut.cfg.addr, addr)
    ctx.set(dut.cfg.data, data)
    await ctx.tick()
    ctx.set(dut.cfg.we, 0)


async def route(ctx, dut, color, positions, ring=False):
    """``positions``: [(rx ports, tx ports), ...] as port letters."""
    pos = [(port_set(*rx), port_set(*tx)) for rx, tx in positions]
    for addr, data in encode_color_route(color, pos, ring):
        await cfg_write(ctx, dut, addr, data)


def outputs(ctx, dut):
    """{port letter: (color, payload, ctrl)} of the outputs valid this cycle."""
    got = {}
    for letter in LETTERS:
        out = getattr(dut, f"out_{letter}")
        if ctx.get(out.valid):
            got[letter] = (ctx.get(out.data.color), ctx.get(out.data.payload), ctx.get(out.data.ctrl))
    return got


async def hop(ctx, dut, port, color, payload, ctrl=0):
    """Send one wavelet on ``port``; return the outputs of the cycle after it was written."""
    link = getattr(dut, f"in_{port}")
    ctx.set(link.valid, 1)
    ctx.set(link.data, {"payload": payload, "color": color, "ctrl": ctrl})
    await ctx.tick()
    ctx.set(link.valid, 0)
    got = outputs(ctx, dut)
    await ctx.tick()
    return got


def all_ready(ctx, dut):
    for letter in LETTERS:
        ctx.set(getattr(dut, f"out_{letter}").ready, 0xFF)


def test_cfg_writes_need_we_and_reach_only_their_color_and_field():
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        # without we nothing is written and nothing is flagged, even at a reserved address
        await cfg_write(ctx, dut, cfg_addr(1, 0), encode_color_route(1, [(port_set("W"), port_set("E"))])[0][1], we=0)
        await cfg_write(ctx, dut, cfg_addr(0, 7), 0, we=0)
        await cfg_write(ctx, dut, cfg_addr(9, 0), 0, we=0)
        assert await hop(ctx, dut, "w", 1, 5) == {}
        assert ctx.get(dut.errors) == 1 << RouterError.RX_VIOLATION and ctx.get(dut.drops) == 1
        await route(ctx, dut, 1, [(["W"], ["E"])])
        await route(ctx, dut, 2, [(["W"], ["S"])])
        assert await hop(ctx, dut, "w", 1, 6) == {"e": (1, 6, 0)}
        assert await hop(ctx, dut, "w", 2, 7) == {"s": (2, 7, 0)}
        # writes to a color beyond the profile or to a reserved field are ignored and flagged
        await cfg_write(ctx, dut, cfg_addr(9, 0), encode_color_route(9, [(port_set("W"), port_set("N"))])[0][1])
        await cfg_write(ctx, dut, cfg_addr(1, 5), encode_color_route(1, [(port_set("W"), port_set("N"))])[0][1])
        await ctx.tick()
        assert ctx.get(dut.errors) == (1 << RouterError.RX_VIOLATION) | (1 << RouterError.BAD_CFG)
        assert await hop(ctx, dut, "w", 1, 8) == {"e": (1, 8, 0)}
        assert ctx.get(dut.drops) == 1
    run(bench)


# color 0 as well: a per-color vector's bit 0 is color 0's (the router's units pass them as arrays)
@pytest.mark.parametrize("c", [0, 1])
def test_switch_positions_advance_saturate_wait_ring_and_reset(c):
    ADV, RST = SwitchCmd.ADVANCE, SwitchCmd.RESET

    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, c, [(["W"], ["E"]), (["N"], ["S"]), (["W"], ["RAMP"])])
        await route(ctx, dut, 3, [(["W"], ["E"])])  # a single position: ADVANCE stays put
        assert await hop(ctx, dut, "w", c, 0x10) == {"e": (c, 0x10, 0)}
        for cmd in (SwitchCmd.NONE, SwitchCmd.RESERVED):  # control wavelets that leave the switch
            assert await hop(ctx, dut, "w", c, 0x20 | cmd, 1) == {"e": (c, 0x20 | cmd, 1)}
        assert await hop(ctx, dut, "w", c, ADV, 1) == {"e": (c, ADV, 1)}
        assert await hop(ctx, dut, "n", c, 0x11) == {"s": (c, 0x11, 0)}
        # another color's switch word leaves this color's position alone
        await cfg_write(ctx, dut, cfg_addr(2, FIELD_SWITCH), 3)
        assert await hop(ctx, dut, "n", c, ADV, 1) == {"s": (c, ADV, 1)}
        assert await hop(ctx, dut, "w", c, 0x12) == {"ramp": (c, 0x12, 0)}
        # no ring: ADVANCE at the last position holds it there
        assert await hop(ctx, dut, "w", c, ADV, 1) == {"ramp": (c, ADV, 1)}
        assert await hop(ctx, dut, "w", c, 0x13) == {"ramp": (c, 0x13, 0)}
        assert await hop(ctx, dut, "w", c, RST, 1) == {"ramp": (c, RST, 1)}
        assert await hop(ctx, dut, "w", c, 0x14) == {"e": (c, 0x14, 0)}
        # a port of another position waits in its FIFO (no drop) until the switch admits it
        assert await hop(ctx, dut, "n", c, 0x15) == {}
        assert await hop(ctx, dut, "w", c, ADV, 1) == {"e": (c, ADV, 1)}
        assert outputs(ctx, dut) == {"s": (c, 0x15, 0)}  # the cycle after the switch moved
        await ctx.tick()
        # writing the switch word (now with ring) resets the position; the ring wraps
        await cfg_write(ctx, dut, cfg_addr(c, FIELD_SWITCH), encode_color_route(c, [(0, 0)] * 3, ring=True)[-1][1])
        assert await hop(ctx, dut, "w", c, 0x16) == {"e": (c, 0x16, 0)}
        assert await hop(ctx, dut, "w", c, ADV, 1) == {"e": (c, ADV, 1)}
        assert await hop(ctx, dut, "n", c, ADV, 1) == {"s": (c, ADV, 1)}
        assert await hop(ctx, dut, "w", c, ADV, 1) == {"ramp": (c, ADV, 1)}
        assert await hop(ctx, dut, "w", c, 0x17) == {"e": (c, 0x17, 0)}
        assert await hop(ctx, dut, "w", 3, ADV, 1) == {"e": (3, ADV, 1)}
        assert await hop(ctx, dut, "w", 3, 0x18) == {"e": (3, 0x18, 0)}
        assert ctx.get(dut.drops) == 0 and ctx.get(dut.errors) == 0
    run(bench)


def test_overflow_idle_wires_and_unrouted_wavelets_leave_no_trace():
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, 1, [(["N"], ["S"])])
        ctx.set(dut.out_s.ready, 0xFF & ~(1 << 1))  # color 1 stalled at S
        for k in range(2):
            await hop(ctx, dut, "n", 1, k)
        assert not ctx.get(dut.in_n.ready) >> 1 & 1
        assert ctx.get(dut.stalls) == 1 << Port.S
        # sent against the low ready bit: dropped, counted, flagged; the queue is unchanged
        assert await hop(ctx, dut, "n", 1, 99) == {}
        assert ctx.get(dut.drops) == 1 and ctx.get(dut.errors) == 1 << RouterError.OVERFLOW
        # the wires of an idle link mean nothing: a full color, a bad color, an unrouted one
        for color in (1, 9, 2):
            ctx.set(dut.in_n.data, {"payload": 7, "color": color, "ctrl": 1})
            await ctx.tick().repeat(2)
        assert ctx.get(dut.drops) == 1 and ctx.get(dut.errors) == 1 << RouterError.OVERFLOW
        ctx.set(dut.out_s.ready, 0xFF)
        got = []
        for _ in range(4):
            got.append(outputs(ctx, dut))
            await ctx.tick()
        assert got == [{"s": (1, 0, 0)}, {"s": (1, 1, 0)}, {}, {}]
        assert ctx.get(dut.in_n.ready) == 0xFF
        # unrouted wavelets are dropped on arrival: they take no FIFO room and never come out later
        for k in range(3):
            assert await hop(ctx, dut, "e", 2, k) == {}
        assert ctx.get(dut.drops) == 4 and ctx.get(dut.in_e.ready) == 0xFF
        await route(ctx, dut, 2, [(["E"], ["W"])])
        for _ in range(3):
            assert outputs(ctx, dut) == {}
            await ctx.tick()
        assert await hop(ctx, dut, "e", 2, 0x55) == {"w": (2, 0x55, 0)}
    run(bench)


def test_fifo_keeps_order_and_ctrl_across_wraps_under_backpressure():
    rng = random.Random(4)
    want = [(k << 2, k & 1) for k in range(12)]  # payload[1:0] = 0: no switch command

    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, 4, [(["E"], ["W"])])
        got, pending = [], list(want)
        for _ in range(200):
            if len(got) == len(want):
                break
            ctx.set(dut.out_w.ready, 0xFF if rng.random() < 0.5 else 0xFF & ~(1 << 4))
            send = pending and ctx.get(dut.in_e.ready) >> 4 & 1 and rng.random() < 0.7
            ctx.set(dut.in_e.valid, bool(send))
            if send:
                payload, ctrl = pending.pop(0)
                ctx.set(dut.in_e.data, {"payload": payload, "color": 4, "ctrl": ctrl})
            if ctx.get(dut.out_w.valid):
                assert ctx.get(dut.out_w.ready) >> 4 & 1, "presented against a low ready bit"
                got.append((ctx.get(dut.out_w.data.payload), ctx.get(dut.out_w.data.ctrl)))
            await ctx.tick()
        assert got == want
        assert ctx.get(dut.drops) == 0
    run(bench)


def test_round_robin_shares_an_output_between_ports_and_colors():
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        # (color 1, N) and (color 1, E) are neighbours in the arbiter's order
        await route(ctx, dut, 1, [(["N", "E"], ["S"])])
        await route(ctx, dut, 2, [(["N"], ["S"])])
        flows = {("n", 1): 0, ("e", 1): 0, ("n", 2): 0}
        seq = []
        for cycle in range(40):
            # keep every flow's queue full: N alternates its two colors
            for (port, color) in flows:
                if port == "n" and color != 1 + cycle % 2:
                    continue
                link = getattr(dut, f"in_{port}")
                ctx.set(link.valid, ctx.get(link.ready) >> color & 1)
                ctx.set(link.data, {"payload": ord(port) << 8 | color, "color": color, "ctrl": 0})
            if ctx.get(dut.out_s.valid):
                p = ctx.get(dut.out_s.data.payload)
                seq.append((chr(p >> 8), ctx.get(dut.out_s.data.color)))
            await ctx.tick()
        tail = seq[10:]
        assert len(tail) >= 24 and set(tail) <= set(flows), tail  # one whole wavelet a cycle
        # a fixed rotation: the last grant goes to the back
        assert all(tail[i] != tail[i + 1] and tail[i] == tail[i + 3] for i in range(len(tail) - 3)), tail
        assert ctx.get(dut.drops) == 0
    run(bench)


def test_multicast_hands_each_branch_its_copy_once():
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, 5, [(["W"], ["N", "E", "RAMP"])])
        await route(ctx, dut, 6, [(["S"], ["W"])])
        ctx.set(dut.out_n.ready, 0xFF & ~(1 << 5))  # the N branch of color 5 stalls
        ctx.set(dut.out_w.ready, 0xFF & ~(1 << 6))  # a control wavelet of color 6 waits at W
        ctx.set(dut.out_s.ready, 0)  # S is in no TX set: its low ready stalls nothing
        await hop(ctx, dut, "s", 6, 0x40, 1)
        ctx.set(dut.in_w.valid, 1)
        ctx.set(dut.in_w.data, {"payload": 0xA0, "color": 5, "ctrl": 0})
        await ctx.tick()
        seen = []
        for cycle in range(6):
            # the second wavelet queues behind the first
            ctx.set(dut.in_w.valid, cycle == 0)
            ctx.set(dut.in_w.data, {"payload": 0xA1, "color": 5, "ctrl": 0})
            if cycle == 3:
                ctx.set(dut.out_n.ready, 0xFF)
            seen.append((outputs(ctx, dut), ctx.get(dut.stalls)))
            await ctx.tick()
        stalled = (1 << Port.N) | (1 << Port.W)
        assert seen[0] == ({"e": (5, 0xA0, 0), "ramp": (5, 0xA0, 0)}, stalled)
        assert seen[1] == seen[2] == ({}, stalled)
        assert seen[3] == ({"n": (5, 0xA0, 0)}, 1 << Port.W)
        assert seen[4] == ({"n": (5, 0xA1, 0), "e": (5, 0xA1, 0), "ramp": (5, 0xA1, 0)}, 1 << Port.W)
        assert seen[5] == ({}, 1 << Port.W)
        ctx.set(dut.out_w.ready, 0xFF)
        assert outputs(ctx, dut) == {"w": (6, 0x40, 1)}
        await ctx.tick()
        # now the E branch stalls after N and RAMP took their copies: N gets no second one
        ctx.set(dut.out_e.ready, 0xFF & ~(1 << 5))
        assert await hop(ctx, dut, "w", 5, 0xB0) == {"n": (5, 0xB0, 0), "ramp": (5, 0xB0, 0)}
        assert outputs(ctx, dut) == {}
        ctx.set(dut.out_e.ready, 0xFF)
        assert outputs(ctx, dut) == {"e": (5, 0xB0, 0)}
        await ctx.tick()
        assert outputs(ctx, dut) == {}
        # the route rewritten under a waiting head: it leaves once every port of the new TX set has it
        ctx.set(dut.out_n.ready, 0xFF & ~(1 << 5))
        assert await hop(ctx, dut, "w", 5, 0xC0) == {"e": (5, 0xC0, 0), "ramp": (5, 0xC0, 0)}
        await cfg_write(ctx, dut, cfg_addr(5, 0), encode_color_route(5, [(port_set("W"), port_set("N"))])[0][1])
        assert outputs(ctx, dut) == {}
        ctx.set(dut.out_n.ready, 0xFF)
        assert outputs(ctx, dut) == {"n": (5, 0xC0, 0)}
        await ctx.tick()
        assert await hop(ctx, dut, "w", 5, 0xC1) == {"n": (5, 0xC1, 0)}
        assert ctx.get(dut.drops) == 0
    run(bench)


def test_control_wavelet_dropped_for_an_empty_tx_set_leaves_the_switch():
    """As golden/routing.py: a NO_TX drop is not sent anywhere, so its command does not act."""
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, 2, [(["W"], []), (["W"], ["E"])])
        assert await hop(ctx, dut, "w", 2, SwitchCmd.ADVANCE, 1) == {}
        assert await hop(ctx, dut, "w", 2, 0x10) == {}
        assert ctx.get(dut.drops) == 2 and ctx.get(dut.errors) == 1 << RouterError.NO_TX
    run(bench)


def test_drop_counter_adds_simultaneous_drops():
    # saturation at 65535: the DropCounter unit test (tests/test_router_units.py)
    async def bench(ctx, dut):
        all_ready(ctx, dut)
        await route(ctx, dut, 2, [(["W"], [])])  # admitted, then dropped at the head: NO_TX

        def offer(color_of):
            for letter, color in color_of.items():
                link = getattr(dut, f"in_{letter}")
                ctx.set(link.valid, 1)
                ctx.set(link.data, {"payload": 1, "color": color, "ctrl": 0})

        def idle():
            for letter in LETTERS:
                ctx.set(getattr(dut, f"in_{letter}").valid, 0)

        offer({"n": 1, "e": 1, "s": 1, "ramp": 9, "w": 2})  # 3 RX violations, a bad color, then NO_TX
        await ctx.tick()
        idle()
        await ctx.tick()
        await ctx.tick()
        assert ctx.get(dut.drops) == 5
        assert ctx.get(dut.errors) == ((1 << RouterError.RX_VIOLATION) | (1 << RouterError.BAD_COLOR)
                                       | (1 << RouterError.NO_TX))
        offer({"n": 1, "e": 1, "s": 1, "ramp": 9})
        await ctx.tick()
        idle()
        await ctx.tick()
        assert ctx.get(dut.drops) == 9
    run(bench)
