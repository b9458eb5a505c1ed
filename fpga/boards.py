"""The board registry: which amaranth-boards platform, which UART and LEDs, which clock.

Adding a board is one ``Board(...)`` entry in ``BOARDS`` (docs/fpga.md, "Adding a board"): the
amaranth-boards platform class, the UART resource, three LEDs (heartbeat, running, error), the
board oscillator's frequency and the clock the mesh should run at (``None`` = the board
oscillator; anything else goes through a PLL).

Interface:
    Board                   frozen dataclass of the above
    BOARDS                  name -> Board
    get_board(name)         look a board up, with a clear error (BoardError) for unknown names
    Board.platform()        an instance of the board's amaranth-boards platform (clear error if
                            amaranth-boards is missing)
"""

import importlib
from dataclasses import dataclass, field

from sdk.errors import EngineUnavailable

__all__ = ["Board", "BOARDS", "get_board", "BoardError", "MissingToolError"]


class BoardError(ValueError):
    """An unknown board, or a board entry that does not match its platform."""


class MissingToolError(EngineUnavailable):
    """An optional FPGA tool or package is not installed (an sdk EngineUnavailable, so a RuntimeError)."""


INSTALL_HINT = "run `make fpga` (it installs the `fpga` extra) or `.venv/bin/pip install -e '.[fpga]'`"


@dataclass(frozen=True)
class Board:
    name: str
    platform_class: str  # "amaranth_boards.<module>:<class>"
    description: str
    clk_mhz: float  # the oscillator of the platform's default clock (checked against the platform at build time)
    # role -> (resource name, number, subsignal or None); roles: heartbeat, running, error
    leds: dict = field(default_factory=dict)
    uart: tuple = ("uart", 0)
    target_mhz: float | None = None  # None: run the mesh from the board oscillator directly
    baud: int = 1_000_000

    def platform(self):
        module, cls = self.platform_class.split(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise MissingToolError(f"{module} is not importable ({e}); {INSTALL_HINT}") from None
        return getattr(mod, cls)()


BOARDS = {
    "ulx3s": Board(
        name="ulx3s", platform_class="amaranth_boards.ulx3s:ULX3S_85F_Platform",
        description="Radiona ULX3S with an LFE5U-85F; FTDI FT231X UART on the USB port, 25 MHz oscillator "
                    "(the mesh runs at 15 MHz from a PLL)",
        clk_mhz=25.0,
        leds={"heartbeat": ("led", 0, None), "running": ("led", 1, None), "error": ("led", 2, None)},
        # the fpga-profile PE tile reaches 21.2 MHz at this target, short of the 25 MHz
        # oscillator (docs/fpga.md, figures)
        target_mhz=15.0,
    ),
    "ecpix5": Board(
        name="ecpix5", platform_class="amaranth_boards.ecpix5:ECPIX585Platform",
        description="LambdaConcept ECPIX-5 with an LFE5UM5G-85F; FT2232 UART, 100 MHz oscillator "
                    "(the mesh runs at 25 MHz from a PLL)",
        clk_mhz=100.0,
        leds={"heartbeat": ("rgb_led", 1, "b"), "running": ("rgb_led", 0, "g"), "error": ("rgb_led", 0, "r")},
        # speed grade 8: the fpga-profile PE tile reaches 33.9 MHz at this target (docs/fpga.md)
        target_mhz=25.0,
    ),
}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise BoardError(f"unknown board {name!r}; known boards: {', '.join(sorted(BOARDS))} "
                         "(docs/fpga.md explains how to add one)") from None
