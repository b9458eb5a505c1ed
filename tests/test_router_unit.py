"""Quick unit checks of the router in Amaranth's own simulator (no Verilator build needed):
one-cycle traversal, per-color ready, multicast and the configuration error flag."""

from hdl.router import Router, RouterError
from hdl.router_config import cfg_addr, encode_color_route
from hdl.wavelet import Port, port_set
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
