"""Amaranth-simulator unit tests of the FPGA pieces: the UART (hdl/uart.py) at the bit level and the
host bridge (hdl/host_bridge.py) against a Python model of the mesh edge and of the host.

Expected values come from the stimulus itself (bytes and wavelets sent must arrive unchanged and in
order per link, fault words driven on ``row_fault`` must come back in a FAULTS frame) and from the
frame specification (hdl/bridge_format.py; sdk/engines/bridge_protocol.py decodes what the bridge sends)."""

import random

import pytest
from amaranth import Elaboratable, Module

from hdl.bridge_format import (
    FAULT_BYTES,
    PROTOCOL_VERSION,
    STATUS_FIELDS,
    Cmd,
    Flag,
    Reply,
    faults_length,
    status_length,
)
from hdl.fault import FAULT, FAULT_BITS
from hdl.host_bridge import RESET_CYCLES, BridgeError, HostBridge, check_bridge_params
from hdl.isa import ErrorCode
from hdl.mesh import EdgeLink, edge_links
from hdl.router import RouterError
from hdl.uart import UARTError, UARTRx, UARTTx, divisor_for
from hdl.wavelet import EDGE_SIDES, WAVELET_BITS, Port, pack_wavelet, unpack_wavelet
from sdk.engines.bridge_protocol import (
    FAULTS_FRAME,
    RESET_FRAME,
    STATUS_FRAME,
    FrameDecoder,
    ProtocolError,
    inject_frames,
    link_byte,
    max_wavelets_per_frame,
    parse_link,
    wavelet_bytes,
)
from tb.amaranth_sim import simulate as run

DIV = 5  # cycles per UART bit in these tests


# ---------------------------------------------------------------- UART


async def send_serial(ctx, line, byte, div=DIV, stop=1):
    """Drive one 8N1 character onto ``line`` at the bit level."""
    for bit in [0] + [byte >> i & 1 for i in range(8)] + [stop]:
        ctx.set(line, bit)
        await ctx.tick().repeat(div)
    ctx.set(line, 1)


async def recv_serial(ctx, line, div=DIV, max_wait=10_000):
    """Wait for a start bit on ``line`` and sample the character at bit centres; return (byte, stop)."""
    for _ in range(max_wait):
        if not ctx.get(line):
            break
        await ctx.tick()
    else:
        raise AssertionError("no start bit")
    await ctx.tick().repeat(div // 2)
    assert ctx.get(line) == 0, "start bit did not last half a bit"
    value = 0
    for i in range(8):
        await ctx.tick().repeat(div)
        value |= ctx.get(line) << i
    await ctx.tick().repeat(div)
    return value, ctx.get(line)


def test_divisor_and_bad_rates():
    assert divisor_for(25e6, 115200) == 217
    with pytest.raises(UARTError, match="off by"):
        divisor_for(10e6, 866_666)  # 11.54 cycles per bit: 12 gives 833 kbaud
    with pytest.raises(UARTError, match="at least 4"):
        divisor_for(25e6, 12_000_000)
    with pytest.raises(UARTError):
        UARTTx(2)


def test_uart_tx_bit_level():
    rng = random.Random(1)
    data = [rng.randrange(256) for _ in range(12)] + [0x00, 0xFF, 0x55]

    async def bench(ctx, tx):
        got = []
        # one byte handed over, then decoded off the line
        for b in data:
            ctx.set(tx.stream.payload, b)
            ctx.set(tx.stream.valid, 1)
            while not ctx.get(tx.stream.ready):  # still shifting out the previous stop bit
                await ctx.tick()
            await ctx.tick()  # the handshake happens on this edge
            ctx.set(tx.stream.valid, 0)
            value, stop = await recv_serial(ctx, tx.tx)
            assert stop == 1, "stop bit must be high"
            got.append(value)
        assert got == data

    run(UARTTx(DIV), bench)


def test_uart_rx_bit_level_framing_and_overrun():
    rng = random.Random(2)
    data = [rng.randrange(256) for _ in range(10)] + [0x00, 0xFF]

    async def bench(ctx, rx):
        got, framing, overrun = [], 0, 0

        async def collect(cycles):
            nonlocal framing, overrun
            for _ in range(cycles):
                if ctx.get(rx.stream.valid) and ctx.get(rx.stream.ready):  # handshake on the coming edge
                    got.append(ctx.get(rx.stream.payload))
                await ctx.tick()
                framing += ctx.get(rx.framing)
                overrun += ctx.get(rx.overrun)

        ctx.set(rx.stream.ready, 1)
        for b in data:
            for bit in [0] + [b >> i & 1 for i in range(8)] + [1]:
                ctx.set(rx.rx, bit)
                await collect(DIV)
        await collect(3 * DIV)
        assert got == data and framing == 0 and overrun == 0
        # a low stop bit: the byte is discarded and flagged
        for bit in [0] + [1] * 8 + [0, 0]:
            ctx.set(rx.rx, bit)
            await collect(DIV)
        ctx.set(rx.rx, 1)
        await collect(3 * DIV)
        assert framing == 1 and got == data
        # two bytes while nobody reads: the second one is lost and flagged
        ctx.set(rx.stream.ready, 0)
        for b in (0x12, 0x34):
            for bit in [0] + [b >> i & 1 for i in range(8)] + [1]:
                ctx.set(rx.rx, bit)
                await collect(DIV)
        await collect(3 * DIV)
        assert overrun == 1
        ctx.set(rx.stream.ready, 1)
        await collect(2)
        assert got == data + [0x12]

    run(UARTRx(DIV), bench)


class _Loop(Elaboratable):
    def __init__(self, div):
        self.tx, self.rx = UARTTx(div), UARTRx(div)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.rx = self.tx, self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("div", [4, 7, 16])
def test_uart_loopback(div):
    rng = random.Random(div)
    data = [rng.randrange(256) for _ in range(20)]

    async def bench(ctx, d):
        got = []
        ctx.set(d.rx.stream.ready, 1)
        pending = list(data)
        for _ in range(len(data) * 12 * div + 50):
            if pending:
                ctx.set(d.tx.stream.valid, 1)
                ctx.set(d.tx.stream.payload, pending[0])
            else:
                ctx.set(d.tx.stream.valid, 0)
            took = pending and ctx.get(d.tx.stream.ready)
            await ctx.tick()
            if took:
                pending.pop(0)
            if ctx.get(d.rx.stream.valid):
                got.append(ctx.get(d.rx.stream.payload))
        assert got == data

    run(_Loop(div), bench)


# ---------------------------------------------------------------- host bridge


class EdgeModel:
    """The testbench's mesh edge and host, advanced one clock cycle at a time.

    Mesh side: each edge input link has random per-color ready bits; every transfer is recorded.
    Wavelets queued on edge output links are presented while the bridge's ready bit allows.
    Host side: bytes are offered one per cycle on ``rx``; ``tx`` is read with random stalls."""

    def __init__(self, ctx, dut: HostBridge, rng, ready_prob=0.6, tx_stall=0.3):
        self.ctx, self.dut, self.rng = ctx, dut, rng
        self.K = dut.profile.colors
        self.ready_prob, self.tx_stall = ready_prob, tx_stall
        self.host_out = bytearray()
        self.raw = bytearray()  # every byte from the bridge
        self.got = []  # frames from the bridge
        self.decoder = FrameDecoder()
        self.injected = {}  # EdgeLink -> [(color, payload, ctrl)]
        self.to_send = {}  # EdgeLink -> [wavelet]
        self.cycle = 0
        self.row_err = self.row_idle = self.row_halted = 0
        self.row_fault = 0  # rows x FAULT_BITS

    def links(self):
        return edge_links(self.dut.rows, self.dut.cols)

    async def step(self):
        ctx, d, K, W = self.ctx, self.dut, self.K, WAVELET_BITS
        ctx.set(d.row_err, self.row_err)
        ctx.set(d.row_idle, self.row_idle)
        ctx.set(d.row_halted, self.row_halted)
        ctx.set(d.row_fault, self.row_fault)
        if self.host_out:
            ctx.set(d.rx.valid, 1)
            ctx.set(d.rx.payload, self.host_out[0])
            del self.host_out[0]  # rx.ready is always high
        else:
            ctx.set(d.rx.valid, 0)
        tx_ready = self.rng.random() >= self.tx_stall
        ctx.set(d.tx.ready, tx_ready)
        for side in EDGE_SIDES:
            s, n = side.letter, d.links(side)  # the bridge's port names: n_in_ready, ...
            ctx.set(getattr(d, f"{s}_in_ready"),
                    sum((self.rng.random() < self.ready_prob) << b for b in range(n * K)))
            out_valid, out_data = 0, 0
            out_ready = ctx.get(getattr(d, f"{s}_out_ready"))
            sending = []
            for i in range(n):
                q = self.to_send.get(EdgeLink(side, i))
                if q and out_ready >> (i * K) & 1 and self.rng.random() < 0.7:
                    out_valid |= 1 << i
                    out_data |= q[0] << (i * W)
                    sending.append(q)
            ctx.set(getattr(d, f"{s}_out_valid"), out_valid)
            ctx.set(getattr(d, f"{s}_out_data"), out_data)
            for q in sending:
                q.pop(0)
        # sample after all inputs are set (valid depends combinationally on ready)
        transfers = []
        for side in EDGE_SIDES:
            s = side.letter
            iv = ctx.get(getattr(d, f"{s}_in_valid"))
            idata = ctx.get(getattr(d, f"{s}_in_data"))
            iready = ctx.get(getattr(d, f"{s}_in_ready"))
            for i in range(d.links(side)):
                if iv >> i & 1:
                    color, payload, ctrl = unpack_wavelet(idata >> (i * W) & ((1 << W) - 1))
                    link = EdgeLink(side, i)
                    assert iready >> (i * K + color) & 1, f"valid on {link} color {color} while not ready"
                    transfers.append((link, (color, payload, ctrl)))
        txb = ctx.get(d.tx.payload) if ctx.get(d.tx.valid) and tx_ready else None
        await ctx.tick()
        self.cycle += 1
        for link, w in transfers:
            self.injected.setdefault(link, []).append(w)
        if txb is not None:
            self.raw.append(txb)
            self.got += self.decoder.feed([txb])

    async def until(self, cond, max_cycles=50_000):
        for _ in range(max_cycles):
            if cond():
                return
            await self.step()
        raise AssertionError(f"timed out after {max_cycles} cycles; frames so far: {self.got[-5:]}")

    def frames(self, kind):
        return [f for f in self.got if f[0] == kind]

    async def request(self, frame: bytes, kind: str):
        """Send one host frame and wait for its reply; return the reply."""
        before = len(self.frames(kind))
        self.host_out += frame
        await self.until(lambda: len(self.frames(kind)) > before)
        return self.frames(kind)[-1]

    async def status(self):
        return (await self.request(STATUS_FRAME, "status"))[1]


def rand_wavelets(rng, n, colors):
    return [(rng.randrange(colors), rng.randrange(1 << 32), rng.randrange(2)) for _ in range(n)]


def bridge_run(bench, rows=2, cols=3, seed=1, **kw):
    dut = HostBridge(rows, cols, "small", **kw)

    async def tb(ctx, d):
        await bench(EdgeModel(ctx, d, random.Random(seed)))

    run(dut, tb)


def test_bridge_rejects_meshes_it_cannot_address():
    with pytest.raises(BridgeError, match="1..64 cols"):
        check_bridge_params(2, 65)
    with pytest.raises(BridgeError, match="rows"):
        check_bridge_params(0, 2)
    with pytest.raises(BridgeError, match="rx_depth"):
        check_bridge_params(1, 1, rx_depth=8)


def test_inject_every_link_in_order_under_backpressure():
    """Wavelets for every edge input link arrive on that link only, in order, each after a ready
    bit for its color; each INJECT is acknowledged once; STATUS counts them."""
    async def bench(e):
        K = e.K
        want = {}
        rng = random.Random(7)
        # frames small enough that two of them exercise the count field and the window
        for link in e.links():
            ws = rand_wavelets(rng, rng.randrange(1, 9), K)
            want[link] = ws
            for f in inject_frames(link, ws, max_bytes=3 + 5 * 4):
                reply = await e.request(f, "ack")
                assert reply[1:] == (link, 0), reply
        assert e.injected == want
        st = await e.status()
        assert st["injected"] == sum(map(len, want.values())) and st["flags"] == 0
        assert (st["rows"], st["cols"], st["colors"], st["version"]) == (2, 3, K, PROTOCOL_VERSION)
        assert st["cycles"] >= e.cycle - 200

    bridge_run(bench)


def test_windowed_stream_to_one_link():
    """The host may keep several frames in flight as long as their bytes fit the receive FIFO."""
    async def bench(e):
        rng = random.Random(3)
        ws = rand_wavelets(rng, 120, e.K)
        frames = inject_frames(EdgeLink(Port.W, 1), ws, max_bytes=64)
        in_flight, acked = [], 0
        for f in frames:
            while sum(map(len, in_flight)) + len(f) > 64:
                await e.until(lambda n=acked: len(e.frames("ack")) > n)
                acked += 1
                in_flight.pop(0)
            in_flight.append(f)
            e.host_out += f
        await e.until(lambda: len(e.frames("ack")) == len(frames))
        assert e.injected == {EdgeLink(Port.W, 1): ws}
        assert (await e.status())["flags"] == 0

    bridge_run(bench, rx_depth=64)


def test_outputs_come_back_tagged_and_counted():
    async def bench(e):
        rng = random.Random(5)
        sent = {}
        for link in e.links():
            ws = [pack_wavelet(c, p, x) for c, p, x in rand_wavelets(rng, 6, e.K)]
            e.to_send[link] = list(ws)
            sent[link] = [unpack_wavelet(w) for w in ws]
        total = sum(map(len, sent.values()))
        await e.until(lambda: len(e.frames("wavelet")) == total)
        got = {}
        for _, link, (c, p, x) in e.frames("wavelet"):
            got.setdefault(link, []).append((c, p, x))
        assert got == sent
        st = await e.status()
        assert st["collected"] == total and st["flags"] == 0

    bridge_run(bench)


def test_bad_frames_set_sticky_flags_and_reset_clears():
    async def bench(e):
        K = e.K
        e.host_out += bytes([0x7F])  # unknown command
        st = await e.status()
        assert st["flags"] == 1 << Flag.BAD_COMMAND
        # a link the mesh does not have: wavelets discarded, ACK carries the flag, nothing injected
        n5 = link_byte(EdgeLink(Port.N, 5))
        ack = await e.request(bytes([Cmd.INJECT, n5, 2]) + wavelet_bytes(0, 1, 0) * 2, "ack")
        assert ack[2] & (1 << Flag.BAD_LINK)
        # a color the profile does not route, and the two spare bits of the 5-byte wavelet
        bad = [wavelet_bytes(K, 1, 0), (pack_wavelet(0, 1, 0) | 1 << 39).to_bytes(5, "little")]
        good = (3, 0xDEADBEEF, 1)
        e1 = link_byte(EdgeLink(Port.E, 1))
        ack = await e.request(bytes([Cmd.INJECT, e1, 3]) + b"".join(bad) + wavelet_bytes(*good), "ack")
        assert ack[2] & (1 << Flag.BAD_WAVELET)
        assert e.injected == {EdgeLink(Port.E, 1): [good]}, "bad wavelets must not reach the mesh; good ones must"
        e.row_err, e.row_idle, e.row_halted = 0b10, 0b01, 0b10
        st = await e.status()
        want = {Flag.BAD_COMMAND, Flag.BAD_LINK, Flag.BAD_WAVELET}
        assert st["flags"] == sum(1 << f for f in want)
        assert (st["row_err"], st["row_idle"], st["row_halted"]) == ([0, 1], [1, 0], [0, 1])
        # RESET: mesh reset held for RESET_CYCLES, flags and counters cleared
        resets = []
        n0 = e.cycle
        e.host_out += RESET_FRAME
        while not e.frames("reset_done"):
            if e.ctx.get(e.dut.mesh_rst):
                resets.append(e.cycle)
            await e.step()
        assert len(resets) == RESET_CYCLES and resets[0] > n0
        st = await e.status()
        assert st["flags"] == 0 and st["injected"] == 0 and st["collected"] == 0
        assert st["cycles"] < e.cycle - resets[-1] + 100

    bridge_run(bench)


def test_truncated_frame_times_out_and_is_acknowledged():
    async def bench(e):
        e.host_out += bytes([Cmd.INJECT, link_byte(EdgeLink(Port.W, 0)), 2]) + wavelet_bytes(1, 2, 0)[:3]
        await e.until(lambda: e.frames("ack"), max_cycles=2000)
        assert e.frames("ack")[0][2] == 1 << Flag.TIMEOUT
        assert e.injected == {}
        # the bridge is usable afterwards
        ack = await e.request(inject_frames(EdgeLink(Port.W, 0), [(1, 2, 0)])[0], "ack")
        assert e.injected == {EdgeLink(Port.W, 0): [(1, 2, 0)]} and ack[2] == 1 << Flag.TIMEOUT

    bridge_run(bench, timeout=200)


def test_overrunning_the_receive_fifo_is_flagged():
    """A host that ignores the window while the mesh stalls loses bytes, and is told so."""
    async def bench(e):
        e.ready_prob = 0.0  # the mesh accepts nothing
        ws = rand_wavelets(random.Random(1), 20, e.K)
        e.host_out += b"".join(inject_frames(EdgeLink(Port.S, 0), ws, max_bytes=1024))
        await e.until(lambda: not e.host_out)
        e.ready_prob = 1.0
        await e.until(lambda: e.frames("ack") or e.frames("status"), max_cycles=3000)
        st = await e.status()
        assert st["flags"] & (1 << Flag.RX_OVERRUN)

    bridge_run(bench, rx_depth=32, timeout=300)


def _fault_words(rng, rows, cols):
    """One FaultInfo word per row: a decoded PE error, every bit set, no fault, random bits."""
    pe_error = FAULT.pack({"valid": 1, "col": cols - 1, "pe_status.code": ErrorCode.SRAM_RANGE,
                           "pe_status.halted": 1, "pe_status.task": 3, "pe_status.pc": 0x1234})
    kinds = [pe_error, (1 << FAULT_BITS) - 1, 0]
    return [kinds[r] if r < len(kinds) else rng.randrange(1 << FAULT_BITS) | 1 for r in range(rows)]


@pytest.mark.parametrize("rows", [1, 4])
def test_bridge_answers_faults_with_row_fault(rows):
    """FAULTS is answered with every row's ``row_fault`` word, byte for byte as specified (0x94,
    rows, FAULT_BYTES little-endian bytes per row); a later FAULTS sees the new values; WAVELET
    frames going out at the same time never cut into it; the other frames still work."""
    words = _fault_words(random.Random(rows), rows, 3)

    async def bench(e):
        e.row_fault = sum(w << (r * FAULT_BITS) for r, w in enumerate(words))
        await e.request(FAULTS_FRAME, "faults")
        want = bytes([Reply.FAULTS, rows]) + b"".join(w.to_bytes(FAULT_BYTES, "little") for w in words)
        assert bytes(e.raw) == want, f"FAULTS frame {bytes(e.raw).hex()} != {want.hex()}"
        assert e.frames("faults")[-1][1] == [FAULT.unpack(w) for w in words]
        # new values, and host-bound wavelets on every output link meanwhile
        rng = random.Random(8)
        sent = {}
        for link in e.links():
            ws = rand_wavelets(rng, 3, e.K)
            e.to_send[link] = [pack_wavelet(*w) for w in ws]
            sent[link] = ws
        words2 = words[::-1]
        e.row_fault = sum(w << (r * FAULT_BITS) for r, w in enumerate(words2))
        for _ in range(2):
            reply = await e.request(FAULTS_FRAME, "faults")
            assert reply[1] == [FAULT.unpack(w) for w in words2]
        total = sum(map(len, sent.values()))
        await e.until(lambda: len(e.frames("wavelet")) == total)
        got = {}
        for _, link, w in e.frames("wavelet"):
            got.setdefault(link, []).append(w)
        assert got == sent
        st = await e.status()
        assert st["flags"] == 0 and st["version"] == PROTOCOL_VERSION and st["collected"] == total

    bridge_run(bench, rows=rows)


def test_faults_frame_decoder_round_trip():
    """The decoder reads the FAULTS layout of hdl/bridge_format.py fed a byte at a time, between
    other frames; FAULT.pack of what it returns gives the words back; a word wider than
    FAULT_BITS is refused."""
    rng = random.Random(9)
    words = _fault_words(rng, 5, 7)
    words[4] = FAULT.pack({"valid": 1, "col": 2, "router_errors": 1 << RouterError.RX_VIOLATION})
    assert FAULT_BYTES == 7 and faults_length(5) == 35 and Cmd.FAULTS == 0x04 and Reply.FAULTS == 0x94
    frame = bytes([Reply.FAULTS, len(words)]) + b"".join(w.to_bytes(FAULT_BYTES, "little") for w in words)
    e1 = link_byte(EdgeLink(Port.E, 1))
    stream = bytes([Reply.RESET_DONE]) + frame + bytes([Reply.WAVELET, e1]) + wavelet_bytes(2, 7, 0)
    dec, frames = FrameDecoder(), []
    for b in stream:
        frames += dec.feed([b])
    assert [f[0] for f in frames] == ["reset_done", "faults", "wavelet"]
    rows = frames[1][1]
    assert [FAULT.pack(r) for r in rows] == words
    assert rows[0]["pe_status.code"] == ErrorCode.SRAM_RANGE and rows[0]["pe_status.pc"] == 0x1234
    assert rows[0]["col"] == 6 and rows[4]["router_errors"] == 1 << RouterError.RX_VIOLATION
    assert rows[2]["valid"] == 0 and FrameDecoder().feed(bytes([Reply.FAULTS, 0])) == [("faults", [])]
    with pytest.raises(ProtocolError, match="beyond 49"):
        FrameDecoder().feed(bytes([Reply.FAULTS, 1]) + (1 << FAULT_BITS).to_bytes(FAULT_BYTES, "little"))


def test_frame_sizes_follow_the_window():
    assert max_wavelets_per_frame(512) == 101
    for f in inject_frames(EdgeLink(Port.N, 0), [(0, k, 0) for k in range(250)], max_bytes=512):
        assert len(f) <= 512


# ---------------------------------------------------------------- build checks (fpga/build.py)


def test_fit_check_names_the_overflowing_resource():
    from fpga.build import DEVICE_CAPACITY, FitError, check_fit, parse_utilisation

    cap = DEVICE_CAPACITY["LFE5U-85F"]
    ok = {"luts": cap["LUT4"] // 2, "carry_ccu2c": 0, "lutram_dpr16x4": 0, "ffs": 10, "brams": 1, "mults": 1}
    check_fit(ok, "LFE5U-85F", "a 1x1 mesh")
    with pytest.raises(FitError, match=r"a 1x3 mesh does not fit the LFE5U-85F: MULT18X18D: needs 157 of 156"):
        check_fit(dict(ok, mults=cap["MULT18X18D"] + 1), "LFE5U-85F", "a 1x3 mesh")
    # carry cells take two LUT4 sites each
    with pytest.raises(FitError, match="LUT4"):
        check_fit(dict(ok, carry_ccu2c=cap["LUT4"] // 4 + 1), "LFE5U-85F", "x")
    # nextpnr's utilisation block (as printed by nextpnr-ecp5)
    log = (f"Info: Device utilisation:\nInfo: \t        TRELLIS_COMB: {cap['LUT4'] + 5}/{cap['LUT4']:>7}   100%\n"
           f"Info: \t          DP16KD:     3/   {cap['DP16KD']}     1%\n")
    assert parse_utilisation(log) == {"TRELLIS_COMB": (cap["LUT4"] + 5, cap["LUT4"]), "DP16KD": (3, cap["DP16KD"])}


def test_pll_settings_within_ecp5_limits():
    from fpga.top import PLLError, pll_params

    for fin, fout in ((100e6, 25e6), (25e6, 50e6), (25e6, 12.5e6), (100e6, 40e6)):
        p = pll_params(fin, fout)
        pfd = fin / p["CLKI_DIV"]
        assert 3.125e6 <= pfd <= 400e6 and 400e6 <= pfd * p["CLKFB_DIV"] * p["CLKOP_DIV"] <= 800e6
        assert abs(pfd * p["CLKFB_DIV"] - fout) <= 0.005 * fout
    with pytest.raises(PLLError, match="cannot make 900 MHz"):
        pll_params(25e6, 900e6)


# ---------------------------------------------------------------- serial host (sdk/engines/bridge.py, fpga/host.py)


class FakePort:
    """A serial port whose far end models the bridge at the frame level: a 1 x 1 mesh whose west
    input is wired to its east output, a receive FIFO of ``rx_depth`` bytes that is worked off only
    when the host reads (so a host that ignores the window overflows it), replies in order."""

    def __init__(self, rx_depth=40, colors=8):
        self.rx_depth, self.colors = rx_depth, colors
        self.version = PROTOCOL_VERSION
        self.fault = 0  # the 1 x 1 mesh's row_fault
        self.fifo = bytearray()
        self.out = bytearray()
        self.overflowed = False
        self.injected = 0
        self._fields, self._reply, self._len = STATUS_FIELDS, Reply, status_length(1)

    def write(self, data):
        self.fifo += data
        self.overflowed |= len(self.fifo) > self.rx_depth

    def _status(self):
        vals = {"version": self.version, "rows": 1, "cols": 1, "colors": self.colors, "flags": 0,
                "rx_depth": self.rx_depth,
                "cycles": 1000, "injected": self.injected, "collected": self.injected,
                "row_err": 0, "row_idle": 1, "row_halted": 0}
        body = b"".join(vals[n].to_bytes(k or 1, "little") for n, k in self._fields)
        return bytes([self._reply.STATUS, self._len]) + body

    def _work(self):
        while self.fifo:
            cmd = self.fifo[0]
            if cmd == Cmd.STATUS:
                del self.fifo[:1]
                self.out += self._status()
            elif cmd == Cmd.RESET:
                del self.fifo[:1]
                self.out.append(self._reply.RESET_DONE)
            elif cmd == Cmd.FAULTS and self.version >= 2:
                del self.fifo[:1]
                self.out += bytes([self._reply.FAULTS, 1]) + self.fault.to_bytes(FAULT_BYTES, "little")
            else:
                n = self.fifo[2]
                if len(self.fifo) < 3 + 5 * n:
                    return
                frame = bytes(self.fifo[:3 + 5 * n])
                del self.fifo[:3 + 5 * n]
                e0 = link_byte(EdgeLink(Port.E, 0))
                for k in range(n):  # west input wired to the east output
                    self.out += bytes([self._reply.WAVELET, e0]) + frame[3 + 5 * k:8 + 5 * k]
                self.injected += n
                self.out += bytes([self._reply.ACK, frame[1], 0])

    def read(self, n):
        self._work()
        data = bytes(self.out[:3])  # a few bytes at a time, like a serial port with a timeout
        del self.out[:3]
        return data


def test_serial_client_keeps_the_window_and_files_wavelets():
    from sdk.engines.bridge import BridgeClient, BridgeTimeout

    port = FakePort(rx_depth=40)
    client = BridgeClient(port, timeout=0.2)
    assert client.shape == (1, 1, 8) and client.rx_depth == 40
    ws = rand_wavelets(random.Random(4), 50, 8)
    w0, e0 = EdgeLink(Port.W, 0), EdgeLink(Port.E, 0)
    client.inject(w0, ws)
    client.drain()
    client.wait_wavelets(50)
    assert not port.overflowed, "the client sent more bytes than the receive FIFO holds"
    assert client.wavelets == {e0: ws} and len(client.acks) == len(inject_frames(w0, ws, 40))
    assert client.status()["injected"] == 50 and not client.errors()
    client.reset()
    with pytest.raises(BridgeTimeout):
        client.wait_wavelets(51)


def test_serial_client_reads_faults():
    from sdk.engines.bridge import BridgeClient

    port = FakePort()
    client = BridgeClient(port, timeout=0.2)
    assert client.faults() == [FAULT.unpack(0)]
    port.fault = _fault_words(random.Random(1), 1, 1)[0]
    assert client.faults() == [FAULT.unpack(port.fault)] and client.faults()[0]["valid"] == 1
    old = FakePort()
    old.version = 1  # a bitstream from before FAULTS: refused before anything is sent
    with pytest.raises(ConnectionError, match="protocol version 1; FAULTS needs version 2"):
        BridgeClient(old, timeout=0.2).faults()


class KernelBoard(FakePort):
    """A stand-in for a board running the GEMM demo, at the wavelet level: management wavelets come
    back as the mesh's echo (west link r -> east link r); once a job's data wavelets are all in, it
    answers with the result wavelets a correct mesh sends (the golden results in the hardware's
    framing). It checks the host's side of ``fpga.host gemm``: streams, flow control, decoding."""

    def __init__(self, rows, cols, jobs, rx_depth=200, colors=8):
        super().__init__(rx_depth=rx_depth, colors=colors)
        self.rows, self.cols = rows, cols
        self.jobs = list(jobs)  # [(data wavelets expected, {EdgeLink: [(color, payload, ctrl)]})]
        self.data_in = 0
        self._len = status_length(rows)

    def _status(self):
        vals = {"version": self.version, "rows": self.rows, "cols": self.cols, "colors": self.colors, "flags": 0,
                "rx_depth": self.rx_depth, "cycles": 1000 + self.injected, "injected": self.injected,
                "collected": 0, "row_err": 0, "row_idle": (1 << self.rows) - 1, "row_halted": 0}
        body = b"".join(vals[n].to_bytes(k or 1, "little") for n, k in self._fields)
        return bytes([self._reply.STATUS, self._len]) + body

    def _work(self):
        while self.fifo:
            cmd = self.fifo[0]
            if cmd in (Cmd.STATUS, Cmd.RESET):
                del self.fifo[:1]
                self.out += self._status() if cmd == Cmd.STATUS else bytes([self._reply.RESET_DONE])
                continue
            n = self.fifo[2]
            if len(self.fifo) < 3 + 5 * n:
                return
            frame = bytes(self.fifo[:3 + 5 * n])
            del self.fifo[:3 + 5 * n]
            link = parse_link(frame[1])
            for k in range(n):
                w = frame[3 + 5 * k:8 + 5 * k]
                color, payload, ctrl = unpack_wavelet(int.from_bytes(w, "little"))
                if color == self.colors - 1:  # management: the echo leaves the row's east link
                    self.out += bytes([self._reply.WAVELET, link_byte(EdgeLink(Port.E, link.index))]) + w
                else:
                    self.data_in += 1
            self.injected += n
            self.out += bytes([self._reply.ACK, frame[1], 0])
            if self.jobs and self.data_in == self.jobs[0][0]:
                _, outputs = self.jobs.pop(0)
                self.data_in = 0
                for out_link, ws in outputs.items():
                    for c, p, x in ws:
                        self.out += bytes([self._reply.WAVELET, link_byte(out_link)]) + wavelet_bytes(c, p, x)


def _data_wavelets(case) -> int:
    return sum(len(ws) for _, ws in case.feeds().values())


def _golden_outputs(case, golden=None):
    """The result wavelets a correct mesh sends for a case (sdk/readout.py ``encode``, the inverse
    of the kernels' decode), by EdgeLink."""
    golden = case.golden() if golden is None else golden
    return {link: [tuple(w) for w in ws] for link, ws in case.outputs(golden).items()}


def test_serial_gemm_demo_against_a_stand_in_board():
    from fpga.host import gemm_demo
    from sdk.cases import gemm_case, gemv_case
    from sdk.engines.bridge import BridgeClient, BridgeEngine

    rows, cols, (m, k, n), seed = 2, 3, (9, 20, 11), 5
    cases = [gemm_case(rows, cols, m, k, n, "f16", seed=seed), gemv_case(rows, cols, m, k, 0.3, seed=seed)]
    jobs = [(_data_wavelets(c), _golden_outputs(c)) for c in cases]
    port = KernelBoard(rows, cols, jobs)
    recs = gemm_demo(BridgeEngine(BridgeClient(port, timeout=0.5)), m, k, n, "f16", 0.3, seed)
    assert not port.overflowed, "the client sent more bytes than the receive FIFO holds"
    assert [r["kind"] for r in recs] == ["gemm", "gemv"] and all(r["bit_exact"] for r in recs), recs
    assert port.jobs == [], "the board stand-in did not receive every data wavelet of both jobs"
    # a wrong result is reported, not hidden
    bad = _golden_outputs(cases[0])
    link = EdgeLink(Port.W, 0)  # the tile of PE (0, 0): its first value is C[0, 0], not padding
    bad[link][0] = (bad[link][0][0], bad[link][0][1] ^ 1, 0)
    port = KernelBoard(rows, cols, [(jobs[0][0], bad), jobs[1]])
    recs = gemm_demo(BridgeEngine(BridgeClient(port, timeout=0.5)), m, k, n, "f16", 0.3, seed)
    assert not recs[0]["bit_exact"] and recs[0]["mismatches"] == 1


def test_serial_gemm_demo_takes_the_profile_from_the_board():
    """An ``fpga``-profile board (5 colors, as the PE bitstream): the host finds the profile from
    STATUS; naming another profile is refused with the reason."""
    from fpga.host import gemm_demo
    from sdk.cases import gemm_case, gemv_case
    from sdk.engines.bridge import BridgeClient, BridgeEngine, board_profile

    rows, cols, (m, k, n), seed = 1, 1, (6, 10, 7), 3
    cases = [gemm_case(rows, cols, m, k, n, "f16", "fpga", seed), gemv_case(rows, cols, m, k, 0.5, "fpga", seed)]
    jobs = [(_data_wavelets(c), _golden_outputs(c)) for c in cases]
    port = KernelBoard(rows, cols, jobs, colors=5)
    client = BridgeClient(port, timeout=0.5)
    assert board_profile(client) == "fpga"
    recs = gemm_demo(BridgeEngine(client), m, k, n, "f16", 0.5, seed)
    assert all(r["bit_exact"] and r["profile"] == "fpga" for r in recs) and port.jobs == [], recs
    with pytest.raises(ValueError, match="the board's mesh has 5 colors, profile small has 8"):
        BridgeEngine(client, "small")
    with pytest.raises(ValueError, match="no known profile has that many"):
        board_profile(BridgeClient(FakePort(colors=6), timeout=0.5))



# ---- the frame decoder with a slow host, short frames, the UART's error pulses, collection -----

class _SlowHost(EdgeModel):
    """Offers the host's bytes one every ``gap`` cycles, as a UART at a low baud rate does."""

    gap = 9

    async def step(self):
        held = None
        if self.host_out and self.cycle % self.gap:
            held, self.host_out = self.host_out, bytearray()
        await super().step()
        if held is not None:
            self.host_out = held


def _slow_run(bench, gap, **kw):
    dut = HostBridge(2, 3, "small", **kw)

    async def tb(ctx, d):
        e = _SlowHost(ctx, d, random.Random(3))
        e.gap = gap
        await bench(e)

    run(dut, tb)


def test_bytes_spaced_out_below_the_timeout_make_whole_frames():
    async def bench(e):
        ws = [(1, 0x1234, 0), (2, 0xABCD, 1)]
        ack = await e.request(inject_frames(EdgeLink(Port.W, 1), ws)[0], "ack")
        assert ack[2] == 0 and e.injected == {EdgeLink(Port.W, 1): ws}
        assert (await e.status())["flags"] == 0

    _slow_run(bench, gap=9, timeout=64)


@pytest.mark.parametrize("cut", [1, 2], ids=["after_command", "after_link"])
def test_a_frame_cut_after_its_command_or_link_byte_times_out(cut):
    async def bench(e):
        e.host_out += bytes([Cmd.INJECT, link_byte(EdgeLink(Port.W, 0)), 3])[:cut]
        await e.until(lambda: e.frames("ack"), max_cycles=1000)
        assert e.frames("ack")[0][2] == 1 << Flag.TIMEOUT and e.injected == {}

    bridge_run(bench, timeout=64)


def test_an_inject_of_no_wavelets_is_acknowledged():
    async def bench(e):
        ack = await e.request(bytes([Cmd.INJECT, link_byte(EdgeLink(Port.N, 2)), 0]), "ack")
        assert ack[2] == 0 and e.injected == {}

    bridge_run(bench)


@pytest.mark.parametrize("pulse, flag", [(0b01, Flag.RX_OVERRUN), (0b10, Flag.RX_FRAMING)])
def test_each_uart_error_pulse_sets_its_own_flag(pulse, flag):
    async def bench(e):
        e.ctx.set(e.dut.uart_error, pulse)
        await e.step()
        e.ctx.set(e.dut.uart_error, 0)
        assert (await e.status())["flags"] == 1 << flag

    bridge_run(bench)


def test_error_output_follows_the_flags_and_the_rows():
    """``error`` (the board's LED) is low on a clean bridge, high once a flag is set, and high while
    a row reports an error."""
    async def bench(e):
        await e.step()
        assert not e.ctx.get(e.dut.error)
        e.row_err = 0b01
        await e.step()
        assert e.ctx.get(e.dut.error)
        e.row_err = 0
        await e.step()
        assert not e.ctx.get(e.dut.error)
        e.host_out += bytes([0x7F])  # an unknown command sets BAD_COMMAND
        await e.until(lambda: e.ctx.get(e.dut.error), max_cycles=100)

    bridge_run(bench)


def test_every_output_link_is_looked_at_once_per_round():
    """The collector's round robin looks at one output link per cycle, taken or not, and at every
    link once per round of the n links: a wavelet waiting alone on a link is framed after the
    pipeline's cycles plus 0 to n - 1 cycles of waiting for its turn, depending on the phase it came
    in at (the spread over phases is n - 1 at most, and is reached)."""
    async def bench(e):
        e.tx_stall = 0.0
        links = e.links()
        n = len(links)
        waits = {}
        for k, link in enumerate(links):
            for delay in range(2 * n):  # the phases of the round robin
                for _ in range(delay):
                    await e.step()
                before = len(e.frames("wavelet"))
                e.to_send[link] = [pack_wavelet(1, k, 0)]
                while e.to_send[link]:  # the edge presents it when it likes: time from the transfer
                    await e.step()
                start = e.cycle
                while len(e.frames("wavelet")) == before:
                    await e.step()
                    assert e.cycle - start < 10 * n, f"{link}: never collected"
                waits.setdefault(link, []).append(e.cycle - start)
        spread = {link: max(w) - min(w) for link, w in waits.items()}
        assert max(spread.values()) == n - 1, f"turn waits per link for {n} links: {spread}"

    bridge_run(bench)
