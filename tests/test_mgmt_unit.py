"""The management loader in Amaranth's simulator: headers select by column or broadcast, data
words become consecutive writes to the router configuration port or the PE load bus, malformed
headers select nothing and set the sticky error."""

from amaranth.sim import Simulator

from hdl.mgmt import MGMT_BROADCAST, MgmtLoader, MgmtTarget, mgmt_header
from hdl.router_config import CFG_ADDR_BITS


def run(col, stream):
    """Feed (payload, ctrl) wavelets (None = idle cycle; (payload, ctrl, 0) = idle with those
    values on the wires); return (cfg writes, load writes, error)."""
    dut = MgmtLoader()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    out = {"cfg": [], "load": [], "error": 0}

    async def bench(ctx):
        ctx.set(dut.col, col)
        for w in list(stream) + [None, None]:
            if w is None:
                ctx.set(dut.wav.valid, 0)
            else:
                ctx.set(dut.wav.valid, w[2] if len(w) > 2 else 1)
                ctx.set(dut.wav.payload.payload, w[0])
                ctx.set(dut.wav.payload.ctrl, w[1])
            assert ctx.get(dut.wav.ready)
            await ctx.tick()
            if ctx.get(dut.cfg.we):
                out["cfg"].append((ctx.get(dut.cfg.addr), ctx.get(dut.cfg.data)))
            if ctx.get(dut.load.we):
                out["load"].append((ctx.get(dut.load.addr), ctx.get(dut.load.data)))
        out["error"] = ctx.get(dut.error)

    sim.add_testbench(bench)
    sim.run()
    return out


def test_selected_column_gets_consecutive_writes():
    stream = [(mgmt_header(3, MgmtTarget.PE, 100), 1), (0xA, 0), None, (0xB, 0),
              (mgmt_header(3, MgmtTarget.ROUTER, 0x25), 1), (0xC, 0)]
    out = run(3, stream)
    assert out["load"] == [(100, 0xA), (101, 0xB)]
    assert out["cfg"] == [(0x25, 0xC)]
    assert out["error"] == 0


def test_other_columns_ignore_and_broadcast_reaches_all():
    stream = [(mgmt_header(3, MgmtTarget.PE, 7), 1), (0xA, 0),
              (mgmt_header(MGMT_BROADCAST, MgmtTarget.PE, 9), 1), (0xB, 0)]
    out = run(4, stream)
    assert out["load"] == [(9, 0xB)]


def test_malformed_header_selects_nothing_and_flags():
    stream = [(mgmt_header(1, MgmtTarget.PE, 0) | 2, 1), (0xA, 0), (mgmt_header(1, MgmtTarget.PE, 0) | 1, 1),
              (0xB, 0)]
    out = run(1, stream)
    assert out["load"] == [] and out["cfg"] == []
    assert out["error"] == 1


def test_router_words_beyond_its_space_are_not_written_and_flag():
    """The router's configuration space ends at 2**CFG_ADDR_BITS: a burst that runs past it writes
    up to the end, drops nothing silently (the rest is refused with the sticky error) and never
    aliases onto low addresses; the PE target takes the same addresses."""
    top = (1 << CFG_ADDR_BITS) - 1
    out = run(2, [(mgmt_header(2, MgmtTarget.ROUTER, top), 1), (0xA, 0), (0xB, 0), (0xC, 0)])
    assert out["cfg"] == [(top, 0xA)]
    assert out["error"] == 1
    out = run(2, [(mgmt_header(2, MgmtTarget.PE, top), 1), (0xA, 0), (0xB, 0)])
    assert out["load"] == [(top, 0xA), (top + 1, 0xB)] and out["error"] == 0


def test_long_bursts_write_every_address_and_data_bit():
    """Bursts of several words from even and odd start addresses: every address increments by one
    and every data bit (both values of bit 0 included) arrives unchanged, on both targets."""
    words = [0xFFFFFFFF, 0x00000000, 0x80000001, 0x7FFFFFFE, 0x12345679]
    stream = [(mgmt_header(2, MgmtTarget.PE, 0x201), 1), *[(w, 0) for w in words],
              (mgmt_header(2, MgmtTarget.ROUTER, 0x40), 1), *[(w, 0) for w in words]]
    out = run(2, stream)
    assert out["load"] == [(0x201 + i, w) for i, w in enumerate(words)]
    assert out["cfg"] == [(0x40 + i, w) for i, w in enumerate(words)]
    assert out["error"] == 0


def test_payload_and_ctrl_without_valid_are_ignored():
    """Idle cycles carrying a header-like or data-like word (valid low) change nothing."""
    stream = [(mgmt_header(5, MgmtTarget.PE, 0x10), 1), (0xA, 0),
              (mgmt_header(6, MgmtTarget.ROUTER, 0x3), 1, 0), (0xB, 0), (0x77, 0, 0), (0xC, 0)]
    out = run(5, stream)
    assert out["load"] == [(0x10, 0xA), (0x11, 0xB), (0x12, 0xC)] and out["cfg"] == []
    assert out["error"] == 0
