"""The repair cell (hdl/repair_cell.py) in Amaranth's simulator: a fused cell passes its row's
links through one bypass stage, lossless and in order under random backpressure at one wavelet per
cycle, and hides its tile; an unfused cell joins the tile to its links; the north/south inputs
listen to the selected candidate and the slot's ready is the selected cell's."""

import random

from amaranth.sim import Simulator

from hdl.repair_cell import RepairCell

COLORS, K = 4, 2


def _wavelet(color, payload):
    return {"payload": payload, "color": color, "ctrl": 0}


def _sim(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_fused_cell_bypasses_the_row_lossless_at_full_rate():
    dut = RepairCell(COLORS, K)
    rng = random.Random(3)
    sent, got, n = [], [], 400
    out = {}

    async def bench(ctx):
        ctx.set(dut.fused, 1)
        ctx.set(dut.t_in_w.ready, (1 << COLORS) - 1)  # a tile that would take everything: it must see nothing
        k = 0
        cycles = 0
        free_cycles = 0
        while len(got) < n and cycles < 10 * n:
            stall = rng.random() < 0.3 if cycles < 2 * n else False
            ctx.set(dut.e_out.ready, 0 if stall else (1 << COLORS) - 1)
            if k < n:
                color = k % COLORS
                ready = ctx.get(dut.w_in.ready)
                ctx.set(dut.w_in.valid, ready >> color & 1)
                ctx.set(dut.w_in.data, _wavelet(color, k))
                if ready >> color & 1:
                    sent.append((color, k))
                    k += 1
            else:
                ctx.set(dut.w_in.valid, 0)
            assert not ctx.get(dut.t_in_w.valid), "a fused tile sees traffic"
            if ctx.get(dut.e_out.valid):
                w = ctx.get(dut.e_out.data)
                if ctx.get(dut.e_out.ready) >> w.color & 1:
                    got.append((w.color, w.payload))
            free_cycles += not stall
            await ctx.tick()
            cycles += 1
        out["err"] = ctx.get(dut.err)
        out["idle"] = ctx.get(dut.idle)

    _sim(dut, bench)
    assert got == sent and len(got) == n
    assert out == {"err": 0, "idle": 1}


def test_fused_bypass_streams_one_wavelet_per_cycle_one_cycle_late():
    dut = RepairCell(COLORS, K)
    arrivals = []

    async def bench(ctx):
        ctx.set(dut.fused, 1)
        ctx.set(dut.e_out.ready, (1 << COLORS) - 1)
        for k in range(40):
            assert ctx.get(dut.w_in.ready) & 1
            ctx.set(dut.w_in.valid, k < 32)
            ctx.set(dut.w_in.data, _wavelet(0, k))
            if ctx.get(dut.e_out.valid):
                arrivals.append((k, ctx.get(dut.e_out.data).payload))
            await ctx.tick()

    _sim(dut, bench)
    assert arrivals == [(k + 1, k) for k in range(32)]  # one extra cycle, back to back


def test_unfused_cell_joins_the_tile_and_selects_its_vertical_neighbours():
    dut = RepairCell(COLORS, K)

    async def bench(ctx):
        ctx.set(dut.fused, 0)
        # east-west: straight to the tile and from it
        ctx.set(dut.w_in.valid, 1)
        ctx.set(dut.w_in.data, _wavelet(1, 0xAB))
        ctx.set(dut.t_in_w.ready, 0b0010)
        ctx.set(dut.t_out_e.valid, 1)
        ctx.set(dut.t_out_e.data, _wavelet(2, 0xCD))
        ctx.set(dut.e_out.ready, 0b0100)
        await ctx.delay(1e-9)
        assert ctx.get(dut.t_in_w.valid) and ctx.get(dut.t_in_w.data).payload == 0xAB
        assert ctx.get(dut.w_in.ready) == 0b0010
        assert ctx.get(dut.e_out.valid) and ctx.get(dut.e_out.data).payload == 0xCD
        assert ctx.get(dut.t_out_e.ready) == 0b0100
        # north input: each candidate in turn
        for sel in range(2 * K + 1):
            ctx.set(dut.n_sel, sel)
            ctx.set(dut.n_cand_valid, 1 << sel)
            ctx.set(dut.n_cand_data, [_wavelet(0, 100 + j) for j in range(2 * K + 1)])
            ctx.set(dut.t_in_n.ready, 0b1001)
            await ctx.delay(1e-9)
            assert ctx.get(dut.t_in_n.valid) and ctx.get(dut.t_in_n.data).payload == 100 + sel
            assert ctx.get(dut.n_ready) == 0b1001
            ctx.set(dut.n_cand_valid, ((1 << (2 * K + 1)) - 1) & ~(1 << sel))
            await ctx.delay(1e-9)
            assert not ctx.get(dut.t_in_n.valid), "listened to a candidate not selected"
            # the south slot's ready: the selected cell below's published ready
            ctx.set(dut.sr_sel, sel)
            ctx.set(dut.s_rdy_cand, [1 << (j % COLORS) for j in range(2 * K + 1)])
            await ctx.delay(1e-9)
            assert ctx.get(dut.s_rdy) == 1 << (sel % COLORS)
        # fused: the tile disappears from every link
        ctx.set(dut.fused, 1)
        ctx.set(dut.t_err, 1)
        await ctx.delay(1e-9)
        assert not ctx.get(dut.t_in_n.valid) and ctx.get(dut.n_ready) == 0 and ctx.get(dut.s_rdy) == 0
        assert not ctx.get(dut.e_out.valid) and ctx.get(dut.err) == 0

    _sim(dut, bench)
