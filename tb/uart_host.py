"""cocotb side of the FPGA host bridge for the bridge's testbench (tb/cocotb_fpga.py): a
flow-controlled bridge host over the SDK's bit-level UART (sdk/engines/board_server.py
``UartLink``: ``dut.rx`` driven and ``dut.tx`` decoded one bit at a time, 8N1, as a USB serial
adapter would). ``BridgeHost`` speaks the frame protocol of docs/fpga.md over it with the window
rule (bytes of frames awaiting their reply <= the bridge's receive FIFO), matches every reply to
its request in order, and files host-bound wavelets by edge link.

Interface:
    BridgeHost(uart, rx_depth)
        await .inject(side, index, wavelets)      queue INJECT frames (waits only for window room)
        await .drain()                            every frame sent so far has its reply
        await .status() -> dict                   await .reset()
        await .faults() -> [{field: value} per row]   every row's fault word (hdl/fault.py)
        .wavelets {(side, index): [(color, payload, ctrl)]}   .acks [(side, index, flags)]
        await .wait_wavelets(n, max_cycles)       until n wavelets arrived in total
"""

from collections import defaultdict, deque

from cocotb.triggers import ClockCycles, Event

from sdk.engines.board_server import UartLink
from sdk.engines.bridge_protocol import FAULTS_FRAME, RESET_FRAME, STATUS_FRAME, FrameDecoder, flag_names, inject_frames

__all__ = ["UartLink", "BridgeHost", "BridgeProtocolError"]


class BridgeProtocolError(AssertionError):
    """The board broke the protocol: an unexpected reply."""


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
