"""The wavelet: the unit of data on Tessera's fabric, and the router's port numbering.

Layout (LSB first; 38 bits, see docs/wavelet.md):

    bits  0..31  payload  32-bit data (or 16-bit index in [31:16] + 16-bit value in [15:0])
    bits 32..36  color    5-bit color (virtual channel); only colors < profile.colors route
    bit      37  ctrl     1 = control wavelet (may carry a switch command, see SwitchCmd)

Interface:
    Wavelet                  amaranth.lib.data.StructLayout of the above
    WAVELET_BITS             38
    Port                     N, E, S, W, RAMP = 0..4 (bit index in RX/TX sets)
    SwitchCmd                control-wavelet command in payload[1:0]
    pack_wavelet / unpack_wavelet   Python-side integer packing used by testbenches and models
"""

from __future__ import annotations

import enum

from amaranth.lib import data

__all__ = [
    "PAYLOAD_BITS", "COLOR_BITS", "WAVELET_BITS", "Wavelet", "Port", "NUM_PORTS", "PORT_NAMES",
    "SwitchCmd", "pack_wavelet", "unpack_wavelet", "port_set", "port_names",
]

PAYLOAD_BITS = 32
COLOR_BITS = 5
WAVELET_BITS = PAYLOAD_BITS + COLOR_BITS + 1

Wavelet = data.StructLayout({
    "payload": PAYLOAD_BITS,
    "color": COLOR_BITS,
    "ctrl": 1,
})


class Port(enum.IntEnum):
    """Router ports; the value is the bit index in RX and TX sets."""
    N = 0
    E = 1
    S = 2
    W = 3
    RAMP = 4


NUM_PORTS = len(Port)
PORT_NAMES = tuple(p.name for p in Port)

#: The direction a wavelet leaving through port p arrives from at the neighbour.
OPPOSITE = {Port.N: Port.S, Port.S: Port.N, Port.E: Port.W, Port.W: Port.E}


class SwitchCmd(enum.IntEnum):
    """Command carried in payload[1:0] of a control wavelet; applied after the wavelet has passed."""
    NONE = 0  # a control wavelet that leaves the switch alone (e.g. one that only triggers a task)
    ADVANCE = 1  # next route position (wraps to 0 in ring mode, else stays at the last one)
    RESET = 2  # back to position 0
    RESERVED = 3  # treated as NONE


def pack_wavelet(payload: int, color: int, ctrl: int = 0) -> int:
    if not 0 <= payload < 2**PAYLOAD_BITS:
        raise ValueError(f"payload {payload:#x} does not fit {PAYLOAD_BITS} bits")
    if not 0 <= color < 2**COLOR_BITS:
        raise ValueError(f"color {color} does not fit {COLOR_BITS} bits")
    return payload | (color << PAYLOAD_BITS) | ((ctrl & 1) << (PAYLOAD_BITS + COLOR_BITS))


def unpack_wavelet(word: int) -> tuple[int, int, int]:
    """Return (payload, color, ctrl)."""
    return (word & (2**PAYLOAD_BITS - 1),
            (word >> PAYLOAD_BITS) & (2**COLOR_BITS - 1),
            (word >> (PAYLOAD_BITS + COLOR_BITS)) & 1)


def port_set(*ports) -> int:
    """Bit mask of the given ports (Port members or names like 'N', 'RAMP')."""
    mask = 0
    for p in ports:
        mask |= 1 << (Port[p] if isinstance(p, str) else Port(p))
    return mask


def port_names(mask: int) -> str:
    return "{" + ",".join(p.name for p in Port if mask >> p & 1) + "}"
