"""The host bridge's wire format: the byte frames between a host and the FPGA bridge (docs/fpga.md).

This is a hardware interface specification, like the wavelet and management formats: the bridge
RTL (hdl/host_bridge.py) builds and parses these frames, and every host (sdk/engines/bridge_protocol.py and what
uses it: fpga/host.py, the cocotb host in tb/uart_host.py, any other tool) encodes and decodes
them from the definitions here, without importing the FPGA build.

Bytes; multi-byte values little-endian. A link byte is ``side << 6 | index`` (side as in
docs/wavelet.md: N=0 E=1 S=2 W=3; index = column for N/S, row for E/W); a wavelet is
``WAVELET_BYTES`` bytes holding the 38-bit ``pack_wavelet`` value (bits 38-39 zero)::

    host -> bridge                                bridge -> host
    0x01 INJECT link n  w_1 .. w_n                0x91 ACK link flags      (after the last w_i entered)
    0x02 STATUS                                   0x92 STATUS len ...      (STATUS_FIELDS; len = status_length)
    0x03 RESET                                    0x93 RESET-DONE
    0x04 FAULTS                                   0x94 FAULTS rows f_0 .. f_{rows-1}
                                                  0x90 WAVELET link w      (any time, unsolicited)

FAULTS: ``f_r`` is row r's ``FaultInfo`` word (hdl/fault.py, the mesh top's ``row_fault``) in
``FAULT_BYTES`` little-endian bytes, the bits above ``FAULT_BITS`` zero.

Interface:
    PROTOCOL_VERSION (2)  WAVELET_BYTES (5)  FAULT_BYTES (7)  LINK_INDEX_BITS (6)  MAX_LINKS_PER_SIDE (64)
    Cmd, Reply           command and reply bytes (IntEnum)
    Flag                 bit positions of the bridge's sticky error flags (IntEnum)
    STATUS_FIELDS        ((name, bytes or None for a row bit vector of ceil(rows/8) bytes), ...)
    status_length(rows)  bytes after the STATUS frame's length byte
    faults_length(rows)  bytes after the FAULTS frame's rows byte
    link_byte(link) -> int               the link byte of an hdl.mesh.EdgeLink
    parse_link(byte) -> EdgeLink         its inverse
"""

from __future__ import annotations

import enum
import math

from .fault import FAULT_BITS
from .mesh import EdgeLink
from .wavelet import Port

__all__ = ["PROTOCOL_VERSION", "WAVELET_BYTES", "FAULT_BYTES", "LINK_INDEX_BITS", "MAX_LINKS_PER_SIDE", "Cmd",
           "Reply", "Flag", "STATUS_FIELDS", "status_length", "faults_length", "link_byte", "parse_link"]

PROTOCOL_VERSION = 2
WAVELET_BYTES = 5
FAULT_BYTES = math.ceil(FAULT_BITS / 8)
LINK_INDEX_BITS = 6
MAX_LINKS_PER_SIDE = 1 << LINK_INDEX_BITS


class Cmd(enum.IntEnum):
    """The first byte of a host -> bridge frame."""
    INJECT = 0x01
    STATUS = 0x02
    RESET = 0x03
    FAULTS = 0x04


class Reply(enum.IntEnum):
    """The first byte of a bridge -> host frame."""
    WAVELET = 0x90
    ACK = 0x91
    STATUS = 0x92
    RESET_DONE = 0x93
    FAULTS = 0x94


class Flag(enum.IntEnum):
    """Bit positions of the sticky error flags."""
    BAD_COMMAND = 0  # a frame started with an unknown command byte (the byte is skipped)
    BAD_LINK = 1  # INJECT named a side/index the mesh does not have (its wavelets are discarded)
    BAD_WAVELET = 2  # a wavelet with bits 38/39 set or a color >= profile colors (discarded)
    RX_OVERRUN = 3  # a received byte was lost: receive FIFO full (host broke flow control) or UART overrun
    RX_FRAMING = 4  # a UART character with a low stop bit (discarded)
    TIMEOUT = 5  # a frame stopped arriving midway (abandoned; its ACK is still sent)
    OUT_OVERFLOW = 6  # the mesh sent to a full output buffer (a link protocol violation)


#: STATUS payload after the 0x92 and length bytes: (name, bytes). ``row_*`` fields are bit vectors,
#: bit r = row r, ceil(R/8) bytes each.
STATUS_FIELDS = (("version", 1), ("rows", 1), ("cols", 1), ("colors", 1), ("flags", 1), ("rx_depth", 2),
                 ("cycles", 4), ("injected", 4), ("collected", 4),
                 ("row_err", None), ("row_idle", None), ("row_halted", None))


def status_length(rows: int) -> int:
    """Bytes after the STATUS frame's length byte."""
    nb = math.ceil(rows / 8)
    return sum(n if n is not None else nb for _, n in STATUS_FIELDS)


def faults_length(rows: int) -> int:
    """Bytes after the FAULTS frame's rows byte."""
    return rows * FAULT_BYTES


def link_byte(link: EdgeLink) -> int:
    """The link byte of an edge link: ``side << 6 | index``."""
    link = EdgeLink.of(link)
    if not link.index < MAX_LINKS_PER_SIDE:
        raise ValueError(f"link index {link.index} does not fit the {LINK_INDEX_BITS}-bit link field")
    return int(link.side) << LINK_INDEX_BITS | link.index


def parse_link(b: int) -> EdgeLink:
    """The edge link of a link byte."""
    return EdgeLink(Port(b >> LINK_INDEX_BITS & 3), b & (MAX_LINKS_PER_SIDE - 1))
