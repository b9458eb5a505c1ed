"""The wavelet and the router's ports: the vocabulary every layer above the RTL shares.

Layout (LSB first; 38 bits, see docs/wavelet.md):

    bits  0..31  payload  32-bit data (or 16-bit index in [31:16] + 16-bit value in [15:0])
    bits 32..36  color    5-bit color (virtual channel); only colors < profile.colors route
    bit      37  ctrl     1 = control wavelet (may carry a switch command, see SwitchCmd)

Interface:
    WaveletLayout           amaranth.lib.data.StructLayout of the above (the RTL's format)
    Wavelet(color, payload, ctrl=0)   the Python value of one wavelet: the one tuple order used by
                            hosts, drivers, monitors, engines and the golden models' edges
    WAVELET_BITS            38
    pack_wavelet(color, payload, ctrl=0) -> int;  unpack_wavelet(int) -> Wavelet   (from the layout)
    Port                    N, E, S, W, RAMP = 0..4 (bit index in RX/TX sets); ``Port.letter`` is
                            the lower-case name the RTL's port names use ("n" ... "ramp");
                            ``Port.of("W" | "w" | 3 | Port.W)``
    EDGE_SIDES              (N, E, S, W)
    side_links(side, rows, cols)   edge links on a side: columns on N/S, rows on E/W
    OPPOSITE, STEP          the direction a wavelet leaving through a port arrives from at the
                            neighbour; the (row, column) step through a port (row 0 is north)
    SwitchCmd               control-wavelet command in payload[1:0]
    ControlPayload          a control wavelet's payload as a layout: ``cmd`` (SwitchCmd) in bits 1:0
    port_set(*ports) -> mask;  port_names(mask) -> "{N,E}"
"""

from __future__ import annotations

import enum
from typing import NamedTuple

from amaranth.lib import data

from .packing import Packer

__all__ = [
    "PAYLOAD_BITS", "COLOR_BITS", "WAVELET_BITS", "WaveletLayout", "Wavelet", "Port", "NUM_PORTS", "EDGE_SIDES",
    "side_links", "OPPOSITE", "STEP", "SwitchCmd", "ControlPayload", "pack_wavelet", "unpack_wavelet", "port_set",
    "port_names",
]

PAYLOAD_BITS = 32
COLOR_BITS = 5

WaveletLayout = data.StructLayout({
    "payload": PAYLOAD_BITS,
    "color": COLOR_BITS,
    "ctrl": 1,
})
WAVELET_BITS = WaveletLayout.size


class Wavelet(NamedTuple):
    """One wavelet as a Python value: (color, payload, ctrl)."""
    color: int
    payload: int
    ctrl: int = 0


class Port(enum.IntEnum):
    """Router ports; the value is the bit index in RX and TX sets."""
    N = 0
    E = 1
    S = 2
    W = 3
    RAMP = 4

    @property
    def letter(self) -> str:
        """The lower-case name used in port and signal names: ``in_n``, ``w_out_valid``."""
        return self.name.lower()

    @classmethod
    def of(cls, p) -> Port:
        """A Port from a Port, its value, or its name in either case."""
        if isinstance(p, str):
            try:
                return cls[p.upper()]
            except KeyError:
                raise ValueError(f"{p!r} is not a port; ports are N, E, S, W and RAMP") from None
        return cls(p)


NUM_PORTS = len(Port)
EDGE_SIDES = (Port.N, Port.E, Port.S, Port.W)


def side_links(side, rows: int, cols: int) -> int:
    """How many edge links a rows x cols mesh has on ``side``: one per column on N and S, one per
    row on E and W (the one rule; EdgeLink, the edge harness and the bridge use it)."""
    return cols if Port.of(side) in (Port.N, Port.S) else rows

#: The direction a wavelet leaving through port p arrives from at the neighbour.
OPPOSITE = {Port.N: Port.S, Port.S: Port.N, Port.E: Port.W, Port.W: Port.E}
#: (row, column) step through a port; row 0 is the north edge, column 0 the west edge.
STEP = {Port.N: (-1, 0), Port.S: (1, 0), Port.E: (0, 1), Port.W: (0, -1)}


class SwitchCmd(enum.IntEnum):
    """Command carried in payload[1:0] of a control wavelet; applied after the wavelet has passed."""
    NONE = 0  # a control wavelet that leaves the switch alone (e.g. one that only triggers a task)
    ADVANCE = 1  # next route position (wraps to 0 in ring mode, else stays at the last one)
    RESET = 2  # back to position 0
    RESERVED = 3  # treated as NONE


#: A control wavelet's payload: the switch command in its low bits; the rest is the sender's.
ControlPayload = data.StructLayout({"cmd": 2, "data": PAYLOAD_BITS - 2})

_PACKER = Packer(WaveletLayout)
_P_OFF, _P_W, _ = _PACKER.fields["payload"]
_C_OFF, _C_W, _ = _PACKER.fields["color"]
_K_OFF, _, _ = _PACKER.fields["ctrl"]


def pack_wavelet(color: int, payload: int, ctrl: int = 0) -> int:
    """The 38-bit value of a wavelet (WaveletLayout)."""
    if not 0 <= payload < 1 << _P_W:
        raise ValueError(f"payload {payload:#x} does not fit {_P_W} bits")
    if not 0 <= color < 1 << _C_W:
        raise ValueError(f"color {color} does not fit {_C_W} bits")
    return payload << _P_OFF | color << _C_OFF | (ctrl & 1) << _K_OFF


def unpack_wavelet(word: int) -> Wavelet:
    return Wavelet((word >> _C_OFF) & ((1 << _C_W) - 1), (word >> _P_OFF) & ((1 << _P_W) - 1), (word >> _K_OFF) & 1)


def port_set(*ports) -> int:
    """Bit mask of the given ports (Port members or names like 'N', 'RAMP')."""
    mask = 0
    for p in ports:
        mask |= 1 << Port.of(p)
    return mask


def port_names(mask: int) -> str:
    return "{" + ",".join(p.name for p in Port if mask >> p & 1) + "}"
