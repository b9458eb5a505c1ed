"""cocotb side of the FPGA host bridge: a bit-level UART and a flow-controlled bridge host.

``UartLink(dut, divisor)`` drives ``dut.rx`` and decodes ``dut.tx`` one bit at a time (8N1, start
and stop bits checked), so the testbench exercises the board top's UART exactly as a USB serial
adapter would. ``BridgeHost`` speaks the frame protocol of docs/fpga.md over it with the window
rule (bytes of frames awaiting their reply <= the bridge's receive FIFO), matches every reply to
its request in order, and files host-bound wavelets by edge link.

Interface:
    UartLink(dut, divisor).start()        .write(bytes)   .on_byte = callback(int)
    BridgeHost(uart, rx_depth)
        await .inject(side, index, wavelets)      queue INJECT frames (waits only for window room)
        await .drain()                            every frame sent so far has its reply
        await .status() -> dict                   await .reset()
        await .faults() -> [{field: value} per row]   every row's fault word (hdl/fault.py)
        .wavelets {(side, index): [(color, payload, ctrl)]}   .acks [(side, index, flags)]
        await .wait_wavelets(n, max_cycles)       until n wavelets arrived in total
"""

from collections import defaultdict, deque

import cocotb
from cocotb.triggers import ClockCycles, Event, FallingEdge, ReadOnly, ReadWrite, RisingEdge

from fpga.protocol import FAULTS_FRAME, RESET_FRAME, STATUS_FRAME, FrameDecoder, flag_names, inject_frames

__all__ = ["UartLink", "BridgeHost", "BridgeProtocolError"]


class BridgeProtocolError(AssertionError):
    """The board broke the protocol: a bad character, an unexpected reply."""


class UartLink:
    def __init__(self, dut, divisor: int):
        self.dut, self.div = dut, divisor
        self._out = deque()
        self._have = Event()
        self.on_byte = None
        self.bytes_sent = self.bytes_received = 0

    def start(self):
        self.dut.rx.value = 1
        cocotb.start_soon(self._drive())
        cocotb.start_soon(self._sample())

    def write(self, data: bytes):
        self._out.extend(data)
        self._have.set()

    async def _drive(self):
        clk = self.dut.clk
        while True:
            if not self._out:
                self._have.clear()
                await self._have.wait()
            byte = self._out.popleft()
            await RisingEdge(clk)
            await ReadWrite()
            for bit in [0] + [byte >> i & 1 for i in range(8)] + [1]:
                self.dut.rx.value = bit
                await ClockCycles(clk, self.div)
                await ReadWrite()
            self.bytes_sent += 1

    async def _sample(self):
        clk, tx, div = self.dut.clk, self.dut.tx, self.div
        while True:
            await FallingEdge(tx)
            await ClockCycles(clk, div // 2)
            await ReadOnly()
            if int(tx.value) != 0:
                raise BridgeProtocolError("glitch on tx: the start bit did not last half a bit")
            value = 0
            for i in range(8):
                await ClockCycles(clk, div)
                await ReadOnly()
                value |= int(tx.value) << i
            await ClockCycles(clk, div)
            await ReadOnly()
            if int(tx.value) != 1:
                raise BridgeProtocolError(f"framing error on tx after byte {value:#04x}")
            self.bytes_received += 1
            if self.on_byte:
                self.on_byte(value)


class BridgeHost:
    def __init__(self, uart: UartLink, rx_depth: int = 512):
        self.uart, self.rx_depth = uart, rx_depth
        self.decoder = FrameDecoder()
        self.pending = deque()  # (bytes, expected reply kind) in send order
        self.in_flight = 0
        self.replies = []
        self.acks = []
        self.wavelets = defaultdict(list)
        self.received = 0
        self._event = Event()
        uart.on_byte = self._byte

    def _byte(self, b):
        for f in self.decoder.feed([b]):
            if f[0] == "wavelet":
                self.wavelets[(f[1], f[2])].append(f[3])
                self.received += 1
            else:
                if not self.pending:
                    raise BridgeProtocolError(f"unsolicited reply {f}")
                n, kind = self.pending.popleft()
                if f[0] != kind:
                    raise BridgeProtocolError(f"expected a {kind} reply, got {f}")
                self.in_flight -= n
                self.replies.append(f)
                if kind == "ack":
                    self.acks.append(f[1:])
            self._event.set()

    async def _wait_event(self):
        self._event.clear()
        await self._event.wait()

    async def send(self, frame: bytes, kind: str):
        if len(frame) > self.rx_depth:
            raise ValueError(f"a {len(frame)}-byte frame can never fit the {self.rx_depth}-byte window")
        while self.in_flight + len(frame) > self.rx_depth:
            await self._wait_event()
        self.in_flight += len(frame)
        self.pending.append((len(frame), kind))
        self.uart.write(frame)

    async def inject(self, side, index, wavelets):
        for f in inject_frames(side, index, wavelets, self.rx_depth):
            await self.send(f, "ack")

    async def drain(self):
        while self.pending:
            await self._wait_event()

    async def _request(self, frame, kind):
        await self.send(frame, kind)
        await self.drain()
        return self.replies[-1]

    async def status(self) -> dict:
        return (await self._request(STATUS_FRAME, "status"))[1]

    async def reset(self):
        await self._request(RESET_FRAME, "reset_done")

    async def faults(self) -> list:
        return (await self._request(FAULTS_FRAME, "faults"))[1]

    async def wait_wavelets(self, n: int, quiet_cycles: int):
        """Until ``n`` host-bound wavelets have arrived; fails after ``quiet_cycles`` with none."""
        clk = self.uart.dut.clk
        while self.received < n:
            seen = self.received
            await ClockCycles(clk, quiet_cycles)
            if self.received == seen:
                raise AssertionError(f"no progress: {self.received} of {n} wavelets after {quiet_cycles} quiet cycles")

    def check_acks(self):
        bad = [(s, i, flag_names(f)) for s, i, f in self.acks if f]
        assert not bad, f"ACKs reported bridge errors: {bad}"
