"""The repair cell: the wiring around one physical tile that maps a defective tile out of the mesh.

Role
----
A wafer's physical mesh has spare columns (hdl/repair.py, docs/wafer.md). Every physical tile
position holds one repair cell between the tile and its neighbours; its straps (fuses, burnt
from the wafer's defect map before anything runs) say whether the tile is in use and which
physically nearby tiles are its logical neighbours north and south:

    fused = 1   the tile is defective or an unused spare: it is cut off (its inputs see nothing,
                its outputs are ignored, it reports no error and counts as idle) and the row's
                east-west links pass through the cell, each direction through a one-stage
                ``BoundaryLink`` (hdl/boundary.py): a bypassed tile adds one cycle and keeps
                every wire one tile pitch long, lossless under backpressure
    fused = 0   the tile's east and west links are the cell's
    n_sel       the tile's north input listens to the southward link of the row above at physical
                column p + n_sel - K (2K + 1 candidates, K the spares per segment: logical
                neighbours are at most K columns apart); s_sel likewise for the south input and
                the northward links of the row below
    sr_sel      which cell below takes this tile's south output: the south output's ready is that
                cell's published north-input ready (p + sr_sel - K); nr_sel likewise above
    The fault chain (hdl/fault.py) passes a fused tile unchanged, without its register.

Interface (``RepairCell(colors, spares)``, ``wiring.Component``, domain ``sync``)
    fused In(1); n_sel, s_sel, sr_sel, nr_sel In(range(2K + 1))          the straps
    t_in_{n,e,s,w}   Out(LinkSignature)   to the tile's inputs
    t_out_{n,e,s,w}  In(LinkSignature)    from the tile's outputs
    w_in, e_in       In(LinkSignature)    eastward from the west slot, westward from the east slot
    e_out, w_out     Out(LinkSignature)   eastward to the east slot, westward to the west slot
    n_cand_valid In(2K+1), n_cand_data In(2K+1 wavelets)   southward links above, p - K .. p + K
    s_cand_valid, s_cand_data                              northward links below
    n_ready, s_ready Out(colors)          published: the tile's north / south input ready
    s_out, n_out     Out(LinkSignature)   the tile's south / north output onto this column's slot
    s_rdy_cand, n_rdy_cand In(2K+1 x colors)   the published readies of the cells below / above
    s_rdy, n_rdy     Out(colors)          the selected one: the ready of this column's slot
    t_err, t_idle, t_halted In(1) -> err, idle, halted Out(1)   masked when fused; err also when a
                                          bypass buffer overflowed
    fault_in In(FaultInfo) -> t_fault_in Out; t_fault_out In -> fault_out Out
    bypass_overflow  Out(1)               sticky: a bypass buffer overflowed (a sender ignored ready)
"""

from __future__ import annotations

from amaranth import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .boundary import BoundaryLink
from .fault import FaultInfo
from .router import LinkSignature
from .wavelet import WaveletLayout

__all__ = ["RepairCell", "REPAIR_MODULE"]

REPAIR_MODULE = "tessera_repair"


class RepairCell(wiring.Component):
    def __init__(self, colors: int, spares: int):
        if not isinstance(spares, int) or not 1 <= spares <= 4:
            raise ValueError(f"repair cell: spares per segment must be 1..4, got {spares!r}")
        self.colors, self.spares = colors, spares
        n = 2 * spares + 1
        link = LinkSignature(colors)
        members = {"fused": In(1)}
        members.update({f"{s}_sel": In(range(n)) for s in ("n", "s", "sr", "nr")})
        for s in "nesw":
            members[f"t_in_{s}"] = Out(link)
            members[f"t_out_{s}"] = In(link)
        members.update(w_in=In(link), e_in=In(link), e_out=Out(link), w_out=Out(link))
        for s in "ns":
            members[f"{s}_cand_valid"] = In(n)
            members[f"{s}_cand_data"] = In(data.ArrayLayout(WaveletLayout, n))
            members[f"{s}_ready"] = Out(colors)
            members[f"{s}_out"] = Out(link)
            members[f"{s}_rdy_cand"] = In(data.ArrayLayout(colors, n))
            members[f"{s}_rdy"] = Out(colors)
        members.update(t_err=In(1), t_idle=In(1), t_halted=In(1), err=Out(1), idle=Out(1), halted=Out(1),
                       fault_in=In(FaultInfo), t_fault_in=Out(FaultInfo), t_fault_out=In(FaultInfo),
                       fault_out=Out(FaultInfo), bypass_overflow=Out(1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        fused = self.fused
        m.submodules.bypass_e = be = BoundaryLink(self.colors, 1)
        m.submodules.bypass_w = bw = BoundaryLink(self.colors, 1)
        m.d.comb += self.bypass_overflow.eq(be.overflow | bw.overflow)

        # east-west: through the tile, or through the bypass stage of a fused tile
        for arriving, tile_in, tile_out, leaving, stage in ((self.w_in, self.t_in_w, self.t_out_e, self.e_out, be),
                                                            (self.e_in, self.t_in_e, self.t_out_w, self.w_out, bw)):
            m.d.comb += [
                tile_in.valid.eq(arriving.valid & ~fused), tile_in.data.eq(arriving.data),
                stage.tx.valid.eq(arriving.valid & fused), stage.tx.data.eq(arriving.data),
                arriving.ready.eq(Mux(fused, stage.tx.ready, tile_in.ready)),
                leaving.valid.eq(Mux(fused, stage.rx.valid, tile_out.valid)),
                leaving.data.eq(Mux(fused, stage.rx.data, tile_out.data)),
                stage.rx.ready.eq(Mux(fused, leaving.ready, 0)),
                tile_out.ready.eq(Mux(fused, 0, leaving.ready)),
            ]

        # north-south: the tile's inputs select among the nearby tiles of the next row; its
        # outputs leave on this column's slot, whose ready is the selecting cell's
        for side, tile_in, tile_out, other in (("n", self.t_in_n, self.t_out_s, "s"),
                                               ("s", self.t_in_s, self.t_out_n, "n")):
            sel = getattr(self, f"{side}_sel")
            cv, cd = getattr(self, f"{side}_cand_valid"), getattr(self, f"{side}_cand_data")
            out = getattr(self, f"{other}_out")
            rsel, rcand = getattr(self, f"{other}r_sel"), getattr(self, f"{other}_rdy_cand")
            m.d.comb += [
                tile_in.valid.eq(cv.bit_select(sel, 1) & ~fused), tile_in.data.eq(cd[sel]),
                getattr(self, f"{side}_ready").eq(Mux(fused, 0, tile_in.ready)),
                out.valid.eq(tile_out.valid & ~fused), out.data.eq(tile_out.data),
                tile_out.ready.eq(Mux(fused, 0, out.ready)),
                getattr(self, f"{other}_rdy").eq(Mux(fused, 0, rcand[rsel])),
            ]

        m.d.comb += [
            self.err.eq((self.t_err & ~fused) | self.bypass_overflow),
            self.idle.eq(self.t_idle | fused), self.halted.eq(self.t_halted & ~fused),
            self.t_fault_in.eq(self.fault_in),
            self.fault_out.eq(Mux(fused, self.fault_in, self.t_fault_out)),
        ]
        return m
