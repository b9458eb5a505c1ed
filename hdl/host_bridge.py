"""The host bridge: a flow-controlled tunnel between a byte stream (the UART) and the mesh edge.

The host injects wavelets into any edge input link and receives every wavelet that leaves any edge
output link, tagged with its side and index; it can read the mesh's row status and counters, read
every row's fault word (which tile failed, and how) and reset the mesh. The frame format is defined
in hdl/bridge_format.py (constants and link byte) and specified in docs/fpga.md; in short (bytes,
multi-byte values little-endian; ``link`` = side << 6 | index, side as in docs/wavelet.md: N=0 E=1
S=2 W=3, index = column for N/S and row for E/W; a wavelet is 5 bytes, the 38-bit ``pack_wavelet``
value; a fault word is FAULT_BYTES = 7 bytes, the 49-bit ``FaultInfo`` value of hdl/fault.py):

    host -> bridge                                  bridge -> host
    0x01 INJECT link n  w_1 .. w_n (5 bytes each)   0x91 ACK link flags        (after the last w_i entered)
    0x02 STATUS                                     0x92 STATUS len ...        (see STATUS_FIELDS)
    0x03 RESET                                      0x93 RESET-DONE
    0x04 FAULTS                                     0x94 FAULTS rows f_0 .. f_{rows-1}   (row_fault, by row)
                                                    0x90 WAVELET link w        (any time, unsolicited)

Every host frame gets exactly one reply, sent after the frame's last byte has left the receive
FIFO. Flow control: the host keeps the bytes of frames still awaiting their reply within
``rx_depth`` (reported by STATUS), so the receive FIFO never overflows. Host-bound wavelets are
buffered per output link (``out_depth`` each); a full buffer withdraws that link's ready bits,
so the mesh waits for the host instead of losing anything.

A FAULTS reply is queued row by row (one row's 7 bytes at a time, so the transmit buffer does not
grow with the mesh); each row's word is the value of ``row_fault`` when that row is queued, and no
other frame is sent in the middle of it.

Nothing is dropped silently: every frame or byte the bridge cannot use sets a sticky flag (``Flag``)
that ACK and STATUS frames report and only RESET (or power-up) clears.

Interface (``wiring.Component``; R rows, C cols, K colors, W = 38-bit wavelets):
    rx          In(stream.Signature(8))     bytes from the host (always accepted)
    tx          Out(stream.Signature(8))    bytes to the host
    uart_error  In(2)                       pulses from the UART receiver: [0] overrun, [1] framing
    {n,s}_in_valid[C] {n,s}_in_data[C*W]   Out  to the mesh's edge input links ({w,e}_*: R links)
    {n,s}_in_ready[C*K]                     In
    {n,s}_out_valid[C] {n,s}_out_data[C*W] In   from the mesh's edge output links
    {n,s}_out_ready[C*K]                    Out
    row_err[R] row_idle[R] row_halted[R]    In   the mesh's row status
    row_fault[R*FAULT_BITS]                 In   the mesh's row fault words (hdl/mesh.py, hdl/fault.py)
    mesh_rst    Out(1)                      held for RESET_CYCLES by a RESET frame
    running     Out(1)                      some PE is not idle
    error       Out(1)                      a sticky bridge flag or a row error
"""

import math

from amaranth import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from hdl.bridge_format import (
    FAULT_BYTES,
    LINK_INDEX_BITS,
    MAX_LINKS_PER_SIDE,
    PROTOCOL_VERSION,
    WAVELET_BYTES,
    Cmd,
    Flag,
    Reply,
    status_length,
)
from hdl.fault import FAULT_BITS
from hdl.profiles import get_profile
from hdl.wavelet import EDGE_SIDES, WAVELET_BITS, side_links

__all__ = ["HostBridge", "check_bridge_params", "SIDES", "RESET_CYCLES", "BridgeError"]

RESET_CYCLES = 16
SIDES = {p.letter: p for p in EDGE_SIDES}  # the bridge's port groups by their port names' prefix: n, e, s, w


class BridgeError(ValueError):
    """A mesh the bridge cannot address, or bad bridge parameters."""


def check_bridge_params(rows: int, cols: int, rx_depth: int = 512, out_depth: int = 4, timeout: int = 1 << 22):
    """BridgeError for a mesh the link byte cannot address or unusable buffer sizes."""
    for what, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_LINKS_PER_SIDE:
            raise BridgeError(f"the host bridge addresses 1..{MAX_LINKS_PER_SIDE} {what}, got {v!r}")
    if rx_depth < 16 or out_depth < 2 or timeout < 16:
        raise BridgeError("rx_depth >= 16, out_depth >= 2 and timeout >= 16 cycles are required")


class HostBridge(wiring.Component):
    def __init__(self, rows: int, cols: int, profile="small", rx_depth: int = 512, out_depth: int = 4,
                 timeout: int = 1 << 22):
        check_bridge_params(rows, cols, rx_depth, out_depth, timeout)
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)
        self.rx_depth, self.out_depth, self.timeout = rx_depth, out_depth, timeout
        K, W = self.profile.colors, WAVELET_BITS
        members = {"rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)), "uart_error": In(2)}
        for s in SIDES:
            n = self.links(s)
            members.update({f"{s}_in_valid": Out(n), f"{s}_in_data": Out(n * W), f"{s}_in_ready": In(n * K),
                            f"{s}_out_valid": In(n), f"{s}_out_data": In(n * W), f"{s}_out_ready": Out(n * K)})
        members.update(row_err=In(rows), row_idle=In(rows), row_halted=In(rows), row_fault=In(rows * FAULT_BITS),
                       mesh_rst=Out(1), running=Out(1), error=Out(1))
        super().__init__(members)

    def links(self, side) -> int:
        return side_links(side, self.rows, self.cols)

    def elaborate(self, platform):
        m = Module()
        K, W, R = self.profile.colors, WAVELET_BITS, self.rows
        flags = Signal(len(Flag))
        set_flags = Signal(len(Flag))  # this cycle's new flags, OR-ed in (several sources at once)
        cycles, injected, collected = Signal(32), Signal(32), Signal(32)
        clear = Signal()  # RESET: clear flags and counters
        m.d.sync += cycles.eq(cycles + 1)
        with m.If(clear):
            m.d.sync += [flags.eq(0), cycles.eq(0), injected.eq(0), collected.eq(0)]
        with m.Else():
            m.d.sync += flags.eq(flags | set_flags)
        m.d.comb += [set_flags[Flag.RX_OVERRUN].eq(self.uart_error[0]),
                     set_flags[Flag.RX_FRAMING].eq(self.uart_error[1])]

        # ---- receive FIFO: always accept; a byte that does not fit is lost and flagged
        m.submodules.rxq = rxq = SyncFIFOBuffered(width=8, depth=self.rx_depth)
        m.d.comb += [self.rx.ready.eq(1), rxq.w_data.eq(self.rx.payload), rxq.w_en.eq(self.rx.valid)]
        with m.If(self.rx.valid & ~rxq.w_rdy):
            m.d.comb += set_flags[Flag.RX_OVERRUN].eq(1)

        # ---- output buffers, one per edge output link; reset with the mesh
        out_links = []  # (side, index, fifo)
        for s in SIDES:
            for i in range(self.links(s)):
                fifo = ResetInserter(self.mesh_rst)(SyncFIFO(width=W, depth=self.out_depth))
                m.submodules[f"outq_{s}{i}"] = fifo
                valid = getattr(self, f"{s}_out_valid")[i]
                m.d.comb += [
                    fifo.w_en.eq(valid),
                    fifo.w_data.eq(getattr(self, f"{s}_out_data")[i * W:(i + 1) * W]),
                    # one buffer for all colors: every ready bit follows its room (a function of
                    # registered state only, so no combinational path runs back into the mesh)
                    getattr(self, f"{s}_out_ready")[i * K:(i + 1) * K].eq(fifo.w_rdy.replicate(K)),
                ]
                with m.If(valid & ~fifo.w_rdy):
                    m.d.comb += set_flags[Flag.OUT_OVERFLOW].eq(1)
                out_links.append((SIDES[s], i, fifo))

        # ---- parser
        link = Signal(8)
        count = Signal(8)
        wav = Signal(8 * WAVELET_BYTES)
        nbyte = Signal(range(WAVELET_BYTES))
        timer = Signal(range(self.timeout + 1))
        rst_timer = Signal(range(RESET_CYCLES + 1))
        reply_pending = Signal()
        reply_kind = Signal(8)
        side, index = link[LINK_INDEX_BITS:8], link[0:LINK_INDEX_BITS]
        link_ok = Signal()
        m.d.comb += link_ok.eq(0)
        for s, p in SIDES.items():
            with m.If((side == p) & (index < self.links(s))):
                m.d.comb += link_ok.eq(1)
        color = wav[32:37]
        wav_ok = (wav[WAVELET_BITS:] == 0) & (color < K)

        # the selected link's ready bit for the wavelet's color, and its valid
        sel_ready = Signal()
        send = Signal()
        for s, p in SIDES.items():
            ready = getattr(self, f"{s}_in_ready")
            valid = getattr(self, f"{s}_in_valid")
            data = getattr(self, f"{s}_in_data")
            for i in range(self.links(s)):
                hit = (side == p) & (index == i)
                with m.If(hit):
                    m.d.comb += sel_ready.eq(ready.word_select(i, K).bit_select(color, 1))
                # the link protocol: valid only while the receiver's ready bit for the color is high
                m.d.comb += [valid[i].eq(send & hit & ready.word_select(i, K).bit_select(color, 1)),
                             data[i * W:(i + 1) * W].eq(wav[:W])]

        byte = rxq.r_data
        waiting_for_host = Signal()
        with m.If(waiting_for_host & ~rxq.r_rdy):
            m.d.sync += timer.eq(timer + 1)
        with m.Else():
            m.d.sync += timer.eq(0)
        timed_out = waiting_for_host & (timer == self.timeout)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += rxq.r_en.eq(1)
                with m.If(rxq.r_rdy):
                    with m.Switch(byte):
                        with m.Case(Cmd.INJECT):
                            m.next = "LINK"
                        with m.Case(Cmd.STATUS):
                            m.d.sync += [reply_kind.eq(Reply.STATUS), reply_pending.eq(1)]
                            m.next = "REPLY"
                        with m.Case(Cmd.FAULTS):
                            m.d.sync += [reply_kind.eq(Reply.FAULTS), reply_pending.eq(1)]
                            m.next = "REPLY"
                        with m.Case(Cmd.RESET):
                            m.d.sync += rst_timer.eq(RESET_CYCLES)
                            m.next = "RESET"
                        with m.Default():
                            m.d.comb += set_flags[Flag.BAD_COMMAND].eq(1)
            with m.State("LINK"):
                m.d.comb += [rxq.r_en.eq(1), waiting_for_host.eq(1)]
                with m.If(rxq.r_rdy):
                    m.d.sync += link.eq(byte)
                    m.next = "COUNT"
                with m.Elif(timed_out):
                    m.next = "ABANDON"
            with m.State("COUNT"):
                m.d.comb += [rxq.r_en.eq(1), waiting_for_host.eq(1)]
                with m.If(rxq.r_rdy):
                    m.d.sync += [count.eq(byte), nbyte.eq(0)]
                    with m.If(~link_ok):
                        m.d.comb += set_flags[Flag.BAD_LINK].eq(1)
                    with m.If(byte == 0):
                        m.d.sync += [reply_kind.eq(Reply.ACK), reply_pending.eq(1)]
                        m.next = "REPLY"
                    with m.Else():
                        m.next = "DATA"
                with m.Elif(timed_out):
                    m.next = "ABANDON"
            with m.State("DATA"):
                m.d.comb += [rxq.r_en.eq(1), waiting_for_host.eq(1)]
                with m.If(rxq.r_rdy):
                    m.d.sync += [wav.eq(Cat(wav[8:], byte)), nbyte.eq(nbyte + 1)]
                    with m.If(nbyte == WAVELET_BYTES - 1):
                        m.d.sync += nbyte.eq(0)
                        m.next = "SEND"
                with m.Elif(timed_out):
                    m.next = "ABANDON"
            with m.State("SEND"):
                done = Signal()
                with m.If(~link_ok):
                    m.d.comb += done.eq(1)  # already flagged at COUNT
                with m.Elif(~wav_ok):
                    m.d.comb += [done.eq(1), set_flags[Flag.BAD_WAVELET].eq(1)]
                with m.Else():
                    m.d.comb += [send.eq(1), done.eq(sel_ready)]
                    with m.If(sel_ready):
                        m.d.sync += injected.eq(injected + 1)
                with m.If(done):
                    m.d.sync += count.eq(count - 1)
                    with m.If(count == 1):
                        m.d.sync += [reply_kind.eq(Reply.ACK), reply_pending.eq(1)]
                        m.next = "REPLY"
                    with m.Else():
                        m.next = "DATA"
            with m.State("ABANDON"):
                m.d.comb += set_flags[Flag.TIMEOUT].eq(1)
                m.d.sync += [reply_kind.eq(Reply.ACK), reply_pending.eq(1)]
                m.next = "REPLY"
            with m.State("RESET"):
                m.d.comb += [self.mesh_rst.eq(1), clear.eq(1)]
                m.d.sync += rst_timer.eq(rst_timer - 1)
                with m.If(rst_timer == 1):
                    m.d.sync += [reply_kind.eq(Reply.RESET_DONE), reply_pending.eq(1)]
                    m.next = "REPLY"
            with m.State("REPLY"):
                with m.If(~reply_pending):
                    m.next = "IDLE"

        # ---- transmit: one frame at a time from a shift register; the rest of a FAULTS frame first,
        # then parser replies, then the output buffers in round-robin order
        nb = math.ceil(R / 8)
        st_len = status_length(R)
        max_len = 2 + st_len
        assert max_len >= max(FAULT_BYTES, 2 + WAVELET_BYTES)
        fbuf = Signal(8 * max_len)
        flen = Signal(range(max_len + 1))
        m.d.comb += [self.tx.valid.eq(flen != 0), self.tx.payload.eq(fbuf[:8])]
        with m.If(self.tx.valid & self.tx.ready):
            m.d.sync += [fbuf.eq(fbuf[8:]), flen.eq(flen - 1)]

        def pad(v, n):
            return Cat(v, Const(0, 8 * n - len(v)))

        status = Cat(Const(Reply.STATUS, 8), Const(st_len, 8), Const(PROTOCOL_VERSION, 8), Const(self.rows, 8),
                     Const(self.cols, 8), Const(K, 8), pad(flags, 1), Const(self.rx_depth, 16),
                     cycles, injected, collected,
                     pad(self.row_err, nb), pad(self.row_idle, nb), pad(self.row_halted, nb))
        assert len(status) == 8 * max_len

        # FAULTS: the 2-byte header, then one row's FAULT_BYTES at a time
        fault_rows = Signal(range(R + 1))  # rows still to queue
        fault_row = Signal(range(max(R, 2)))  # the next one
        fault_word = self.row_fault.word_select(fault_row, FAULT_BITS)

        ptr = Signal(range(len(out_links)))
        # wavelet, side, index
        heads = Array(Cat(f.r_data, Const(p, 2), Const(i, LINK_INDEX_BITS)) for p, i, f in out_links)
        rdys = Cat(f.r_rdy for _, _, f in out_links)
        head = heads[ptr]
        with m.If(flen == 0):
            with m.If(fault_rows != 0):
                m.d.sync += [fbuf.eq(pad(fault_word, FAULT_BYTES)), flen.eq(FAULT_BYTES),
                             fault_row.eq(fault_row + 1), fault_rows.eq(fault_rows - 1)]
            with m.Elif(reply_pending):
                m.d.sync += reply_pending.eq(0)
                with m.Switch(reply_kind):
                    with m.Case(Reply.STATUS):
                        m.d.sync += [fbuf.eq(status), flen.eq(max_len)]
                    with m.Case(Reply.FAULTS):
                        m.d.sync += [fbuf.eq(Cat(Const(Reply.FAULTS, 8), Const(R, 8))), flen.eq(2),
                                     fault_row.eq(0), fault_rows.eq(R)]
                    with m.Case(Reply.ACK):
                        m.d.sync += [fbuf.eq(Cat(Const(Reply.ACK, 8), link, pad(flags | set_flags, 1))), flen.eq(3)]
                    with m.Default():
                        m.d.sync += [fbuf.eq(Const(Reply.RESET_DONE, 8)), flen.eq(1)]
            with m.Else():
                with m.If(rdys.bit_select(ptr, 1)):
                    m.d.sync += [fbuf.eq(Cat(Const(Reply.WAVELET, 8), head[W + 2:], head[W:W + 2],
                                             pad(head[:W], WAVELET_BYTES))),
                                 flen.eq(2 + WAVELET_BYTES),
                                 collected.eq(collected + 1)]
                    for k, (_, _, f) in enumerate(out_links):
                        with m.If(ptr == k):
                            m.d.comb += f.r_en.eq(1)
                # round robin: move on after every look, taken or not, so one busy link cannot
                # starve the others
                m.d.sync += ptr.eq(Mux(ptr == len(out_links) - 1, 0, ptr + 1))

        m.d.comb += [self.running.eq(~self.row_idle.all()),
                     self.error.eq((flags != 0) | self.row_err.any())]
        return m
