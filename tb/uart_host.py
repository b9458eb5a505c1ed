"""cocotb side of the FPGA host bridge for the bridge's testbench (tb/cocotb_fpga.py): a
flow-controlled bridge host over the SDK's bit-level UART (sdk/cosim/board_server.py
``UartLink``: ``dut.rx`` driven and ``dut.tx`` decoded one bit at a time, 8N1, as a USB serial
adapter would). ``BridgeHost`` speaks the frame protocol of docs/fpga.md over it with the window
rule (bytes of frames awaiting their reply <= the bridge's receive FIFO), matches every reply to
its request in order, and files host-bound wavelets by edge link.

Interface:
    BridgeHost(uart, rx_depth)
        await .inject(link, wavelets)             queue INJECT frames into an hdl.mesh.EdgeLink (waits
                                                  only for window room)
        await .drain()                            every frame sent so far has its reply
        await .status() -> dict                   await .reset()
        await .faults() -> [{field: value} per row]   every row's fault word (hdl/fault.py)
        .wavelets {EdgeLink: [Wavelet]}   .acks [(EdgeLink, flags)]
        await .wait_wavelets(n, max_cycles)       until n wavelets arrived in total
"""


from cocotb.triggers import ClockCycles, Event

from sdk.cosim.board_server import UartLink
from sdk.engines.bridge_protocol import FAULTS_FRAME, RESET_FRAME, STATUS_FRAME, FrameLedger, inject_frames

__all__ = ["BridgeHost"]


class BridgeHost(FrameLedger):
    def __init__(self, uart: UartLink, rx_depth: int = 512):
        super().__init__(rx_depth)
        self.uart = uart
        self._event = Event()
        uart.on_byte = self._byte

    def _byte(self, b):
        if self.feed([b]):
            self._event.set()

    async def _wait_event(self):
        self._event.clear()
        await self._event.wait()

    async def send(self, frame: bytes, kind: str):
        while not self.fits(frame):
            await self._wait_event()
        self.sent(frame, kind)
        self.uart.write(frame)

    async def inject(self, link, wavelets):
        for f in inject_frames(link, wavelets, self.rx_depth):
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
        assert not self.errors(), f"ACKs reported bridge errors: {self.errors()}"
