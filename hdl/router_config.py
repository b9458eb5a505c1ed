"""The router's configuration address map: how route tables become configuration writes.

Every router has a write-only configuration port (``cfg.we``, ``cfg.addr``, ``cfg.data``). In a
tile the management loader (hdl/mgmt.py) drives it with the router writes of the management stream
that enters at the mesh edge; the router's testbenches drive it directly. The map (docs/router.md):

    addr = color << 3 | field                     (COLOR_BITS + 3 = 8 address bits)
    field 0..3  route position k:  data[4:0] = RX set, data[9:5] = TX set  (bit = Port value)
    field 4     switch control:    data[1:0] = last position (positions - 1), data[2] = ring mode;
                                   writing it also resets the color's current position to 0
    field 5..7  reserved; a write sets the router's BAD_CFG error flag (as does color >= colors)

Interface:
    CFG_ADDR_BITS, CFG_DATA_BITS, FIELD_SWITCH
    CfgSignature                        the port: we, addr, data (seen from the writer)
    CfgAddr, RouteWord, SwitchWord      lib.data layouts of the address and the two data words
    encode_color_route(color, positions, ring) -> [(addr, data), ...]
"""

from __future__ import annotations

from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

from .packing import Packer
from .wavelet import COLOR_BITS, NUM_PORTS

__all__ = ["CFG_ADDR_BITS", "CFG_DATA_BITS", "FIELD_BITS", "FIELD_SWITCH", "MAX_POSITIONS", "CfgAddr", "CfgSignature",
           "RouteWord", "SwitchWord", "cfg_addr", "encode_color_route"]

FIELD_BITS = 3
CFG_ADDR_BITS = COLOR_BITS + FIELD_BITS
CFG_DATA_BITS = 32
MAX_POSITIONS = 4
FIELD_SWITCH = 4


CfgAddr = data.StructLayout({"field": FIELD_BITS, "color": COLOR_BITS})
RouteWord = data.StructLayout({"rx": NUM_PORTS, "tx": NUM_PORTS})
SwitchWord = data.StructLayout({"last": 2, "ring": 1})
CfgSignature = wiring.Signature({
    "we": Out(1),
    "addr": Out(CFG_ADDR_BITS),
    "data": Out(CFG_DATA_BITS),
})
_ADDR, _ROUTE, _SWITCH = Packer(CfgAddr), Packer(RouteWord), Packer(SwitchWord)


def cfg_addr(color: int, field: int) -> int:
    return _ADDR.pack(color=color, field=field)


def encode_color_route(color: int, positions, ring: bool = False) -> list[tuple[int, int]]:
    """Configuration writes for one color: ``positions`` is a sequence of (rx_mask, tx_mask).

    The switch-control word is written last, so the color starts at position 0 once its routes
    are in place.
    """
    if not 1 <= len(positions) <= MAX_POSITIONS:
        raise ValueError(f"color {color}: {len(positions)} route positions, expected 1..{MAX_POSITIONS}")
    writes = []
    full = (1 << NUM_PORTS) - 1
    for k, (rx, tx) in enumerate(positions):
        if rx & ~full or tx & ~full:
            raise ValueError(f"color {color} position {k}: port mask out of range")
        writes.append((cfg_addr(color, k), _ROUTE.pack(rx=rx, tx=tx)))
    writes.append((cfg_addr(color, FIELD_SWITCH), _SWITCH.pack(last=len(positions) - 1, ring=int(bool(ring)))))
    return writes
