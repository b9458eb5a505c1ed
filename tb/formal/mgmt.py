"""Formal harness of the management loader (hdl/mgmt.py), for SymbiYosys (tb/formal/run.py).

The harness's ``In`` ports are the loader's wavelet stream (valid, and a ``WaveletLayout`` wavelet:
payload, color, ctrl), free in every cycle; the tile's column is a constant of the tool's choice
(0..1022: 1023 is the broadcast code, never a tile's column). A shadow of the message protocol of
docs/mesh.md, computed from the input stream alone (never its color), predicts every write:

    header (valid, ctrl=1)   selects this tile iff payload[1:0] == 0 and its column is this
                             tile's or MGMT_BROADCAST; sets the target and the start address
    data (valid, ctrl=0)     if selected: one write of the payload, the next cycle, to the
                             target at the current address (none, and the sticky error, for a
                             router address of 2**CFG_ADDR_BITS or more); the address then
                             increments

Harness (``HARNESSES``):
    mgmt    k-induction: the router's configuration port and the PE's load bus are written only
            as predicted — only after a data wavelet, only when the last header selected this
            tile, only on that header's target (never both), at its start address plus the number
            of data words since it (router words only inside its configuration space), with the
            data word; a malformed header or a router word beyond its space sets the sticky
            ``error``. Helpers: the loader's
            ``selected``, ``target`` and ``addr`` registers equal the shadow's.

``fault="target"`` makes the shadow expect the other target: the check must fail.
"""

from amaranth import Module, Signal
from amaranth.hdl import Assert, Cover
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from hdl.mgmt import ADDR_BITS, COL_BITS, MGMT_BROADCAST, MgmtHeader, MgmtLoader, MgmtTarget
from hdl.router_config import CFG_ADDR_BITS
from hdl.wavelet import WaveletLayout

from .common import anyconst, elaborate

__all__ = ["HARNESSES", "FAULTS", "MODEL", "harness"]

MODEL = "MgmtLoader, any column"


class Mgmt(wiring.Component):
    valid: In(1)
    wavelet: In(WaveletLayout)

    def __init__(self, fault=None):
        self.fault = fault
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        dut = MgmtLoader()
        m.submodules.dut, d, _ = elaborate(dut, platform)
        col = anyconst(m, COL_BITS, MGMT_BROADCAST, "col")
        m.d.comb += [dut.wav.valid.eq(self.valid), dut.wav.payload.eq(self.wavelet), dut.col.eq(col)]

        payload = self.wavelet.payload
        hdr = MgmtHeader(payload)
        header, data = self.valid & self.wavelet.ctrl, self.valid & ~self.wavelet.ctrl
        good = hdr.cmd == 0
        sel, target, addr = Signal(), Signal(), Signal(ADDR_BITS)  # the shadow
        with m.If(header):
            m.d.sync += [sel.eq(good & ((hdr.col == col) | (hdr.col == MGMT_BROADCAST))),
                         target.eq(hdr.target ^ (1 if self.fault == "target" else 0)), addr.eq(hdr.addr)]
        with m.Elif(data & sel):
            m.d.sync += addr.eq(addr + 1)
        # what the next cycle's outputs must be
        cfg_we, load_we, w_addr, w_data, bad = Signal(), Signal(), Signal(ADDR_BITS), Signal(32), Signal()
        beyond = (target == MgmtTarget.ROUTER) & (addr >= (1 << CFG_ADDR_BITS))
        m.d.sync += [cfg_we.eq(data & sel & (target == MgmtTarget.ROUTER) & ~beyond),
                     load_we.eq(data & sel & (target == MgmtTarget.PE)),
                     w_addr.eq(addr), w_data.eq(payload), bad.eq((header & ~good) | (data & sel & beyond))]
        past_error = Signal()
        m.d.sync += past_error.eq(dut.error)
        m.d.comb += [
            Assert(dut.cfg.we == cfg_we),
            Assert(dut.load.we == load_we),
            Assert(~dut.cfg.we | ((dut.cfg.addr == w_addr) & (dut.cfg.data == w_data))),
            Assert(~dut.load.we | ((dut.load.addr == w_addr) & (dut.load.data == w_data))),
            Assert(~bad | dut.error),  # a malformed header or a router word beyond its space is flagged ...
            Assert(~past_error | dut.error),  # ... and the flag is sticky
            # helpers: the loader's state is the shadow's
            Assert(d["selected"] == sel), Assert(d["target"] == target), Assert(d["addr"] == addr),
        ]
        m.d.comb += Cover(dut.load.we & (w_addr == 3))
        return m


#: name -> (harness class, mode, depth, what it proves)
HARNESSES = {
    "mgmt": (Mgmt, "prove", 2, "the loader writes only the target of the last header that selected its "
             "tile, at its start address + n, one write per data word; malformed headers and router "
             "words beyond its space flagged"),
}
#: fault kind -> (harness, BMC depth of its counterexample)
FAULTS = {"target": ("mgmt", 4)}


def harness(name: str, fault: str | None = None):
    return HARNESSES[name][0](fault=fault)
