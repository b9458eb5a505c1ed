"""A small 8N1 UART: receiver and transmitter with a configurable baud divisor.

The divisor is the number of clock cycles per bit (e.g. 25 MHz / 115200 baud = 217). The board
top picks it from the clock and the requested baud rate (``divisor_for``); the simulation tests use
a divisor of a few cycles so that bit-level UART traffic stays fast.

Interface (``amaranth.lib.wiring.Component``):
    UARTRx(divisor)
        rx        In(1)                      the serial line (idle high); synchronised inside
        stream    Out(stream.Signature(8))   received bytes; a byte that is not taken before the
                                             next one completes is lost and raises ``overrun``
        overrun   Out(1)                     one-cycle pulse: a received byte found ``stream`` busy
        framing   Out(1)                     one-cycle pulse: the stop bit was low (byte discarded)
    UARTTx(divisor)
        stream    In(stream.Signature(8))    bytes to send, LSB first, one start and one stop bit
        tx        Out(1)                     the serial line (idle high)
        busy      Out(1)                     a byte is being shifted out

Both pulses are meant to feed a sticky error flag (hdl/host_bridge.py): nothing is dropped silently.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "divisor_for", "UARTError"]


class UARTError(ValueError):
    """A baud rate the clock cannot produce within tolerance, or a bad divisor."""


def divisor_for(clk_hz: float, baud: int) -> int:
    """Cycles per bit for ``baud`` at ``clk_hz``; refuses rates off by more than 2 % (a UART
    tolerates a few percent of accumulated error over the ten bits of a frame)."""
    div = round(clk_hz / baud)
    if div < 4:
        raise UARTError(f"{baud} baud needs at least 4 clock cycles per bit; {clk_hz / 1e6:g} MHz gives {div}")
    err = abs(clk_hz / div - baud) / baud
    if err > 0.02:
        raise UARTError(f"{baud} baud from {clk_hz / 1e6:g} MHz is off by {err:.1%} (divisor {div})")
    return div


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 4:
        raise UARTError(f"UART divisor must be an integer >= 4 cycles per bit, got {divisor!r}")


class UARTRx(wiring.Component):
    rx: In(1, init=1)
    stream: Out(stream.Signature(8))
    overrun: Out(1)
    framing: Out(1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        rx = Signal(init=1)
        # the line is asynchronous to our clock
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(div * 3 // 2 + 1))
        bits = Signal(range(10))
        shreg = Signal(8)
        with m.If(self.stream.ready):
            m.d.sync += self.stream.valid.eq(0)
        m.d.sync += [self.overrun.eq(0), self.framing.eq(0)]

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # first sample in the middle of data bit 0: 1.5 bit times after the start edge
                    m.d.sync += [timer.eq(div + div // 2 - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += timer.eq(div - 1)
                    with m.If(bits == 8):
                        # the stop bit: must be high, else the byte is not trusted
                        with m.If(rx):
                            with m.If(self.stream.valid & ~self.stream.ready):
                                m.d.sync += self.overrun.eq(1)
                            with m.Else():
                                m.d.sync += [self.stream.payload.eq(shreg), self.stream.valid.eq(1)]
                            m.next = "IDLE"
                        with m.Else():
                            m.d.sync += self.framing.eq(1)
                            m.next = "BREAK"
                    with m.Else():
                        m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), bits.eq(bits + 1)]
            with m.State("BREAK"):
                # after a framing error wait for the line to go idle before looking for a start bit
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    stream: In(stream.Signature(8))
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, divisor: int):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        timer = Signal(range(div))
        shreg = Signal(10, init=0x3FF)  # stop bit, 8 data bits, start bit (shifted out LSB first)
        left = Signal(range(11))
        m.d.comb += [self.tx.eq(shreg[0]), self.busy.eq(left != 0),
                     self.stream.ready.eq(left == 0)]
        with m.If(self.stream.valid & self.stream.ready):
            m.d.sync += [shreg.eq(Cat(0, self.stream.payload, 1)), left.eq(10), timer.eq(div - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [timer.eq(div - 1), shreg.eq(Cat(shreg[1:], 1)), left.eq(left - 1)]
        return m
