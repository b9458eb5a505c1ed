"""SRAM port arbitration of the PE: who uses the banked SRAM's rd0, rd1 and wr ports each cycle.

Role
----
Four clients share the two read ports and the write port of hdl/sram.py:

* wr:  the load bus (and the zeroing sweep), then a scalar store, then the vector write-back.
* rd0: a scalar load (``lw``/``lh``/``lhu``/``dld``) when the vector engine has no demand read on
  rd0 this cycle (with a row-buffered 16-bit operand rd0 is free every other cycle, so the loads
  of a GEMM inner loop rarely take a cycle from the vector engine), else the vector engine.
* rd1: a scalar load that did not get rd0, then the debug port, then the vector engine.

A client that loses a port is not granted and retries; the SRAM's own bank-conflict grants pass
through to whoever holds the port. The vector engine is also told what the others take this
cycle, so its A-row prefetch only uses a port (and a bank) nobody needs.

Interface (``SramArbiter(row_bits)``, a ``wiring.Component``, domain ``sync``)
---------------------------------------------------------------------------
sram_rd0, sram_rd1   Out(ReadPortSignature)    to BankedSRAM.rd0/rd1
sram_wr              Out(WritePortSignature)   to BankedSRAM.wr
load                 In(WritePortSignature)    load bus / zeroing sweep (always wins)
scalar               In(ScalarMemSignature)    rd: req, addr -> gnt, data (the cycle after gnt,
                                               from whichever port served it); wr: gnt = no load write
vector               In(VectorMemSignature)    rd0, rd1, wr with their grants; the ports' other use
dbg                  In(ReadPortSignature)     debug read of a row on rd1 (data the next cycle)
"""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..sram import ReadPortSignature, WritePortSignature
from .common import ScalarMemSignature, VectorMemSignature

__all__ = ["SramArbiter"]


class SramArbiter(wiring.Component):
    def __init__(self, row_bits: int):
        self.row_bits = row_bits
        super().__init__({
            "sram_rd0": Out(ReadPortSignature(row_bits)),
            "sram_rd1": Out(ReadPortSignature(row_bits)),
            "sram_wr": Out(WritePortSignature(row_bits)),
            "load": In(WritePortSignature(row_bits)),
            "scalar": In(ScalarMemSignature(row_bits)),
            "vector": In(VectorMemSignature(row_bits)),
            "dbg": In(ReadPortSignature(row_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        rd0, rd1, wr = self.sram_rd0, self.sram_rd1, self.sram_wr
        ld, sc, v, dbg = self.load, self.scalar, self.vector, self.dbg

        # write port: the load bus, then a scalar store, then the vector write-back
        with m.If(ld.req):
            m.d.comb += [wr.req.eq(1), wr.addr.eq(ld.addr), wr.data.eq(ld.data), wr.mask.eq(ld.mask),
                         ld.gnt.eq(wr.gnt)]
        with m.Elif(sc.wr.req):
            m.d.comb += [wr.req.eq(1), wr.addr.eq(sc.wr.addr), wr.data.eq(sc.wr.data), wr.mask.eq(sc.wr.mask)]
        with m.Else():
            m.d.comb += [wr.req.eq(v.wr.req), wr.addr.eq(v.wr.addr), wr.data.eq(v.wr.data), wr.mask.eq(v.wr.mask),
                         v.wr.gnt.eq(wr.gnt)]
        # the write port takes every bank, so a store is granted whenever the load bus is quiet
        m.d.comb += sc.wr.gnt.eq(~ld.req)

        # read ports
        sc_on0 = Signal()  # this cycle's scalar read uses rd0
        sc_on1 = Signal()  # ... rd1
        m.d.comb += [sc_on0.eq(sc.rd.req & ~v.rd0_demand), sc_on1.eq(sc.rd.req & ~sc_on0)]
        with m.If(sc_on0):
            m.d.comb += [rd0.req.eq(1), rd0.addr.eq(sc.rd.addr)]
        with m.Else():
            m.d.comb += [rd0.req.eq(v.rd0.req), rd0.addr.eq(v.rd0.addr)]
        with m.If(sc_on1):
            m.d.comb += [rd1.req.eq(1), rd1.addr.eq(sc.rd.addr)]
        with m.Elif(dbg.req):
            m.d.comb += [rd1.req.eq(1), rd1.addr.eq(dbg.addr)]
        with m.Else():
            m.d.comb += [rd1.req.eq(v.rd1.req), rd1.addr.eq(v.rd1.addr)]

        # Both of a vector phase's reads must be granted in the same cycle (a partial grant is
        # retried by the engine), so a port taken by another client is simply not granted.
        sc_port0_q = Signal()  # the scalar read of last cycle was on rd0
        m.d.sync += sc_port0_q.eq(sc_on0)
        m.d.comb += [
            v.rd0.gnt.eq(rd0.gnt & ~sc_on0),
            v.rd1.gnt.eq(rd1.gnt & ~sc_on1 & ~dbg.req),
            v.rd0.data.eq(rd0.data),
            v.rd1.data.eq(rd1.data),
            sc.rd.gnt.eq(Mux(sc_on0, rd0.gnt, rd1.gnt)),
            sc.rd.data.eq(Mux(sc_port0_q, rd0.data, rd1.data)),
            dbg.gnt.eq(rd1.gnt & ~sc_on1),
            dbg.data.eq(rd1.data),
            v.taken.rd0.eq(sc_on0),
            v.taken.rd1.eq(sc_on1 | dbg.req),
            v.taken.rd1_row.eq(Mux(sc_on1, sc.rd.addr, dbg.addr)),
            v.taken.wr.eq(wr.req),
            v.taken.wr_row.eq(wr.addr),
        ]
        return m
