"""The simulator side of the "fpga-sim" engine: the board core's UART as a byte stream on a socket.

``serve`` runs inside the simulator (cocotb on Verilator) on the board core (hdl/board_core.py:
UART + host bridge + mesh, module ``tessera_fpga_core``). It connects to the Unix socket of the host
(sdk/engines/bridge.py ``SimulatedBoard``) and, while the simulation runs, turns every byte the host
writes into a UART character on ``rx`` (start bit, 8 data bits LSB first, stop bit; ``divisor``
clock cycles per bit) and every character the core sends on ``tx`` (start and stop bits checked)
into a byte for the host: what a USB serial adapter does for a board. The host's side is the same
BridgeClient that talks to a board. It ends when the host closes the socket.

Interface:
    UartLink(dut, divisor).start()   .write(bytes)   .on_byte = callback(int)
                                     .bytes_sent / .bytes_received       (also used by tb/)
    UartError                        a glitch or framing error on tx
    await start_core(dut, divisor) -> UartLink   clock and reset the core, start its UART link
    serve(dut)                       the cocotb test (config: socket, divisor)
"""

from __future__ import annotations

import socket
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, ReadOnly, ReadWrite, RisingEdge

from ..builds.verilator import tb_config
from .lifeline import watch_host

__all__ = ["UartLink", "UartError", "start_core", "serve"]


class UartError(AssertionError):
    """A bad character on the core's tx line."""


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
                raise UartError("glitch on tx: the start bit did not last half a bit")
            value = 0
            for i in range(8):
                await ClockCycles(clk, div)
                await ReadOnly()
                value |= int(tx.value) << i
            await ClockCycles(clk, div)
            await ReadOnly()
            if int(tx.value) != 1:
                raise UartError(f"framing error on tx after byte {value:#04x}")
            self.bytes_received += 1
            if self.on_byte:
                self.on_byte(value)


async def start_core(dut, divisor: int) -> UartLink:
    """Clock the board core, reset it, and start a UartLink on its rx/tx lines."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    await ReadWrite()
    dut.rst.value = 0
    uart = UartLink(dut, divisor)
    uart.start()
    return uart


@cocotb.test()
async def serve(dut):
    cfg = tb_config()
    watch_host(cfg)
    div = cfg["divisor"]
    uart = await start_core(dut, div)
    to_host = bytearray()
    uart.on_byte = to_host.append
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(cfg["socket"])
    sock.setblocking(False)
    # Between looks at the socket the simulation runs one character time: the host cannot send
    # faster than the line carries anyway.
    step = 10 * div
    try:
        while True:
            await ClockCycles(dut.clk, step)
            if to_host:
                sock.setblocking(True)
                sock.sendall(bytes(to_host))
                sock.setblocking(False)
                to_host.clear()
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                continue
            if not data:
                break
            uart.write(data)
    finally:
        sock.close()
