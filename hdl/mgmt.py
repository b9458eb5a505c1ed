"""The management loader: turns management-color wavelets into configuration and load writes.

Each tile's router delivers the management color (``profile.mgmt_color``) to its RAMP port, where
the tile hands those wavelets to this loader instead of the PE core. Messages (docs/mesh.md):

    header  ctrl=1  payload[31:22] column (MGMT_BROADCAST = every column of the row)
                    payload[21] target (MgmtTarget)   payload[20:2] start address   payload[1:0] = 0
    data    ctrl=0  payload = one 32-bit word, written to (target, address) by every selected tile;
                    the address then increments

A header selects the tiles whose column matches. A header with nonzero payload[1:0] (which would be
a switch command) selects nothing and sets the sticky ``error``. A data word for the ROUTER target at
an address beyond the router's configuration space (2**CFG_ADDR_BITS words) is not written and sets
``error`` too.

Interface (``wiring.Component``):
    wav     In(stream.Signature(WaveletLayout))
                                              the management wavelets. ``ready`` is always 1: the
                                              loader finishes with a wavelet in the cycle it
                                              arrives (a header loads three registers, a data word
                                              issues one registered write), so it takes one every
                                              cycle. The color is the tile's concern (it hands the
                                              loader only the management color's wavelets); the
                                              loader reads payload and ctrl
    col     In(COL_BITS)                      this tile's column, tied off by the mesh top
    cfg     Out(CfgSignature)                 to the router's configuration port (target ROUTER)
    load    Out(LoadSignature)                to the PE's load bus (target PE; hdl/loadmap.py)
    error   Out(1)                            sticky: a malformed header or a router word beyond its space

    MgmtHeader                                lib.data layout of a header's payload
    mgmt_header(col, target, addr) -> int     a header's payload (send it with ctrl=1)
"""


import enum

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .loadmap import LoadSignature
from .packing import Packer
from .router import CfgSignature
from .router_config import CFG_ADDR_BITS
from .wavelet import WaveletLayout

__all__ = ["MgmtLoader", "MgmtTarget", "MgmtHeader", "MGMT_BROADCAST", "COL_BITS", "ADDR_BITS", "mgmt_header"]

COL_BITS = 10
MGMT_BROADCAST = (1 << COL_BITS) - 1
ADDR_BITS = 19

#: A management header's payload; ``cmd`` must be 0 (a nonzero value would be a switch command).
MgmtHeader = data.StructLayout({"cmd": 2, "addr": ADDR_BITS, "target": 1, "col": COL_BITS})
_HEADER = Packer(MgmtHeader)


class MgmtTarget(enum.IntEnum):
    ROUTER = 0  # the router's configuration port (docs/router.md address map)
    PE = 1  # the PE's load bus (docs/pe.md address map)


def mgmt_header(col: int, target: int, addr: int) -> int:
    """The payload of a management header wavelet (send it with ctrl=1)."""
    if not 0 <= col <= MGMT_BROADCAST:
        raise ValueError(f"column {col} does not fit {COL_BITS} bits")
    if not 0 <= addr < 1 << ADDR_BITS:
        raise ValueError(f"address {addr:#x} does not fit {ADDR_BITS} bits")
    return _HEADER.pack(col=col, target=int(target) & 1, addr=addr)


class MgmtLoader(wiring.Component):
    wav: In(stream.Signature(WaveletLayout))
    col: In(COL_BITS)
    cfg: Out(CfgSignature)
    load: Out(LoadSignature)
    error: Out(1)

    def elaborate(self, platform):
        m = Module()
        selected = Signal()
        target = Signal(1)
        addr = Signal(ADDR_BITS)
        p = self.wav.payload.payload
        ctrl = self.wav.payload.ctrl
        hdr = MgmtHeader(p)
        # one wavelet per cycle, each dealt with in its cycle: never a reason to hold one back
        m.d.comb += self.wav.ready.eq(1)
        with m.If(self.wav.valid & ctrl):
            h_col, h_target, h_addr, h_cmd = hdr.col, hdr.target, hdr.addr, hdr.cmd
            good = h_cmd == 0
            m.d.sync += [
                selected.eq(good & ((h_col == self.col) | (h_col == MGMT_BROADCAST))),
                target.eq(h_target),
                addr.eq(h_addr),
            ]
            with m.If(~good):
                m.d.sync += self.error.eq(1)
        with m.Elif(self.wav.valid & selected):
            m.d.sync += addr.eq(addr + 1)
            # the router's configuration space is CFG_ADDR_BITS wide: a word beyond it is not
            # written (it would alias onto a lower address) and is flagged
            beyond = (target == MgmtTarget.ROUTER) & (addr[CFG_ADDR_BITS:] != 0)
            with m.If(beyond):
                m.d.sync += self.error.eq(1)
            # writes are registered: the targets see them the cycle after the data wavelet
            m.d.sync += [
                self.cfg.we.eq((target == MgmtTarget.ROUTER) & ~beyond),
                self.cfg.addr.eq(addr[:CFG_ADDR_BITS]),
                self.cfg.data.eq(p),
                self.load.we.eq(target == MgmtTarget.PE),
                self.load.addr.eq(addr),
                self.load.data.eq(p),
            ]
        with m.If(~(self.wav.valid & ~ctrl & selected)):
            m.d.sync += [self.cfg.we.eq(0), self.load.we.eq(0)]
        return m
