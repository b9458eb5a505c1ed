"""The board top: clock (board oscillator or PLL), UART pins, LEDs around the FPGA core.

``BoardTop(board, rows, cols, ...)`` is elaborated by the board's amaranth-boards platform
(fpga/build.py drives the build). It adds the mesh Verilog (``tessera_tile`` emitted once, the
generate-loop ``tessera_mesh``) to the platform as source files and instantiates the core
(hdl/board_core.py). LEDs: heartbeat (about 1 Hz: the bitstream is alive), running (some PE is not
idle), error (a sticky bridge flag or a row error; cleared by a RESET frame).

When the board entry asks for a clock other than its oscillator, an EHXPLLL derives it
(``pll_params`` searches the divider settings like Lattice's ecppll does); the design's reset is
held until the PLL locks.

Interface:
    BoardTop(board, rows, cols, profile="small", target_mhz=None, baud=None, core=True)
        .target_hz, .divisor    the clock the mesh runs at and the UART divisor derived from it
    pll_params(fin_hz, fout_hz) -> dict   CLKI_DIV, CLKFB_DIV, CLKOP_DIV, achieved fout
"""

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from hdl.board_core import TesseraFPGACore, core_sources
from hdl.uart import divisor_for

from .boards import Board, get_board

__all__ = ["BoardTop", "pll_params", "PLLError"]


class PLLError(ValueError):
    """A clock the ECP5 PLL cannot make from the board oscillator."""


def pll_params(fin_hz: float, fout_hz: float, tolerance: float = 0.005) -> dict:
    """EHXPLLL dividers for fout from fin (feedback from CLKOP): PFD = fin / CLKI_DIV in
    3.125..400 MHz, VCO = PFD * CLKFB_DIV * CLKOP_DIV in 400..800 MHz (ECP5 datasheet limits)."""
    best = None
    for clki in range(1, 129):
        pfd = fin_hz / clki
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for fb in range(1, 81):
            fout = pfd * fb
            for op in range(1, 129):
                vco = fout * op
                if not 400e6 <= vco <= 800e6:
                    continue
                # closest frequency first, then a VCO near the middle of its range (best jitter margin)
                err = (abs(fout - fout_hz), abs(vco - 600e6))
                if best is None or err < best[0]:
                    best = (err, {"CLKI_DIV": clki, "CLKFB_DIV": fb, "CLKOP_DIV": op, "fout": fout, "vco": vco})
    if best is None or best[0][0] > tolerance * fout_hz:
        got = f"; closest {best[1]['fout'] / 1e6:.3f} MHz" if best else ""
        raise PLLError(f"the ECP5 PLL cannot make {fout_hz / 1e6:g} MHz from {fin_hz / 1e6:g} MHz{got}")
    return best[1]


class BoardTop(Elaboratable):
    def __init__(self, board: Board | str, rows: int, cols: int, profile="small", target_mhz=None, baud=None,
                 core: bool = True, clk_hz: float | None = None):
        self.board = get_board(board) if isinstance(board, str) else board
        self.rows, self.cols, self.profile, self.core = rows, cols, profile, core
        if clk_hz is None:
            clk_hz = self.board.clk_mhz * 1e6
        self.clk_hz = clk_hz
        mhz = target_mhz if target_mhz is not None else self.board.target_mhz
        self.target_hz = clk_hz if mhz is None else mhz * 1e6
        self.pll = None if abs(self.target_hz - clk_hz) < 1 else pll_params(clk_hz, self.target_hz)
        if self.pll:
            self.target_hz = self.pll["fout"]
        self.baud = baud or self.board.baud
        self.divisor = divisor_for(self.target_hz, self.baud)
        # the core is built now so that bad mesh/bridge parameters fail before any tool runs
        self.fpga_core = TesseraFPGACore(rows, cols, profile, self.divisor)

    def elaborate(self, platform):
        m = Module()
        if abs(platform.default_clk_frequency - self.clk_hz) > 1:
            raise ValueError(f"board entry {self.board.name!r} says {self.clk_hz / 1e6:g} MHz, its platform "
                             f"{platform.default_clk_frequency / 1e6:g} MHz")
        for fname, text in core_sources(self.rows, self.cols, self.profile, self.divisor, self.core).items():
            if fname != "tessera_fpga_core.v":  # the core itself is part of this Amaranth design
                platform.add_file(fname, text)

        if self.pll:
            m.domains.sync = cd = ClockDomain("sync")
            clk = platform.request(platform.default_clk, dir="-")
            m.submodules.clk_buf = clk_buf = io.Buffer("i", clk)
            locked = Signal()
            p = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{self.clk_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{p['fout'] / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                i_RST=0, i_STDBY=0, i_CLKI=clk_buf.i, o_CLKOP=ClockSignal("sync"), i_CLKFB=ClockSignal("sync"),
                i_ENCLKOP=0, o_LOCK=locked, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1,
                i_PHASELOADREG=1, i_PLLWAKESYNC=0,
            )
            m.submodules.rst_sync = ResetSynchronizer(~locked, domain="sync")
            platform.add_clock_constraint(cd.clk, self.target_hz)

        m.submodules.core = core = self.fpga_core
        uart = platform.request(*self.board.uart)
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]

        beat = Signal(range(int(self.target_hz)))
        m.d.sync += beat.eq(beat + 1)
        leds = {"heartbeat": beat[-1], "running": core.running, "error": core.error}
        requested = {}
        for role, (res, num, sub) in self.board.leds.items():
            if (res, num) not in requested:
                requested[(res, num)] = platform.request(res, num)
            pin = requested[(res, num)]
            pin = getattr(pin, sub) if sub else pin
            m.d.comb += pin.o.eq(leds[role])
        return m
