"""The router's units (hdl/router_units.py) one by one in Amaranth's simulator: each against a small
Python model of its documented behaviour, cycle by cycle."""

from __future__ import annotations

import random
from collections import deque

import pytest

from hdl.router_config import FIELD_SWITCH, cfg_addr
from hdl.router_units import DropCounter, ErrorFlags, HeadState, InputQueue, RoundRobinArbiter, RouteTable, SwitchState
from hdl.wavelet import NUM_PORTS, Port, SwitchCmd, port_set
from tb.amaranth_sim import simulate

P = NUM_PORTS


# ---- RouteTable ------------------------------------------------------------------------------

def test_route_table_reset_writes_selection_and_flags():
    C, M = 3, 2
    dut = RouteTable(C, M)
    rng = random.Random(5)

    async def bench(ctx, dut):
        # model: rx/tx per color and position, last, ring
        rx = [[0] * 4 for _ in range(C)]
        tx = [[0] * 4 for _ in range(C)]
        rx[M][0], tx[M][0] = port_set("W"), port_set("E", "RAMP")
        last, ring = [0] * C, [0] * C
        for cyc in range(600):
            pos = [rng.randrange(4) for _ in range(C)]
            for c in range(C):
                ctx.set(dut.pos[c], pos[c])
            we = int(rng.random() < 0.6)
            color = rng.randrange(C + 1) if rng.random() < 0.9 else rng.randrange(32)
            field = rng.randrange(FIELD_SWITCH + 1) if rng.random() < 0.85 else rng.randrange(8)
            word = rng.getrandbits(32)
            ctx.set(dut.cfg.we, we)
            ctx.set(dut.cfg.addr, cfg_addr(color, field))
            ctx.set(dut.cfg.data, word)
            for c in range(C):
                assert ctx.get(dut.rx_cur[c]) == rx[c][pos[c]], (cyc, c)
                assert ctx.get(dut.tx_cur[c]) == tx[c][pos[c]], (cyc, c)
                union = 0
                for k in range(last[c] + 1):
                    union |= rx[c][k]
                assert ctx.get(dut.rx_union[c]) == union, (cyc, c)
                assert ctx.get(dut.last[c]) == last[c]
                assert (ctx.get(dut.ring) >> c) & 1 == ring[c]
                assert (ctx.get(dut.switch_write) >> c) & 1 == int(we and color == c and field == FIELD_SWITCH)
            assert ctx.get(dut.cfg_bad) == int(bool(we) and (color >= C or field > FIELD_SWITCH))
            await ctx.tick()
            if we and color < C:
                if field < 4:
                    rx[color][field], tx[color][field] = word & 0x1F, (word >> 5) & 0x1F
                elif field == FIELD_SWITCH:
                    last[color], ring[color] = word & 3, (word >> 2) & 1

    simulate(dut, bench)


def test_route_table_out_of_reset_only_the_management_route():
    dut = RouteTable(4, 1)

    async def bench(ctx, dut):
        for c in range(4):
            want = (port_set("W"), port_set("E", "RAMP")) if c == 1 else (0, 0)
            assert (ctx.get(dut.rx_cur[c]), ctx.get(dut.tx_cur[c])) == want
            assert ctx.get(dut.rx_union[c]) == want[0]
        assert ctx.get(dut.cfg_bad) == 0 and ctx.get(dut.switch_write) == 0

    simulate(dut, bench)


# ---- SwitchState -----------------------------------------------------------------------------

def test_switch_state_commands_priority_and_write():
    C = 2
    dut = SwitchState(C)
    rng = random.Random(7)

    async def bench(ctx, dut):
        pos = [0] * C
        for cyc in range(1500):
            last = [rng.randrange(4) for _ in range(C)]
            ring = [rng.randrange(2) for _ in range(C)]
            write = [int(rng.random() < 0.05) for _ in range(C)]
            done = [[int(rng.random() < 0.3) for _ in range(P)] for _ in range(C)]
            cmd = [[rng.choice([SwitchCmd.ADVANCE] * 3 + list(SwitchCmd)) for _ in range(P)] for _ in range(C)]
            for c in range(C):
                ctx.set(dut.last[c], last[c])
                ctx.set(dut.done[c], sum(b << p for p, b in enumerate(done[c])))
                for p in range(P):
                    ctx.set(dut.cmd[c][p], cmd[c][p])
            ctx.set(dut.ring, sum(b << c for c, b in enumerate(ring)))
            ctx.set(dut.write, sum(b << c for c, b in enumerate(write)))
            for c in range(C):
                assert ctx.get(dut.pos[c]) == pos[c], (cyc, c)
            await ctx.tick()
            for c in range(C):
                k = next((cmd[c][p] for p in range(P) if done[c][p]), SwitchCmd.NONE)  # lowest port wins
                if write[c] or k == SwitchCmd.RESET:
                    pos[c] = 0
                elif k == SwitchCmd.ADVANCE:
                    pos[c] = pos[c] + 1 if pos[c] < last[c] else (0 if ring[c] else pos[c])

    simulate(dut, bench)


# ---- InputQueue ------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [2, 3])
def test_input_queue_matches_a_fifo_model(depth):
    dut = InputQueue(33, depth)
    rng = random.Random(depth)

    async def bench(ctx, dut):
        model = deque()
        for cyc in range(1500):
            w_en, r_en = int(rng.random() < 0.55), int(rng.random() < 0.5)
            w_data = rng.getrandbits(33)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.w_data, w_data)
            ctx.set(dut.r_en, r_en)
            assert ctx.get(dut.level) == len(model), cyc
            assert ctx.get(dut.w_rdy) == int(len(model) < depth), cyc
            assert ctx.get(dut.r_rdy) == int(len(model) > 0), cyc
            if model:
                assert ctx.get(dut.r_data) == model[0], cyc
            await ctx.tick()
            full = len(model) == depth
            if r_en and model:
                model.popleft()
            if w_en and not full:  # a write into a full queue is ignored, even while it is read
                model.append(w_data)

    simulate(dut, bench)


# ---- HeadState -------------------------------------------------------------------------------

def test_head_state_multicast_waits_for_every_branch_once():
    dut = HeadState()
    E, S, RAMP = 1 << Port.E, 1 << Port.S, 1 << Port.RAMP

    async def bench(ctx, dut):
        ctx.set(dut.valid, 1)
        ctx.set(dut.admit, 1)
        ctx.set(dut.tx, E | S | RAMP)
        assert ctx.get(dut.eligible) and ctx.get(dut.want) == E | S | RAMP
        ctx.set(dut.grant, E)
        assert not ctx.get(dut.done) and not ctx.get(dut.deq)
        await ctx.tick()
        ctx.set(dut.grant, 0)
        assert ctx.get(dut.want) == S | RAMP, "E has its copy"
        # the switch moves away: not eligible, wants nothing, remembers E
        ctx.set(dut.admit, 0)
        assert not ctx.get(dut.eligible) and ctx.get(dut.want) == 0 and not ctx.get(dut.deq)
        ctx.set(dut.grant, S)  # a grant while not eligible is not recorded
        await ctx.tick()
        ctx.set(dut.grant, 0)
        ctx.set(dut.admit, 1)
        assert ctx.get(dut.want) == S | RAMP
        ctx.set(dut.grant, S | RAMP)
        assert ctx.get(dut.done) and ctx.get(dut.deq) and not ctx.get(dut.no_tx)
        await ctx.tick()
        ctx.set(dut.grant, 0)
        assert ctx.get(dut.want) == E | S | RAMP, "the next head starts with nothing sent"
        # an empty FIFO is never eligible
        ctx.set(dut.valid, 0)
        assert ctx.get(dut.want) == 0 and not ctx.get(dut.deq)

    simulate(dut, bench)


def test_head_state_empty_tx_set_drops_at_once():
    dut = HeadState()

    async def bench(ctx, dut):
        ctx.set(dut.valid, 1)
        ctx.set(dut.admit, 1)
        ctx.set(dut.tx, 0)
        assert ctx.get(dut.no_tx) and ctx.get(dut.deq) and not ctx.get(dut.done) and ctx.get(dut.want) == 0
        ctx.set(dut.admit, 0)
        assert not ctx.get(dut.no_tx) and not ctx.get(dut.deq)
        ctx.set(dut.admit, 1)
        ctx.set(dut.tx, 1 << Port.N)
        assert not ctx.get(dut.no_tx) and not ctx.get(dut.deq)
        ctx.set(dut.grant, 1 << Port.N)
        assert ctx.get(dut.done) and ctx.get(dut.deq)

    simulate(dut, bench)


# ---- RoundRobinArbiter -----------------------------------------------------------------------

@pytest.mark.parametrize("n", [5, 10])
def test_round_robin_arbiter_matches_its_model(n):
    dut = RoundRobinArbiter(n)
    rng = random.Random(n)

    async def bench(ctx, dut):
        last = None  # index of the last grant; None after reset
        for cyc in range(1500):
            req = rng.getrandbits(n) if rng.random() < 0.8 else 0
            ctx.set(dut.req, req)
            order = list(range(n)) if last is None else [*range(last + 1, n), *range(last + 1)]
            want = next((i for i in order if req >> i & 1), None)
            assert ctx.get(dut.valid) == int(req != 0), cyc
            assert ctx.get(dut.grant) == (0 if want is None else 1 << want), (cyc, req, last)
            await ctx.tick()
            if want is not None:
                last = want

    simulate(dut, bench)


def test_round_robin_arbiter_serves_every_steady_requester_in_turn():
    n = 6
    dut = RoundRobinArbiter(n)

    async def bench(ctx, dut):
        ctx.set(dut.req, (1 << n) - 1)
        seen = []
        for _ in range(2 * n):
            seen.append(ctx.get(dut.grant).bit_length() - 1)
            await ctx.tick()
        assert seen == [*range(n), *range(n)]

    simulate(dut, bench)


# ---- DropCounter and ErrorFlags --------------------------------------------------------------

def test_drop_counter_adds_and_saturates():
    dut = DropCounter(6, 4)
    rng = random.Random(3)

    async def bench(ctx, dut):
        total = 0
        for cyc in range(400):
            if cyc % 50 == 0:  # start again from a random count: the top is reached often
                total = rng.randrange(16)
                ctx.set(dut.count, total)
            drop = rng.getrandbits(6)
            ctx.set(dut.drop, drop)
            assert ctx.get(dut.count) == total, cyc
            await ctx.tick()
            total = min(15, total + bin(drop).count("1"))

    simulate(dut, bench)


def test_drop_counter_16_bits_saturates_at_65535():
    dut = DropCounter(20, 16)

    async def bench(ctx, dut):
        ctx.set(dut.count, 65532)
        ctx.set(dut.drop, 0b111)
        await ctx.tick()
        assert ctx.get(dut.count) == 65535
        ctx.set(dut.drop, (1 << 20) - 1)
        await ctx.tick()
        assert ctx.get(dut.count) == 65535
        ctx.set(dut.count, 65533)
        ctx.set(dut.drop, 1 << 19)
        await ctx.tick()
        assert ctx.get(dut.count) == 65534

    simulate(dut, bench)


def test_error_flags_are_sticky_per_bit():
    dut = ErrorFlags(5)

    async def bench(ctx, dut):
        assert ctx.get(dut.flags) == 0
        ctx.set(dut.set, 0b00100)
        assert ctx.get(dut.flags) == 0, "registered: set in the next cycle"
        await ctx.tick()
        ctx.set(dut.set, 0b10001)
        assert ctx.get(dut.flags) == 0b00100
        await ctx.tick()
        ctx.set(dut.set, 0)
        for _ in range(3):
            assert ctx.get(dut.flags) == 0b10101
            await ctx.tick()

    simulate(dut, bench)
