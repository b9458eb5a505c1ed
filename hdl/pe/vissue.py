"""The vector engine's I stage: element groups, their SRAM row reads and fabric pops.

Role
----
For the context ``VectorContexts`` selects, form the next element group: up to ``lanes``
consecutive elements (``simd_f16`` for 16-bit results, half that for 32-bit ones) whose memory
operands each lie in one 64-bit row (unit stride, aligned); one element for other strides,
misaligned operands and fabric operands. Check its addresses (``SRAM_RANGE``, ``MISALIGNED``),
request its rows (A on rd0, B on rd1, the accumulator D on rd1, or on rd0 once A is in when B
also reads memory) and pop its fabric inputs. A row granted before the group's last one waits in
a hold register (captured the cycle after its grant), so bank conflicts between a group's reads
only cost cycles; the group leaves I when all its rows are granted.

A-row buffer: the last two rows of operand A read by a context, tagged with the context and
flushed when a context starts, so a row holding several groups' elements is read once; the next
row is prefetched on rd0 when rd0 is idle, or on rd1 when rd0 reads the accumulator and rd1 is
idle, if its bank is not in use by the other port or the write. (Safe for well-formed, race-free
ops: nothing else writes the bytes an op reads while it runs, and its own writes never touch
elements it reads at a later index.)

RAW interlock: a row that a group of *another* context will still write (in C, F or D0..D3) is
not read, nor prefetched, until written. A context's own pending writes never hold it up.

An element error stops all issue and is reported (``err``) for the vector engine to raise once
the groups before it have drained.

Interface (``IssueStage(colors, nctx, lanes16, lanes32, sram_bytes, rows, row_bits, banks)``,
``wiring.Component``, domain ``sync``)
---------------------------------------------------------------------------------------------
sel, any_elig, probing   In    from VectorContexts: the context to serve, its op and index
issue        Out(valid, k, inc[3])   a group of k elements leaves I; address increments
phase        Out(busy, ctx)    a group is partly read: stay on its context
group        Out(GroupLayout)  the group leaving I (to the C stage)
hold         Out(3 x 64)       rows granted in earlier cycles: A, B, D
c_free       In(1)             the C stage can take a group
pending      In(PendingWrite x (2 + FPLane.LATENCY))   groups in C, F, D0.. that will write a row
q            In(QueueSignature)   input queue heads and next entries (fabric operands)
pop1, pop2   Out(colors)       wavelets the group consumes (pop2: A and B read one color)
rd0, rd1     Out(ReadPortSignature)   row reads (data the cycle after the grant)
rd0_demand   Out(1)            rd0 reads other than prefetches (the scalar core yields to them)
taken        In(port_use_layout)   the ports' other use this cycle
launch, halted, halt, clear   In(1)
err          Out(pend, code, ctx)   an element error waits for the pipeline to drain
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..fpu import FPLane
from ..isa import ErrorCode
from ..sram import ROW_BITS, ReadPortSignature
from .common import (
    Operand,
    QEntry,
    QueueSignature,
    RowSrc,
    VecFunc,
    group_layout,
    pending_write_layout,
    port_use_layout,
    select,
)
from .vcontexts import issue_layout, phase_layout, sel_layout

__all__ = ["IssueStage", "PIPE_SLOTS"]

#: groups that may be in flight behind I: C, F and the FPLane stages
PIPE_SLOTS = 2 + FPLane.LATENCY

PF = 2  # entries of the A-row buffer


class IssueStage(wiring.Component):
    def __init__(self, colors, nctx, lanes16, lanes32, sram_bytes, rows, row_bits, banks):
        self.colors, self.nctx = colors, nctx
        self.lanes16, self.lanes32 = lanes16, lanes32
        self.sram_bytes, self.rows, self.row_bits, self.banks = sram_bytes, rows, row_bits, banks
        self.group_layout = group_layout(nctx, lanes16, row_bits)
        super().__init__({
            "sel": In(sel_layout(nctx)),
            "any_elig": In(1),
            "probing": In(1),
            "issue": Out(issue_layout(lanes16)),
            "phase": Out(phase_layout(nctx)),
            "group": Out(self.group_layout),
            "hold": Out(data.ArrayLayout(ROW_BITS, 3)),
            "c_free": In(1),
            "pending": In(data.ArrayLayout(pending_write_layout(nctx, row_bits), PIPE_SLOTS)),
            "q": In(QueueSignature(colors)),
            "pop1": Out(colors),
            "pop2": Out(colors),
            "rd0": Out(ReadPortSignature(row_bits)),
            "rd1": Out(ReadPortSignature(row_bits)),
            "rd0_demand": Out(1),
            "taken": In(port_use_layout(row_bits)),
            "launch": In(1),
            "halted": In(1),
            "halt": In(1),
            "clear": In(1),
            "err": Out(data.StructLayout({"pend": 1, "code": 4, "ctx": range(nctx)})),
        })

    def elaborate(self, platform):
        m = Module()
        S = self.sel.op
        g = _Group()
        g.is_fmac = S.func == VecFunc.FMAC
        g.a_mem = S.akind == Operand.MEM
        g.b_mem = S.bkind == Operand.MEM
        g.is_mem = [g.a_mem, g.b_mem, ~S.dfout]
        self._checks(m, S, g)
        self._size(m, S, g)
        self._group(m, S, g)
        self._reads(m, S, g)
        self._row_buffer(m, g)
        self._progress(m, S, g)
        self._hazards(m, g)
        return m

    def _checks(self, m, S, g):
        """Address checks and row geometry of operands A, B, D (per operand r)."""
        RB = self.row_bits
        size16 = [S.o16, S.o16, S.d16]
        g.bad_range, g.misal, g.unit_ok, g.row_elems, g.rows_of, g.hoff = [], [], [], [], [], []
        for r in range(3):
            a = S.addr[r]
            sz = Mux(size16[r], 2, 4)
            br = Signal(name=f"bad_range{r}")
            mi = Signal(name=f"misal{r}")
            m.d.comb += [
                br.eq(g.is_mem[r] & ((a < 0) | (a + sz > self.sram_bytes))),
                mi.eq(g.is_mem[r] & Mux(size16[r], a[0], a[:2] != 0)),
            ]
            g.bad_range.append(br)
            g.misal.append(mi)
            uo = Signal(name=f"unit{r}")
            m.d.comb += uo.eq((S.stride[r] == 1) & ~mi)
            g.unit_ok.append(uo)
            re = Signal(range(5), name=f"row_elems{r}")  # elements from the address to the row's end
            m.d.comb += re.eq(Mux(size16[r], (8 - a[:3]) >> 1, (8 - a[:3]) >> 2))
            g.row_elems.append(re)
            ro = Signal(RB, name=f"row{r}")
            m.d.comb += ro.eq(a[3:3 + RB])
            g.rows_of.append(ro)
            ho = Signal(2, name=f"hoff{r}")  # 16-bit half-word offset in the row
            m.d.comb += ho.eq(a[1:3])
            g.hoff.append(ho)
        g.el_err = Signal()
        g.el_code = Signal(4)
        m.d.comb += [
            g.el_err.eq(Cat(*g.bad_range).any() | Cat(*g.misal).any()),
            g.el_code.eq(Mux(Cat(*g.bad_range).any(), ErrorCode.SRAM_RANGE, ErrorCode.MISALIGNED)),
        ]

    def _size(self, m, S, g):
        """Group size k and the address increments it implies."""
        NL = self.lanes16
        size16 = [S.o16, S.o16, S.d16]
        fabric = (S.akind == Operand.FIN) | (S.bkind == Operand.FIN) | S.dfout
        g.k = Signal(range(NL + 1))
        kk = Mux(S.d16, self.lanes16, self.lanes32)
        rem = S.n - self.sel.i
        kv = Signal(range(NL + 1))
        m.d.comb += kv.eq(Mux(rem < kk, rem, kk))
        cur = kv
        for r in range(3):
            lim = Signal(range(NL + 1), name=f"klim{r}")
            m.d.comb += lim.eq(Mux(g.is_mem[r], Mux(g.unit_ok[r], g.row_elems[r], 1), NL))
            nxt = Signal(range(NL + 1), name=f"kmin{r}")
            m.d.comb += nxt.eq(Mux(lim < cur, lim, cur))
            cur = nxt
        m.d.comb += g.k.eq(Mux(fabric, 1, cur))
        for r in range(3):
            sz_log = Mux(size16[r], 1, 2)
            m.d.comb += self.issue.inc[r].eq(Mux(g.k == 1, S.stride[r] << sz_log, g.k << sz_log))

    def _group(self, m, S, g):
        """The group as it leaves I, with its fabric operands."""
        gi = self.group
        C = self.colors
        heads = [self.q.head[c].as_value() for c in range(C)]
        fin_a = select(m, heads, S.acolor, QEntry, "fin_a")
        fin_b0 = select(m, heads, S.bcolor, QEntry, "fin_b0")
        fin_b1 = select(m, [self.q.next[c].as_value() for c in range(C)], S.bcolor, QEntry, "fin_b1")
        # A and B on one color take two consecutive wavelets: B gets the second
        g.same_col = (S.akind == Operand.FIN) & (S.bkind == Operand.FIN) & (S.acolor == S.bcolor)
        g.src_a, g.src_b, g.src_d = Signal(2), Signal(2), Signal(2)
        m.d.comb += [
            gi.ctx.eq(self.sel.ctx), gi.k.eq(g.k), gi.func.eq(S.func), gi.scal.eq(S.scal),
            gi.m.eq(S.m), gi.d16.eq(S.d16), gi.o16.eq(S.o16), gi.dfout.eq(S.dfout),
            gi.dcolor.eq(S.dcolor), gi.dctrl.eq(S.dctrl), gi.drow.eq(g.rows_of[2]), gi.dh.eq(g.hoff[2]),
            gi.ah.eq(g.hoff[0]), gi.bh.eq(g.hoff[1]), gi.amem.eq(g.a_mem), gi.bmem.eq(g.b_mem), gi.fmac.eq(g.is_fmac),
            gi.sa.eq(g.src_a), gi.sb.eq(g.src_b), gi.sd.eq(g.src_d), gi.fa.eq(fin_a.payload),
            gi.fb.eq(Mux(g.same_col, fin_b1.payload, fin_b0.payload)),
            gi.scalar.eq(S.scalar),
        ]
        # fabric pops
        pa = Mux(self.issue.valid & (S.akind == Operand.FIN), Const(1, 32) << S.acolor, 0)[:C]
        pb = Mux(self.issue.valid & (S.bkind == Operand.FIN) & ~g.same_col, Const(1, 32) << S.bcolor, 0)[:C]
        p2 = Mux(self.issue.valid & g.same_col, Const(1, 32) << S.acolor, 0)[:C]
        m.d.comb += [self.pop1.eq(pa | pb), self.pop2.eq(p2)]

    def _reads(self, m, S, g):
        """Row requests of the group (and the A-row prefetch) on rd0 and rd1."""
        RB, ROWS = self.row_bits, self.rows
        g.got = Signal(3)  # rows of the group in I already read (A, B, D)
        g.phase1 = self.phase.busy
        g.err_pend = self.err.pend
        g.try_issue = Signal()
        m.d.comb += g.try_issue.eq(self.any_elig & ~g.err_pend & ~self.halted & self.c_free & ~self.clear)
        g.d_on0 = Signal()
        m.d.comb += g.d_on0.eq(g.b_mem)
        g.pf_valid = Signal(PF)
        g.pf_fill = Signal(PF)  # the entry's data is on a read port this cycle (granted last cycle)
        g.pf_fill1 = Signal(PF)  # ... on rd1 (else rd0)
        g.pf_row = [Signal(RB, name=f"pf_row{e}") for e in range(PF)]
        g.pf_data = [Signal(ROW_BITS, name=f"pf_data{e}") for e in range(PF)]
        g.pf_ctx = Signal(range(self.nctx))
        g.hit_e = Signal(PF)
        g.nxt_e = Signal(PF)
        g.pf_next = Signal(RB + 1)
        ctx_issue = self.sel.ctx
        m.d.comb += g.pf_next.eq(g.rows_of[0] + 1)
        for e in range(PF):
            m.d.comb += [g.hit_e[e].eq(g.pf_valid[e] & (g.pf_row[e] == g.rows_of[0]) & (g.pf_ctx == ctx_issue)),
                         g.nxt_e[e].eq(g.pf_valid[e] & (g.pf_row[e] == g.pf_next) & (g.pf_ctx == ctx_issue))]
        g.a_hit = Signal()
        m.d.comb += g.a_hit.eq(g.a_mem & g.hit_e.any())
        a_buf = Signal(ROW_BITS)
        g.fill_data = [Mux(g.pf_fill1[e], self.rd1.data, self.rd0.data) for e in range(PF)]
        m.d.comb += a_buf.eq(Mux(g.hit_e[0], Mux(g.pf_fill[0], g.fill_data[0], g.pf_data[0]),
                                 Mux(g.pf_fill[1], g.fill_data[1], g.pf_data[1])))
        m.d.comb += self.group.arow.eq(a_buf)
        g.req_a = g.a_mem & ~g.got[0] & ~g.a_hit
        g.req_b = g.b_mem & ~g.got[1]
        g.req_d0 = g.is_fmac & g.d_on0 & ~g.got[2] & ~g.req_a
        g.req_d1 = g.is_fmac & ~g.d_on0 & ~g.got[2]
        g.haz_rows = [Signal(name=f"haz_{r}") for r in ("a", "b", "d", "pf")]
        haz = Signal()
        m.d.comb += haz.eq((g.req_a & g.haz_rows[0]) | (g.req_b & g.haz_rows[1])
                           | ((g.req_d0 | g.req_d1) & g.haz_rows[2]))
        g.go = Signal()
        m.d.comb += g.go.eq(g.try_issue & ~g.el_err & ~haz)
        bank_bits = (self.banks - 1).bit_length()
        g.pf_try = Signal()  # prefetch the next A row on rd0 (rd0 idle)
        g.pf_try1 = Signal()  # ... on rd1 (rd0 reads the accumulator, rd1 idle): fmac with A, B, D in
        # memory then reads its three rows per group in 1.5 cycles (2/3 of the lanes)
        tk = self.taken
        rd1_dem = Signal()
        rd1_dem_row = Signal(RB)
        m.d.comb += self.rd0_demand.eq(g.go & (g.req_a | g.req_d0))
        m.d.comb += [rd1_dem.eq(tk.rd1 | (g.go & (g.req_b | g.req_d1))),
                     rd1_dem_row.eq(Mux(tk.rd1, tk.rd1_row, Mux(g.req_b, g.rows_of[1], g.rows_of[2])))]
        with m.If(g.go):
            m.d.comb += [self.rd0.req.eq(g.req_a | g.req_d0 | g.pf_try),
                         self.rd0.addr.eq(Mux(g.req_a, g.rows_of[0], Mux(g.req_d0, g.rows_of[2], g.pf_next))),
                         self.rd1.req.eq(g.req_b | g.req_d1 | g.pf_try1),
                         self.rd1.addr.eq(Mux(g.req_b, g.rows_of[1], Mux(g.req_d1, g.rows_of[2], g.pf_next)))]
            if bank_bits:
                nb = g.pf_next[:bank_bits]
                pf_ok = (g.a_mem & g.unit_ok[0] & (g.pf_next < ROWS) & ~g.nxt_e.any() & ~g.haz_rows[3]
                         & ~(tk.wr & (tk.wr_row[:bank_bits] == nb)))
                m.d.comb += [
                    g.pf_try.eq(pf_ok & ~g.req_a & ~g.req_d0 & ~tk.rd0 & ~(rd1_dem & (rd1_dem_row[:bank_bits] == nb))),
                    g.pf_try1.eq(pf_ok & g.req_d0 & ~rd1_dem & (g.rows_of[2][:bank_bits] != nb)),
                ]

    def _row_buffer(self, m, g):
        """Fill and replacement of the A-row buffer."""
        RB = self.row_bits
        ctx_issue = self.sel.ctx
        pf_ins = Signal()
        pf_ins_row = Signal(RB)
        # pf_try1 only when nobody else reads on rd1: its grant is the engine's
        m.d.comb += [
            pf_ins.eq(g.go & ((self.rd0.gnt & ((g.req_a & ~g.got[0]) | g.pf_try)) | (g.pf_try1 & self.rd1.gnt))),
            pf_ins_row.eq(Mux(g.req_a, g.rows_of[0], g.pf_next)),
        ]
        victim = Signal()
        m.d.comb += victim.eq(g.hit_e[0])  # keep the entry holding the current row
        for e in range(PF):
            with m.If(g.pf_fill[e]):
                m.d.sync += [g.pf_data[e].eq(g.fill_data[e]), g.pf_fill[e].eq(0)]
        with m.If(pf_ins):
            m.d.sync += g.pf_ctx.eq(ctx_issue)
            for e in range(PF):
                with m.If(victim == e):
                    m.d.sync += [g.pf_valid[e].eq(1), g.pf_row[e].eq(pf_ins_row), g.pf_fill[e].eq(1),
                                 g.pf_fill1[e].eq(g.pf_try1)]
                with m.Elif(g.pf_ctx != ctx_issue):
                    m.d.sync += g.pf_valid[e].eq(0)
        with m.If(self.launch | self.clear | self.halt):
            m.d.sync += g.pf_valid.eq(0)

    def _progress(self, m, S, g):
        """Grants, hold registers, leaving I, and element errors."""
        ctx_issue = self.sel.ctx
        g_a = Signal()
        g_b = Signal()
        g_d = Signal()
        m.d.comb += [
            g_a.eq(g.go & g.req_a & self.rd0.gnt),
            g_b.eq(g.go & g.req_b & self.rd1.gnt),
            g_d.eq(g.go & ((g.req_d0 & self.rd0.gnt) | (g.req_d1 & self.rd1.gnt))),
        ]
        all_in = Signal()
        m.d.comb += all_in.eq((~g.a_mem | g.got[0] | g_a | g.a_hit) & (~g.b_mem | g.got[1] | g_b)
                              & (~g.is_fmac | g.got[2] | g_d))
        issue = self.issue.valid
        m.d.comb += [issue.eq(g.go & all_in), self.issue.k.eq(g.k)]
        cap = Signal(4)  # capture next cycle: A from rd0, B from rd1, D from rd0, D from rd1
        hold_a, hold_b, hold_d = self.hold[0], self.hold[1], self.hold[2]
        m.d.sync += cap.eq(Mux(issue, 0, Cat(g_a, g_b, g_d & g.req_d0, g_d & g.req_d1)))
        with m.If(cap[0]):
            m.d.sync += hold_a.eq(self.rd0.data)
        with m.If(cap[1]):
            m.d.sync += hold_b.eq(self.rd1.data)
        with m.If(cap[2]):
            m.d.sync += hold_d.eq(self.rd0.data)
        with m.If(cap[3]):
            m.d.sync += hold_d.eq(self.rd1.data)
        with m.If(g.go & ~all_in & (g_a | g_b | g_d)):
            m.d.sync += [g.got.eq(g.got | Cat(g_a, g_b, g_d)), g.phase1.eq(1), self.phase.ctx.eq(ctx_issue)]
        with m.If(issue | self.clear | self.halt):
            m.d.sync += [g.got.eq(0), g.phase1.eq(0)]
        # where C finds each row
        m.d.comb += [g.src_a.eq(Mux(g.got[0], RowSrc.HOLD, Mux(g.a_hit, RowSrc.ABUF, RowSrc.RD0))),
                     g.src_b.eq(Mux(g.got[1], RowSrc.HOLD, RowSrc.RD1)),
                     g.src_d.eq(Mux(g.got[2], RowSrc.HOLD, Mux(g.d_on0, RowSrc.RD0, RowSrc.RD1)))]
        # element error: stop issuing, let the groups before it drain, then halt
        err = self.err
        with m.If((g.try_issue | (self.probing & ~self.halted & ~self.clear)) & g.el_err & ~g.err_pend & ~g.phase1):
            m.d.sync += [err.pend.eq(1), err.code.eq(g.el_code), err.ctx.eq(ctx_issue)]
        with m.If(self.halt | self.clear):
            m.d.sync += err.pend.eq(0)

    def _hazards(self, m, g):
        """RAW interlock: rows another context's groups in flight will still write."""
        ctx_issue = self.sel.ctx
        rows = [g.rows_of[0], g.rows_of[1], g.rows_of[2], g.pf_next[:self.row_bits]]
        for hz, row in zip(g.haz_rows, rows, strict=True):
            slots = [self.pending[s] for s in range(PIPE_SLOTS)]
            terms = [p.valid & (p.ctx != ctx_issue) & (p.row == row) for p in slots]
            m.d.comb += hz.eq(Cat(*terms).any())


class _Group:
    """The I stage's intermediate signals, shared by its elaboration steps."""
