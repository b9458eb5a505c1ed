"""The vector engine's C, F and D stages and the write-back.

Role
----
C   the group's rows are on the SRAM read ports (or in the issue stage's hold registers, or in
    the group itself for an A-row buffer hit); saved here if the group cannot move on at once,
    since a later grant replaces the data on a port
F   operands extracted per lane into registers and presented to the ``lanes`` FPLanes
    (hdl/fpu.py: fmac, f16/f32 add and mul, the vcvt conversions), or to the integer path
    (i16/i32 add and mul, max of every type, the i32 shifts and logic ops, mov/fill) beside them
D0..D3  the FPLane latency (the integer results wait in a delay line of the same length);
    D3 writes back: one SRAM row write with byte mask, or one wavelet to the output register
The whole F..D3 pipeline advances with one enable (the FPLane ``en``): it stops only when the
write-back cannot complete (output backpressure, write port taken by the load bus or a store).

Interface (``VectorPipeline(nctx, lanes16, lanes32, row_bits)``, ``wiring.Component``, ``sync``)
--------------------------------------------------------------------------------------------
issue       In(1)                a group leaves I this cycle
group       In(GroupLayout)      that group
hold        In(3 x 64)           the issue stage's hold registers (A, B, D)
rd0_data, rd1_data   In(64)      the SRAM read ports' data
c_free      Out(1)               C can take a group this cycle
pending     Out(PendingWrite x PIPE_SLOTS)   groups in C, F, D0.. that will write a row
empty       Out(1)               no group in C, F or D
wr          Out(WritePortSignature)   the write-back's row write (gnt: done this cycle)
out         Out(stream.Signature(WaveletLayout))   the write-back's FOUT element
wb          Out(done, ctx, k)    a group of k elements of context ctx completes this cycle
wb_op       Out(LaneOp)          the class of that group's lane operations (hdl/probe.py)
clear, halt In(1)                drop every group in flight
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..fpu import F16_QNAN, F32_QNAN, FPLane, FpOp
from ..isa import CvtMode, FmacMode, LogicMode, ShiftMode
from ..probe import LaneOp
from ..sram import ROW_BITS, WritePortSignature
from ..wavelet import WaveletLayout
from .common import RowSrc, VecFunc, group_layout, pending_write_layout
from .vissue import PIPE_SLOTS

__all__ = ["VectorPipeline"]

#: FpOp per fmac mode (the instruction's m field, FmacMode order)
_FMAC_OPS = [FpOp.FMAC_F32_F16, FpOp.FMAC_F32, FpOp.FMAC_F16, FpOp.MAC_I32_I16]
# wb_op is the fmac mode itself for fmac groups
assert all(LaneOp(int(m)).name.endswith(m.name) for m in FmacMode)


class VectorPipeline(wiring.Component):
    def __init__(self, nctx, lanes16, lanes32, row_bits):
        self.nctx, self.lanes16, self.lanes32, self.row_bits = nctx, lanes16, lanes32, row_bits
        self.group_layout = group_layout(nctx, lanes16, row_bits)
        super().__init__({
            "issue": In(1),
            "group": In(self.group_layout),
            "hold": In(data.ArrayLayout(ROW_BITS, 3)),
            "rd0_data": In(ROW_BITS),
            "rd1_data": In(ROW_BITS),
            "c_free": Out(1),
            "pending": Out(data.ArrayLayout(pending_write_layout(nctx, row_bits), PIPE_SLOTS)),
            "empty": Out(1),
            "wr": Out(WritePortSignature(row_bits)),
            "out": Out(stream.Signature(WaveletLayout)),
            "wb": Out(data.StructLayout({"done": 1, "ctx": range(nctx), "k": range(lanes16 + 1)})),
            "wb_op": Out(LaneOp),
            "clear": In(1),
            "halt": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        p = _Pipe()
        p.c_valid = Signal()
        p.f_valid = Signal()
        p.en = Signal()  # the F..D3 pipeline advances
        p.f_free = Signal()
        m.d.comb += [p.f_free.eq(~p.f_valid | p.en), self.c_free.eq(~p.c_valid | p.f_free)]
        p.c_g = Signal(self.group_layout)
        with m.If(self.c_free):
            m.d.sync += p.c_valid.eq(self.issue)
            with m.If(self.issue):
                m.d.sync += p.c_g.eq(self.group)
        self._f_stage(m, p)
        self._d_stages(m, p)
        self._write_back(m, p)
        pending = [(p.c_valid, p.c_g), (p.f_valid, p.f_g)] + list(zip(p.dv, p.dg, strict=True))
        for s, (v, grp) in enumerate(pending):
            m.d.comb += [self.pending[s].valid.eq(v & ~grp.dfout), self.pending[s].ctx.eq(grp.ctx),
                         self.pending[s].row.eq(grp.drow)]
        m.d.comb += self.empty.eq(~p.c_valid & ~p.f_valid & ~Cat(*p.dv).any())
        with m.If(self.clear | self.halt):
            m.d.sync += [p.c_valid.eq(0), p.f_valid.eq(0)] + [v.eq(0) for v in p.dv]
        return m

    def _f_stage(self, m, p):
        """C's rows to per-lane operand registers."""
        NL = self.lanes16
        c_g = p.c_g
        p.f_g = Signal(self.group_layout)
        p.f_a = [Signal(32, name=f"f_a{j}") for j in range(NL)]
        p.f_b = [Signal(32, name=f"f_b{j}") for j in range(NL)]
        p.f_d = [Signal(32, name=f"f_d{j}") for j in range(NL)]
        row_a = Signal(ROW_BITS)
        row_b = Signal(ROW_BITS)
        row_d = Signal(ROW_BITS)
        hold_a, hold_b, hold_d = self.hold[0], self.hold[1], self.hold[2]
        rd0, rd1 = self.rd0_data, self.rd1_data
        # The rows are on the ports only in C's first cycle (a later grant, e.g. a scalar load on
        # rd1, replaces them): save them when C cannot move on at once.
        c_saved = Signal()
        c_sa, c_sb, c_sd = Signal(ROW_BITS), Signal(ROW_BITS), Signal(ROW_BITS)
        m.d.comb += [
            row_a.eq(Mux(c_saved, c_sa, Mux(c_g.sa == RowSrc.HOLD, hold_a, Mux(c_g.sa == RowSrc.ABUF, c_g.arow, rd0)))),
            row_b.eq(Mux(c_saved, c_sb, Mux(c_g.sb == RowSrc.HOLD, hold_b, rd1))),
            row_d.eq(Mux(c_saved, c_sd, Mux(c_g.sd == RowSrc.HOLD, hold_d, Mux(c_g.sd == RowSrc.RD0, rd0, rd1)))),
        ]
        with m.If(p.c_valid & ~p.f_free & ~c_saved):
            m.d.sync += [c_saved.eq(1), c_sa.eq(row_a), c_sb.eq(row_b), c_sd.eq(row_d)]
        with m.If(p.f_free):
            m.d.sync += c_saved.eq(0)

        def lane_val(row, h, j, is16, tag):
            """Lane j's element of a row whose first element is at half-word h."""
            hj = Signal(3, name=f"hj_{tag}{j}")
            m.d.comb += hj.eq(h + Mux(is16, j, 2 * j))
            v = Signal(32, name=f"lv_{tag}{j}")
            m.d.comb += v.eq(Cat(row, row).bit_select(hj * 16, 32))
            return Mux(is16, v[:16], v)

        with m.If(p.f_free):
            m.d.sync += p.f_valid.eq(p.c_valid)
            with m.If(p.c_valid):
                m.d.sync += p.f_g.eq(c_g)
                for j in range(NL):
                    av = Mux(c_g.amem, lane_val(row_a, c_g.ah, j, c_g.o16, 'a'), c_g.fa)
                    sc = c_g.scalar
                    bv = Mux(c_g.scal, sc, Mux(c_g.bmem, lane_val(row_b, c_g.bh, j, c_g.o16, 'b'), c_g.fb))
                    m.d.sync += [
                        p.f_a[j].eq(Mux(c_g.o16, av[:16], av)),
                        p.f_b[j].eq(Mux(c_g.o16, bv[:16], bv)),
                        p.f_d[j].eq(lane_val(row_d, c_g.dh, j, c_g.d16, 'd')),
                    ]

    def _d_stages(self, m, p):
        """The FPLanes and the integer path beside them."""
        NL = self.lanes16
        f_g = p.f_g
        fpop = Signal(FpOp)
        with m.Switch(f_g.func):
            with m.Case(VecFunc.FMAC):
                m.d.comb += fpop.eq(Array(_FMAC_OPS)[f_g.m])
            with m.Case(VecFunc.ADD):
                m.d.comb += fpop.eq(Mux(f_g.m == 0, FpOp.ADD_F16, FpOp.ADD_F32))
            with m.Case(VecFunc.MUL):
                m.d.comb += fpop.eq(Mux(f_g.m == 0, FpOp.MUL_F16, FpOp.MUL_F32))
            with m.Case(VecFunc.CVT):
                m.d.comb += fpop.eq(Mux(f_g.m[0] == CvtMode.F16_F32, FpOp.CVT_F32_F16, FpOp.CVT_F16_F32))
        # i16/i32 add and mul (type codes 2 and 3: m[1]), max of every type (a compare: no
        # rounding, so no FPLane) and mov/fill take the integer path
        is_int = Signal()
        m.d.comb += is_int.eq((f_g.func == VecFunc.MOV) | (f_g.func == VecFunc.MAX) | (f_g.func == VecFunc.SHIFT)
                              | (f_g.func == VecFunc.LOGIC)
                              | (((f_g.func == VecFunc.ADD) | (f_g.func == VecFunc.MUL)) & f_g.m[1]))
        is_fp = ~f_g.m[1]  # the element type of add, mul and max: f16 0, f32 1, i16 2, i32 3
        D = FPLane.LATENCY
        p.dg = [Signal(self.group_layout, name=f"dg{s}") for s in range(D)]
        p.dv = [Signal(name=f"dv{s}") for s in range(D)]
        p.di = [Signal(name=f"dint{s}") for s in range(D)]
        p.dres = [[Signal(32, name=f"dres{s}_{j}") for j in range(NL)] for s in range(D)]
        p.lanes = []
        for j in range(NL):
            ln = FPLane()
            m.submodules[f"lane{j}"] = ln
            p.lanes.append(ln)
            m.d.comb += [ln.en.eq(p.en), ln.in_valid.eq(p.f_valid & ~is_int), ln.op.eq(fpop),
                         ln.acc.eq(p.f_d[j]), ln.a.eq(p.f_a[j]), ln.b.eq(p.f_b[j])]
            ires = Signal(32, name=f"ires{j}")
            with m.Switch(f_g.func):
                with m.Case(VecFunc.ADD):
                    m.d.comb += ires.eq(p.f_a[j] + p.f_b[j])
                with m.Case(VecFunc.MUL):
                    if j < self.lanes32:
                        m.d.comb += ires.eq(p.f_a[j] * p.f_b[j])
                    else:  # lanes beyond the 32-bit ones only ever multiply i16 (smaller multiplier)
                        m.d.comb += ires.eq(p.f_a[j][:16] * p.f_b[j][:16])
                with m.Case(VecFunc.MAX):
                    mx16 = _maximum(m, p.f_a[j][:16], p.f_b[j][:16], 16, is_fp, f"max16_{j}")
                    if j < self.lanes32:
                        mx32 = _maximum(m, p.f_a[j], p.f_b[j], 32, is_fp, f"max32_{j}")
                        m.d.comb += ires.eq(Mux(f_g.d16, mx16, mx32))
                    else:  # lanes beyond the 32-bit ones only ever see 16-bit types
                        m.d.comb += ires.eq(mx16)
                if j < self.lanes32:  # the bit ops are i32 only: the 32-bit lanes
                    with m.Case(VecFunc.SHIFT):
                        sh = p.f_b[j][:5]
                        with m.Switch(f_g.m):
                            with m.Case(ShiftMode.SLL):
                                m.d.comb += ires.eq(p.f_a[j] << sh)
                            with m.Case(ShiftMode.SRL):
                                m.d.comb += ires.eq(p.f_a[j] >> sh)
                            with m.Case(ShiftMode.SRA):
                                m.d.comb += ires.eq(p.f_a[j].as_signed() >> sh)
                    with m.Case(VecFunc.LOGIC):
                        with m.Switch(f_g.m):
                            with m.Case(LogicMode.AND):
                                m.d.comb += ires.eq(p.f_a[j] & p.f_b[j])
                            with m.Case(LogicMode.OR):
                                m.d.comb += ires.eq(p.f_a[j] | p.f_b[j])
                            with m.Case(LogicMode.XOR):
                                m.d.comb += ires.eq(p.f_a[j] ^ p.f_b[j])
                with m.Default():
                    m.d.comb += ires.eq(Mux(f_g.scal, p.f_b[j], p.f_a[j]))
            with m.If(p.en):
                m.d.sync += p.dres[0][j].eq(Mux(f_g.d16, ires[:16], ires))
                for s in range(1, D):
                    m.d.sync += p.dres[s][j].eq(p.dres[s - 1][j])
        with m.If(p.en):
            m.d.sync += [p.dv[0].eq(p.f_valid), p.dg[0].eq(f_g), p.di[0].eq(is_int)]
            for s in range(1, D):
                m.d.sync += [p.dv[s].eq(p.dv[s - 1]), p.dg[s].eq(p.dg[s - 1]), p.di[s].eq(p.di[s - 1])]

    def _write_back(self, m, p):
        """D3: the row write (byte mask per lane) or the output wavelet."""
        NL = self.lanes16
        D = FPLane.LATENCY
        wg = p.dg[D - 1]
        res = [Signal(32, name=f"res{j}") for j in range(NL)]
        for j in range(NL):
            m.d.comb += res[j].eq(Mux(p.di[D - 1], p.dres[D - 1][j], p.lanes[j].result))
        MB = ROW_BITS // 8  # byte-mask bits of a row
        wdata = Signal(ROW_BITS)
        wmask = Signal(MB)
        wd = Const(0, ROW_BITS)
        wm = Const(0, MB)
        for j in range(NL):
            hj = Signal(3, name=f"wh{j}")
            m.d.comb += hj.eq(wg.dh + Mux(wg.d16, j, 2 * j))
            on = wg.k > j
            val = Mux(wg.d16, res[j][:16], res[j])
            wd = wd | Mux(on, (val.as_unsigned() << (hj * 16))[:ROW_BITS], 0)
            wm = wm | Mux(on, (Mux(wg.d16, Const(3, MB), Const(15, MB)) << (hj * 2))[:MB], 0)
        m.d.comb += [wdata.eq(wd), wmask.eq(wm)]
        wb_valid = p.dv[D - 1]
        wb_ok = Signal()
        with m.If(wg.dfout):
            m.d.comb += [self.out.valid.eq(wb_valid), wb_ok.eq(self.out.ready)]
        with m.Else():
            m.d.comb += [self.wr.req.eq(wb_valid), self.wr.addr.eq(wg.drow), self.wr.data.eq(wdata),
                         self.wr.mask.eq(wmask), wb_ok.eq(self.wr.gnt)]
        # the class of the group's lane operations (activity counters, hdl/probe.py)
        with m.If(p.di[D - 1]):
            m.d.comb += self.wb_op.eq(LaneOp.INT)
        with m.Else():
            with m.Switch(wg.func):
                with m.Case(VecFunc.FMAC):
                    m.d.comb += self.wb_op.eq(wg.m)  # LaneOp lists the fmac modes first, in FmacMode order
                with m.Case(VecFunc.ADD):
                    m.d.comb += self.wb_op.eq(Mux(wg.m == 0, LaneOp.ADD_F16, LaneOp.ADD_F32))
                with m.Case(VecFunc.MUL):
                    m.d.comb += self.wb_op.eq(Mux(wg.m == 0, LaneOp.MUL_F16, LaneOp.MUL_F32))
                with m.Case(VecFunc.CVT):
                    # a conversion is the FPLane's a * 1.0 + (-0), an add's datapath and one
                    # rounding: counted as an add of its result format
                    m.d.comb += self.wb_op.eq(Mux(wg.d16, LaneOp.ADD_F16, LaneOp.ADD_F32))
        m.d.comb += [
            p.en.eq(~wb_valid | wb_ok),
            self.wb.done.eq(wb_valid & wb_ok),
            self.wb.ctx.eq(wg.ctx),
            self.wb.k.eq(wg.k),
            self.out.payload.payload.eq(res[0]),
            self.out.payload.color.eq(wg.dcolor),
            self.out.payload.ctrl.eq(wg.dctrl),
        ]


def _maximum(m, a, b, width, is_fp, name):
    """max(a, b) of ``width``-bit patterns (docs/floating-point.md "Maximum"): floating point
    (``is_fp``) with any NaN giving the canonical NaN and -0 < +0, else two's complement."""
    sign = 1 << (width - 1)
    man = 10 if width == 16 else 23
    qnan = F16_QNAN if width == 16 else F32_QNAN

    def key(x):
        # an unsigned order of the patterns: a negative float's magnitude order is reversed, and
        # flipping the sign bit puts every non-negative value above every negative one (two's
        # complement integers only need that flip)
        return Mux(is_fp & x[width - 1], ~x, x ^ sign)

    def nan(x):
        return x[man:width - 1].all() & x[:man].any()

    res = Signal(width, name=name)
    m.d.comb += res.eq(Mux(is_fp & (nan(a) | nan(b)), qnan, Mux(key(a) >= key(b), a, b)))
    return res


class _Pipe:
    """The pipeline's registers and signals, shared by its elaboration steps."""
