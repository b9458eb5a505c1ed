"""The Tessera processing element (PE): scalar core, task scheduler, vector engine, RAMP queues.

Role
----
Executes docs/isa.md programs. A multi-cycle scalar core (FETCH -> EXEC, loads one cycle more)
runs one task at a time; a priority scheduler starts the lowest runnable task; one pipelined
vector engine executes the synchronous op of the running task and the asynchronous ops of the
``uthreads`` micro-threads, element groups interleaved between them, through ``simd_f16`` FPLane
instances (hdl/fpu.py) and the banked SRAM (hdl/sram.py). See docs/pe.md "Core".

Interfaces (``PE(profile)``, a ``wiring.Component``; domain ``sync``):
    ramp_in   In(LinkSignature(colors))    wavelets from the router; the PE drives ready[color]
                                           (registered: "this color's input queue has room")
    ramp_out  Out(LinkSignature(colors))   wavelets the PE sends; valid only while ready[color]
    load      In(LoadSignature)            we, addr[20], data[32]: the write-only load bus
                                           (address map in docs/pe.md)
    dbg       In(DbgSignature)             req, addr[20] -> rdata[64]: debug read port (testbench)
    status    Out(StatusSignature)         word (Status layout), halted, idle, running, pc,
                                           retired, cycles, busy_cycles, vec_elems, task_starts,
                                           clearing

Vector engine pipeline (one element group per cycle; a group is up to ``lanes`` consecutive
elements whose memory operands each lie in one 64-bit row):
    I   pick a context (sync op first, then micro-threads), check the group's addresses, request
        its row reads (A on rd0, B or the accumulator D on rd1; fmac with A, B and D in memory
        takes two cycles; rows granted early wait in hold registers; an A-row buffer reuses and
        prefetches operand A's rows), pop fabric inputs
    C   read data is on the SRAM ports
    F   operands extracted per lane into registers, presented to the FPLanes (and the integer
        path for i16/i32 add/mul and for mov/fill)
    D0..D3  FPLane latency; D3 writes back (SRAM write port or the output wavelet register)
The whole F..D3 pipeline advances with one enable (the FPLane ``en``): it stops when the
write-back cannot complete (output backpressure, write port taken by the scalar core).
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .fpu import FPLane, FpOp
from .isa import NUM_TASKS, DsrKind, ErrorCode, Insn, Opcode, Status
from .isa import Dsr as DsrLayout
from .loadmap import DbgRegion, DbgSignature, LoadSignature, Region
from .profiles import get_profile
from .router import LinkSignature
from .sram import BankedSRAM
from .wavelet import WaveletLayout

__all__ = ["PE", "StatusSignature"]

StatusSignature = wiring.Signature({
    "word": Out(32), "halted": Out(1), "idle": Out(1), "running": Out(1), "pc": Out(16),
    "retired": Out(32), "cycles": Out(32), "busy_cycles": Out(32), "vec_elems": Out(32),
    "task_starts": Out(32), "clearing": Out(1),
})

ADDR = signed(36)  # exact element addresses: base + i * stride * size spans about +-2**33

# vector-engine states of the scalar core
_S_IDLE, _S_FETCH, _S_EXEC, _S_LOAD, _S_VWAIT, _S_HALT = range(6)


def _sel(m, items, index, shape, name):
    """Materialise Array(items)[index] into one Signal (each proxy use would build a new mux)."""
    s = Signal(shape, name=name)
    m.d.comb += s.eq(Array(items)[index])
    return s


class PE(wiring.Component):
    def __init__(self, profile="small"):
        self.prof = p = get_profile(profile)
        self.colors = p.colors
        self.lanes16 = min(p.simd_f16, 4)  # a 64-bit row holds 4 16-bit elements
        self.lanes32 = min(p.simd_f16 // 2, 2)
        self.sram_bytes = p.sram_kib * 1024
        super().__init__({
            "ramp_in": In(LinkSignature(p.colors)),
            "ramp_out": Out(LinkSignature(p.colors)),
            "load": In(LoadSignature),
            "dbg": In(DbgSignature),
            "status": Out(StatusSignature),
        })

    def elaborate(self, platform):  # noqa: C901 - one flat datapath reads better than fragments
        m = Module()
        p = self.prof
        C = p.colors
        U = p.uthreads
        NCTX = U + 1  # context 0: the running task's synchronous op
        L16, L32 = self.lanes16, self.lanes32
        NL = L16
        SB = self.sram_bytes

        # ---------------------------------------------------------------- memories
        imem = Memory(shape=32, depth=p.imem_words, init=[])
        m.submodules.imem = imem
        irp = imem.read_port()
        iwp = imem.write_port()
        sram = BankedSRAM(p.sram_kib, p.sram_banks)
        m.submodules.sram = sram
        RB = sram.addr_bits
        ROWS = sram.rows

        # ---------------------------------------------------------------- architectural state
        regs = [Signal(32, name=f"r{i}") for i in range(16)]
        dsrs = [Signal(DsrLayout, name=f"d{i}") for i in range(16)]
        t_valid = Signal(NUM_TASKS)
        t_pend = Signal(NUM_TASKS)
        t_block = Signal(NUM_TASKS)
        t_entry = [Signal(16, name=f"entry{t}") for t in range(NUM_TASKS)]
        b_valid = Signal(C)
        b_task = [Signal(5, name=f"bind{c}") for c in range(C)]
        status = Signal(Status)
        run = Signal()
        state = Signal(range(6))
        pc = Signal(16)
        cur_task = Signal(5)
        retired = Signal(32)
        cycles = Signal(32)
        busy_cycles = Signal(32)
        vec_elems = Signal(32)
        task_starts = Signal(32)

        # pending-flag set/clear requests collected from several places, applied once
        pend_set = Signal(NUM_TASKS)
        pend_clr = Signal(NUM_TASKS)
        blk_set = Signal(NUM_TASKS)
        blk_clr = Signal(NUM_TASKS)

        # GPR write port (one per cycle from the core) plus the task-start write of r14/r15
        gw_en = Signal()
        gw_idx = Signal(4)
        gw_val = Signal(32)
        start_we = Signal()
        start_r14 = Signal(32)
        start_r15 = Signal(32)
        # DSR write port
        dw_en = Signal()
        dw_idx = Signal(4)
        dw_val = Signal(64)

        halt_now = Signal()  # an error halts the PE this cycle
        halt_code = Signal(4)
        halt_pc = Signal(16)
        halt_task = Signal(5)
        halt_async = Signal()

        clear = Signal()  # load-bus CLEAR: reset all state but memories and input queues

        # ---------------------------------------------------------------- RAMP input queues
        q0 = [Signal(33, name=f"q{c}_0") for c in range(C)]  # payload | ctrl << 32
        q1 = [Signal(33, name=f"q{c}_1") for c in range(C)]
        qn = [Signal(range(3), name=f"q{c}_n") for c in range(C)]
        pop1 = Signal(C)  # pop one wavelet
        pop2 = Signal(C)  # pop two (an op whose dA and dB read the same color)
        rdy = Signal(C)
        m.d.comb += self.ramp_in.ready.eq(rdy)
        w_in = self.ramp_in.data
        for c in range(C):
            push = self.ramp_in.valid & (w_in.color == c) & (qn[c] < 2)
            word = Cat(w_in.payload, w_in.ctrl)
            npop = Mux(pop2[c], 2, Mux(pop1[c], 1, 0))
            after = Signal(range(3), name=f"q{c}_after")  # count after the pops
            m.d.comb += after.eq(qn[c] - npop)
            with m.If(pop2[c]):
                m.d.sync += [q0[c].eq(word), q1[c].eq(word)]
            with m.Elif(pop1[c]):
                m.d.sync += q0[c].eq(Mux(qn[c] == 2, q1[c], word))
                with m.If(qn[c] == 2):
                    m.d.sync += q1[c].eq(word)
            with m.Elif(push):
                with m.If(qn[c] == 0):
                    m.d.sync += q0[c].eq(word)
                with m.Else():
                    m.d.sync += q1[c].eq(word)
            nxt = Signal(range(3), name=f"q{c}_next")
            m.d.comb += nxt.eq(after + push)
            m.d.sync += [qn[c].eq(Mux(clear, 0, nxt)), rdy[c].eq(clear | (nxt < 2))]
        q_head = q0

        # ---------------------------------------------------------------- output register
        ob_valid = Signal()
        ob = Signal(WaveletLayout)
        ob_ready = Signal()
        m.d.comb += [
            ob_ready.eq((self.ramp_out.ready >> ob.color)[0]),
            self.ramp_out.valid.eq(ob_valid & ob_ready),
            self.ramp_out.data.eq(ob),
        ]
        ob_free = Signal()  # the register can take a wavelet this cycle
        m.d.comb += ob_free.eq(~ob_valid | ob_ready)
        vec_push = Signal()
        vec_push_w = Signal(WaveletLayout)
        core_push = Signal()
        core_push_w = Signal(WaveletLayout)
        with m.If(vec_push):
            m.d.sync += [ob_valid.eq(1), ob.eq(vec_push_w)]
        with m.Elif(core_push):
            m.d.sync += [ob_valid.eq(1), ob.eq(core_push_w)]
        with m.Elif(ob_valid & ob_ready):
            m.d.sync += ob_valid.eq(0)

        # ---------------------------------------------------------------- SRAM port arbitration
        # The load bus (and the zeroing sweep) own the write port; then the scalar core; the
        # vector engine takes what is left. A scalar load takes rd0 when the vector engine does not
        # need it this cycle (the row-buffered operand leaves rd0 idle every other cycle), else rd1;
        # the debug port takes rd1; the vector engine gets the rest.
        ld_sram_we = Signal()
        ld_sram_row = Signal(RB)
        ld_sram_data = Signal(64)
        ld_sram_mask = Signal(8)
        sc_wr = Signal()
        sc_wr_row = Signal(RB)
        sc_wr_data = Signal(64)
        sc_wr_mask = Signal(8)
        sc_rd = Signal()
        sc_rd_row = Signal(RB)
        sc_on0 = Signal()  # this cycle's scalar read uses rd0
        v_rd0_dem = Signal()  # the vector engine's own rd0 demand (prefetches excluded)
        v_wr = Signal()
        v_wr_row = Signal(RB)
        v_wr_data = Signal(64)
        v_wr_mask = Signal(8)
        v_rd0 = Signal()
        v_rd0_row = Signal(RB)
        v_rd1 = Signal()
        v_rd1_row = Signal(RB)
        v_wr_ok = Signal()
        v_rd0_ok = Signal()
        v_rd1_ok = Signal()
        dbg_sram = Signal()
        m.d.comb += dbg_sram.eq(self.dbg.req & (self.dbg.addr[16:20] == DbgRegion.SRAM))
        with m.If(ld_sram_we):
            m.d.comb += [sram.wr.req.eq(1), sram.wr.addr.eq(ld_sram_row), sram.wr.data.eq(ld_sram_data),
                         sram.wr.mask.eq(ld_sram_mask)]
        with m.Elif(sc_wr):
            m.d.comb += [sram.wr.req.eq(1), sram.wr.addr.eq(sc_wr_row), sram.wr.data.eq(sc_wr_data),
                         sram.wr.mask.eq(sc_wr_mask)]
        with m.Else():
            m.d.comb += [sram.wr.req.eq(v_wr), sram.wr.addr.eq(v_wr_row), sram.wr.data.eq(v_wr_data),
                         sram.wr.mask.eq(v_wr_mask), v_wr_ok.eq(sram.wr.gnt)]
        m.d.comb += sc_on0.eq(sc_rd & ~v_rd0_dem)
        with m.If(sc_on0):
            m.d.comb += [sram.rd0.req.eq(1), sram.rd0.addr.eq(sc_rd_row)]
        with m.Else():
            m.d.comb += [sram.rd0.req.eq(v_rd0), sram.rd0.addr.eq(v_rd0_row)]
        with m.If(sc_rd & ~sc_on0):
            m.d.comb += [sram.rd1.req.eq(1), sram.rd1.addr.eq(sc_rd_row)]
        with m.Elif(dbg_sram):
            m.d.comb += [sram.rd1.req.eq(1), sram.rd1.addr.eq(self.dbg.addr[:RB])]
        with m.Else():
            m.d.comb += [sram.rd1.req.eq(v_rd1), sram.rd1.addr.eq(v_rd1_row)]
        # Both of a phase's reads must be granted in the same cycle (a partial grant is retried).
        m.d.comb += [v_rd0_ok.eq(sram.rd0.gnt & ~sc_on0), v_rd1_ok.eq(sram.rd1.gnt & ~(sc_rd & ~sc_on0) & ~dbg_sram)]

        # ---------------------------------------------------------------- vector contexts
        class Ctx:
            def __init__(s, k):
                s.active = Signal(name=f"x{k}_active")
                s.func = Signal(2, name=f"x{k}_func")  # op[2:1]: fmac, add, mul, mov/fill
                s.scal = Signal(name=f"x{k}_scal")  # op[0]
                s.m = Signal(2, name=f"x{k}_m")
                s.d16 = Signal(name=f"x{k}_d16")
                s.o16 = Signal(name=f"x{k}_o16")
                s.dfout = Signal(name=f"x{k}_dfout")
                s.dcolor = Signal(5, name=f"x{k}_dcolor")
                s.dctrl = Signal(name=f"x{k}_dctrl")
                s.akind = Signal(2, name=f"x{k}_akind")  # 0 none, 1 MEM, 2 FIN
                s.bkind = Signal(2, name=f"x{k}_bkind")
                s.acolor = Signal(5, name=f"x{k}_acolor")
                s.bcolor = Signal(5, name=f"x{k}_bcolor")
                s.addr = [Signal(ADDR, name=f"x{k}_addr{r}") for r in "abd"]
                s.stride = [Signal(signed(16), name=f"x{k}_stride{r}") for r in "abd"]
                s.n = Signal(16, name=f"x{k}_n")
                s.i = Signal(16, name=f"x{k}_i")
                s.scalar = Signal(32, name=f"x{k}_scalar")
                s.done = Signal(5, name=f"x{k}_done")
                s.pc = Signal(16, name=f"x{k}_pc")
                s.task = Signal(5, name=f"x{k}_task")
                s.outst = Signal(4, name=f"x{k}_outst")

            def fields(s):
                return [s.func, s.scal, s.m, s.d16, s.o16, s.dfout, s.dcolor, s.dctrl, s.akind, s.bkind,
                        s.acolor, s.bcolor, *s.addr, *s.stride, s.n, s.i, s.scalar]

        ctxs = [Ctx(k) for k in range(NCTX)]
        ctx_issue = Signal(range(NCTX))  # the context the I stage serves this cycle
        issue = Signal()  # a group leaves I this cycle
        issue_k = Signal(range(NL + 1))
        issue_inc = [Signal(ADDR, name=f"inc{r}") for r in "abd"]
        wb_done = Signal()  # a group is written back this cycle
        wb_ctx = Signal(range(NCTX))

        # launching a new op into a context (from the core's EXEC)
        launch = Signal()
        launch_ctx = Signal(range(NCTX))
        launch_src = Ctx("L")

        err_pend = Signal()  # an element error waits for the pipeline to drain
        err_code = Signal(4)
        err_ctx = Signal(range(NCTX))
        pipe_empty = Signal()

        halted = status.halted
        ctx_finish = Signal(NCTX)
        for k, x in enumerate(ctxs):
            m.d.comb += ctx_finish[k].eq(x.active & (x.i == x.n) & (x.outst == 0))
            inc_o = (issue & (ctx_issue == k))
            dec_o = (wb_done & (wb_ctx == k))
            m.d.sync += x.outst.eq(x.outst + inc_o - dec_o)
            with m.If(inc_o):
                m.d.sync += x.i.eq(x.i + issue_k)
                for r in range(3):
                    m.d.sync += x.addr[r].eq(x.addr[r] + issue_inc[r])
            with m.If(ctx_finish[k]):
                m.d.sync += x.active.eq(0)
            with m.If(launch & (launch_ctx == k)):
                m.d.sync += [x.active.eq(1), x.i.eq(0), x.outst.eq(0)]
                for dst, src in zip(x.fields(), launch_src.fields(), strict=True):
                    if dst is not x.i:
                        m.d.sync += dst.eq(src)
                m.d.sync += [x.done.eq(launch_src.done), x.pc.eq(launch_src.pc), x.task.eq(launch_src.task)]
            with m.If(clear | halt_now):
                m.d.sync += x.active.eq(0)
        # async completions activate their done task
        done_terms = [Mux(ctx_finish[k], Const(1, NUM_TASKS) << ctxs[k].done, 0) for k in range(1, NCTX)]
        done_or = Signal(NUM_TASKS)
        acc = Const(0, NUM_TASKS)
        for term in done_terms:
            acc = acc | term
        m.d.comb += done_or.eq(acc)

        # colors claimed by in-flight ops with a fabric input (not free for data tasks)
        claimed = Signal(C)
        cmask = []
        for k, x in enumerate(ctxs):
            live = x.active & (x.i != x.n)
            cm = Signal(C, name=f"x{k}_claim")
            m.d.comb += cm.eq(Mux(live & (x.akind == 2), Const(1, 32) << x.acolor, 0)[:C]
                              | Mux(live & (x.bkind == 2), Const(1, 32) << x.bcolor, 0)[:C])
            cmask.append(cm)
        cl = Const(0, C)
        for cm in cmask:
            cl = cl | cm
        m.d.comb += claimed.eq(cl)
        # age order: older[k][j] = context j was in flight when k was launched. A context may not
        # take wavelets of a color an older in-flight op reads (the oldest op takes them first).
        older = [Signal(NCTX, name=f"x{k}_older") for k in range(NCTX)]
        act_vec = Cat(*[x.active for x in ctxs])
        held = []
        for k in range(NCTX):
            with m.If(launch & (launch_ctx == k)):
                m.d.sync += older[k].eq(act_vec & ~(1 << k))
            with m.Elif(launch):  # the relaunched context is now the youngest
                m.d.sync += older[k].eq(older[k] & ~(Const(1, NCTX) << launch_ctx))
            h = Const(0, C)
            for j in range(NCTX):
                if j != k:
                    h = h | Mux(older[k][j], cmask[j], 0)
            hs = Signal(C, name=f"x{k}_held")
            m.d.comb += hs.eq(h)
            held.append(hs)

        # ---------------------------------------------------------------- I stage
        qcount = Array(qn)
        elig = Signal(NCTX)
        waiting = Signal(NCTX)
        for k, x in enumerate(ctxs):
            a_ok = (x.akind != 2) | (qcount[x.acolor] != 0)
            b_ok = (x.bkind != 2) | (qcount[x.bcolor] != 0)
            same = (x.akind == 2) & (x.bkind == 2) & (x.acolor == x.bcolor)
            both_ok = ~same | (qcount[x.acolor] == 2)
            m.d.comb += [
                elig[k].eq(x.active & (x.i != x.n) & a_ok & b_ok & both_ok & ~(held[k] & cmask[k]).any()),
                waiting[k].eq(x.active & (x.i != x.n)),
            ]
        phase1 = Signal()
        phase_ctx = Signal(range(NCTX))
        # With no context able to issue, a context waiting for fabric input is still selected so
        # that its next element's address check runs (docs/isa.md: addresses are checked before
        # the element waits for its wavelets).
        probing = Signal()
        m.d.comb += probing.eq(~phase1 & ~elig.any() & waiting.any())
        # Oldest first: memory-only ops (always eligible until fully issued) then issue their groups
        # in launch order, so they complete in launch order and, with the interlock below, behave
        # as if executed one after the other (docs/isa.md "Ordering").
        first = Signal(NCTX)
        for k in range(NCTX):
            m.d.comb += first[k].eq(elig[k] & ~(older[k] & elig).any())
        with m.If(phase1):
            m.d.comb += ctx_issue.eq(phase_ctx)
        with m.Elif(elig.any()):
            for k in reversed(range(NCTX)):
                with m.If(first[k]):
                    m.d.comb += ctx_issue.eq(k)
        with m.Else():
            for k in reversed(range(NCTX)):
                with m.If(waiting[k]):
                    m.d.comb += ctx_issue.eq(k)
        any_elig = Signal()
        m.d.comb += any_elig.eq(elig.any() | phase1)

        S = {}
        for name in ["func", "scal", "m", "d16", "o16", "dfout", "dcolor", "dctrl", "akind", "bkind", "acolor",
                     "bcolor", "n", "i", "scalar"]:
            S[name] = _sel(m, [getattr(x, name) for x in ctxs], ctx_issue, len(getattr(ctxs[0], name)), f"s_{name}")
        s_addr = [_sel(m, [x.addr[r] for x in ctxs], ctx_issue, ADDR, f"s_addr{r}") for r in range(3)]
        s_stride = [_sel(m, [x.stride[r] for x in ctxs], ctx_issue, signed(16), f"s_stride{r}") for r in range(3)]

        is_fmac = S["func"] == 0
        a_mem = S["akind"] == 1
        b_mem = S["bkind"] == 1
        d_mem = ~S["dfout"]
        is_mem = [a_mem, b_mem, d_mem]
        size16 = [S["o16"], S["o16"], S["d16"]]

        bad_range = []
        misal = []
        unit_ok = []
        row_elems = []
        rows_of = []
        hoff = []
        for r in range(3):
            a = s_addr[r]
            sz = Mux(size16[r], 2, 4)
            br = Signal(name=f"bad_range{r}")
            mi = Signal(name=f"misal{r}")
            m.d.comb += [
                br.eq(is_mem[r] & ((a < 0) | (a + sz > SB))),
                mi.eq(is_mem[r] & Mux(size16[r], a[0], a[:2] != 0)),
            ]
            bad_range.append(br)
            misal.append(mi)
            uo = Signal(name=f"unit{r}")
            m.d.comb += uo.eq((s_stride[r] == 1) & ~mi)
            unit_ok.append(uo)
            re = Signal(range(5), name=f"row_elems{r}")
            m.d.comb += re.eq(Mux(size16[r], (8 - a[:3]) >> 1, (8 - a[:3]) >> 2))
            row_elems.append(re)
            ro = Signal(RB, name=f"row{r}")
            m.d.comb += ro.eq(a[3:3 + RB])
            rows_of.append(ro)
            ho = Signal(2, name=f"hoff{r}")
            m.d.comb += ho.eq(a[1:3])
            hoff.append(ho)
        el_err = Signal()
        el_code = Signal(4)
        m.d.comb += [
            el_err.eq(Cat(*bad_range).any() | Cat(*misal).any()),
            el_code.eq(Mux(Cat(*bad_range).any(), ErrorCode.SRAM_RANGE, ErrorCode.MISALIGNED)),
        ]
        # group size
        fabric = (S["akind"] == 2) | (S["bkind"] == 2) | S["dfout"]
        k_calc = Signal(range(NL + 1))
        kk = Mux(S["d16"], L16, L32)
        rem = S["n"] - S["i"]
        kv = Signal(range(NL + 1))
        m.d.comb += kv.eq(Mux(rem < kk, rem, kk))
        cur = kv
        for r in range(3):
            lim = Signal(range(NL + 1), name=f"klim{r}")
            m.d.comb += lim.eq(Mux(is_mem[r], Mux(unit_ok[r], row_elems[r], 1), NL))
            nxt = Signal(range(NL + 1), name=f"kmin{r}")
            m.d.comb += nxt.eq(Mux(lim < cur, lim, cur))
            cur = nxt
        m.d.comb += k_calc.eq(Mux(fabric, 1, cur))
        for r in range(3):
            sz_log = Mux(size16[r], 1, 2)
            m.d.comb += issue_inc[r].eq(Mux(k_calc == 1, s_stride[r] << sz_log, k_calc << sz_log))

        # pipeline registers: C stage
        c_valid = Signal()
        Signal()
        f_valid = Signal()
        en = Signal()  # the F..D3 pipeline advances
        f_free = Signal()
        c_free = Signal()
        m.d.comb += [f_free.eq(~f_valid | en), c_free.eq(~c_valid | f_free)]

        GroupLayout = data.StructLayout({
            "ctx": range(NCTX), "k": range(NL + 1), "func": 2, "scal": 1, "m": 2, "d16": 1, "o16": 1,
            "dfout": 1, "dcolor": 5, "dctrl": 1, "drow": RB, "dh": 2, "ah": 2, "bh": 2,
            "amem": 1, "bmem": 1, "fmac": 1, "sa": 2, "sb": 2, "sd": 2, "arow": 64, "fa": 32, "fb": 32, "scalar": 32,
        })
        g_i = Signal(GroupLayout)
        src_a, src_b, src_d = Signal(2), Signal(2), Signal(2)
        got = Signal(3)  # rows of the group in I already read (A, B, D)
        d_on0 = Signal()
        c_g = Signal(GroupLayout)
        fin_a = _sel(m, q_head, S["acolor"], 33, "fin_a")
        fin_b0 = _sel(m, q_head, S["bcolor"], 33, "fin_b0")
        fin_b1 = _sel(m, q1, S["bcolor"], 33, "fin_b1")
        same_col = (S["akind"] == 2) & (S["bkind"] == 2) & (S["acolor"] == S["bcolor"])
        m.d.comb += [
            g_i.ctx.eq(ctx_issue), g_i.k.eq(k_calc), g_i.func.eq(S["func"]), g_i.scal.eq(S["scal"]),
            g_i.m.eq(S["m"]), g_i.d16.eq(S["d16"]), g_i.o16.eq(S["o16"]), g_i.dfout.eq(S["dfout"]),
            g_i.dcolor.eq(S["dcolor"]), g_i.dctrl.eq(S["dctrl"]), g_i.drow.eq(rows_of[2]), g_i.dh.eq(hoff[2]),
            g_i.ah.eq(hoff[0]), g_i.bh.eq(hoff[1]), g_i.amem.eq(a_mem), g_i.bmem.eq(b_mem), g_i.fmac.eq(is_fmac),
            g_i.sa.eq(src_a), g_i.sb.eq(src_b), g_i.sd.eq(src_d), g_i.fa.eq(fin_a[:32]),
            g_i.fb.eq(Mux(same_col, fin_b1[:32], fin_b0[:32])),
            g_i.scalar.eq(S["scalar"]),
        ]

        # Read requests of the I stage. A group needs up to three rows: A on rd0, B on rd1, the
        # accumulator D on rd1 (or on rd0 once A is in when B also reads memory). A row granted
        # before the group's last one is kept in a hold register (captured the cycle after its
        # grant), so bank conflicts between a group's reads only cost cycles.
        try_issue = Signal()
        m.d.comb += try_issue.eq(any_elig & ~err_pend & ~halted & c_free & ~clear)
        m.d.comb += d_on0.eq(b_mem)
        # A-row buffer: the last rows of operand A read on rd0 (on demand or prefetched ahead in a
        # cycle where rd0 is free and the next row's bank is not busy), so a row holding several
        # groups' elements is read once and a bank conflict on A rarely stalls the stream.
        # Tagged with the context; flushed when a context (re)starts. Safe for well-formed,
        # race-free ops: nothing else writes the bytes an op reads while it runs, and its own
        # writes never touch elements it reads at a later index.
        PF = 2
        pf_valid = Signal(PF)
        pf_fill = Signal(PF)  # the entry's data is on a read port this cycle (granted last cycle)
        pf_fill1 = Signal(PF)  # ... on rd1 (else rd0)
        pf_row = [Signal(RB, name=f"pf_row{e}") for e in range(PF)]
        pf_data = [Signal(64, name=f"pf_data{e}") for e in range(PF)]
        pf_ctx = Signal(range(NCTX))
        hit_e = Signal(PF)
        nxt_e = Signal(PF)
        pf_next = Signal(RB + 1)
        m.d.comb += pf_next.eq(rows_of[0] + 1)
        for e in range(PF):
            m.d.comb += [hit_e[e].eq(pf_valid[e] & (pf_row[e] == rows_of[0]) & (pf_ctx == ctx_issue)),
                         nxt_e[e].eq(pf_valid[e] & (pf_row[e] == pf_next) & (pf_ctx == ctx_issue))]
        a_hit = Signal()
        m.d.comb += a_hit.eq(a_mem & hit_e.any())
        a_buf = Signal(64)
        fill_data = [Mux(pf_fill1[e], sram.rd1.data, sram.rd0.data) for e in range(PF)]
        m.d.comb += a_buf.eq(Mux(hit_e[0], Mux(pf_fill[0], fill_data[0], pf_data[0]),
                                 Mux(pf_fill[1], fill_data[1], pf_data[1])))
        req_a = a_mem & ~got[0] & ~a_hit
        m.d.comb += g_i.arow.eq(a_buf)
        req_b = b_mem & ~got[1]
        req_d0 = is_fmac & d_on0 & ~got[2] & ~req_a
        req_d1 = is_fmac & ~d_on0 & ~got[2]
        # Read-after-write interlock between contexts: a row that a group of another context will
        # still write (in C, F or D0..D3) is not read (nor prefetched) until written. A context's
        # own pending writes never hold it up (a well-formed op never reads what it wrote).
        haz_rows = [Signal(name=f"haz_{r}") for r in ("a", "b", "d", "pf")]
        haz = Signal()
        m.d.comb += haz.eq((req_a & haz_rows[0]) | (req_b & haz_rows[1]) | ((req_d0 | req_d1) & haz_rows[2]))
        go = Signal()
        m.d.comb += go.eq(try_issue & ~el_err & ~haz)
        bank_bits = (p.sram_banks - 1).bit_length()
        pf_try = Signal()  # prefetch the next A row on rd0 (rd0 idle)
        pf_try1 = Signal()  # ... on rd1 (rd0 reads the accumulator, rd1 idle): fmac with A, B, D in
        # memory then reads its three rows per group in 1.5 cycles (2/3 of the lanes)
        rd1_dem = Signal()
        rd1_dem_row = Signal(RB)
        m.d.comb += v_rd0_dem.eq(go & (req_a | req_d0))
        m.d.comb += [rd1_dem.eq((sc_rd & ~sc_on0) | dbg_sram | (go & (req_b | req_d1))),
                     rd1_dem_row.eq(Mux(sc_rd & ~sc_on0, sc_rd_row, Mux(dbg_sram, self.dbg.addr[:RB],
                                                                Mux(req_b, rows_of[1], rows_of[2]))))]
        with m.If(go):
            m.d.comb += [v_rd0.eq(req_a | req_d0 | pf_try),
                         v_rd0_row.eq(Mux(req_a, rows_of[0], Mux(req_d0, rows_of[2], pf_next))),
                         v_rd1.eq(req_b | req_d1 | pf_try1),
                         v_rd1_row.eq(Mux(req_b, rows_of[1], Mux(req_d1, rows_of[2], pf_next)))]
            if bank_bits:
                nb = pf_next[:bank_bits]
                pf_ok = (a_mem & unit_ok[0] & (pf_next < ROWS) & ~nxt_e.any() & ~haz_rows[3]
                         & ~(sram.wr.req & (sram.wr.addr[:bank_bits] == nb)))
                m.d.comb += [
                    pf_try.eq(pf_ok & ~req_a & ~req_d0 & ~sc_on0 & ~(rd1_dem & (rd1_dem_row[:bank_bits] == nb))),
                    pf_try1.eq(pf_ok & req_d0 & ~rd1_dem & (rows_of[2][:bank_bits] != nb)),
                ]
        pf_ins = Signal()
        pf_ins_row = Signal(RB)
        m.d.comb += [pf_ins.eq(go & ((v_rd0_ok & ((req_a & ~got[0]) | pf_try)) | (pf_try1 & sram.rd1.gnt))),
                     pf_ins_row.eq(Mux(req_a, rows_of[0], pf_next))]
        victim = Signal()
        m.d.comb += victim.eq(hit_e[0])  # keep the entry holding the current row
        for e in range(PF):
            with m.If(pf_fill[e]):
                m.d.sync += [pf_data[e].eq(fill_data[e]), pf_fill[e].eq(0)]
        with m.If(pf_ins):
            m.d.sync += pf_ctx.eq(ctx_issue)
            for e in range(PF):
                with m.If(victim == e):
                    m.d.sync += [pf_valid[e].eq(1), pf_row[e].eq(pf_ins_row), pf_fill[e].eq(1),
                                 pf_fill1[e].eq(pf_try1)]
                with m.Elif(pf_ctx != ctx_issue):
                    m.d.sync += pf_valid[e].eq(0)
        with m.If(launch | clear | halt_now):
            m.d.sync += pf_valid.eq(0)
        g_a = Signal()
        g_b = Signal()
        g_d = Signal()
        m.d.comb += [
            g_a.eq(go & req_a & v_rd0_ok),
            g_b.eq(go & req_b & v_rd1_ok),
            g_d.eq(go & ((req_d0 & v_rd0_ok) | (req_d1 & v_rd1_ok))),
        ]
        all_in = Signal()
        m.d.comb += all_in.eq((~a_mem | got[0] | g_a | a_hit) & (~b_mem | got[1] | g_b) & (~is_fmac | got[2] | g_d))
        m.d.comb += [issue.eq(go & all_in), issue_k.eq(k_calc)]
        cap = Signal(4)  # capture next cycle: A from rd0, B from rd1, D from rd0, D from rd1
        hold_a = Signal(64)
        hold_b = Signal(64)
        hold_d = Signal(64)
        m.d.sync += cap.eq(Mux(issue, 0, Cat(g_a, g_b, g_d & req_d0, g_d & req_d1)))
        with m.If(cap[0]):
            m.d.sync += hold_a.eq(sram.rd0.data)
        with m.If(cap[1]):
            m.d.sync += hold_b.eq(sram.rd1.data)
        with m.If(cap[2]):
            m.d.sync += hold_d.eq(sram.rd0.data)
        with m.If(cap[3]):
            m.d.sync += hold_d.eq(sram.rd1.data)
        with m.If(go & ~all_in & (g_a | g_b | g_d)):
            m.d.sync += [got.eq(got | Cat(g_a, g_b, g_d)), phase1.eq(1), phase_ctx.eq(ctx_issue)]
        with m.If(issue | clear | halt_now):
            m.d.sync += [got.eq(0), phase1.eq(0)]
        # where C finds each row: 0 rd0, 1 rd1, 2 hold
        m.d.comb += [src_a.eq(Mux(got[0], 2, Mux(a_hit, 3, 0))), src_b.eq(Mux(got[1], 2, 1)),
                     src_d.eq(Mux(got[2], 2, Mux(d_on0, 0, 1)))]
        # fabric pops
        pa = Mux(issue & (S["akind"] == 2), Const(1, 32) << S["acolor"], 0)[:C]
        pb = Mux(issue & (S["bkind"] == 2) & ~same_col, Const(1, 32) << S["bcolor"], 0)[:C]
        p2 = Mux(issue & same_col, Const(1, 32) << S["acolor"], 0)[:C]
        sched_pop = Signal(C)
        m.d.comb += [pop1.eq(pa | pb | sched_pop), pop2.eq(p2)]
        # element error: stop issuing, drain, then halt
        with m.If((try_issue | (probing & ~halted & ~clear)) & el_err & ~err_pend & ~phase1):
            m.d.sync += [err_pend.eq(1), err_code.eq(el_code), err_ctx.eq(ctx_issue)]

        # C stage
        with m.If(c_free):
            m.d.sync += c_valid.eq(issue)
            with m.If(issue):
                m.d.sync += c_g.eq(g_i)

        # F stage: capture operands per lane
        f_g = Signal(GroupLayout)
        f_a = [Signal(32, name=f"f_a{j}") for j in range(NL)]
        f_b = [Signal(32, name=f"f_b{j}") for j in range(NL)]
        f_d = [Signal(32, name=f"f_d{j}") for j in range(NL)]
        row_a = Signal(64)
        row_b = Signal(64)
        row_d = Signal(64)
        # The rows are on the ports only in C's first cycle (a later grant, e.g. a scalar load on
        # rd1, replaces them): save them when C cannot move on at once.
        c_saved = Signal()
        c_sa, c_sb, c_sd = Signal(64), Signal(64), Signal(64)
        m.d.comb += [
            row_a.eq(Mux(c_saved, c_sa, Mux(c_g.sa == 2, hold_a, Mux(c_g.sa == 3, c_g.arow, sram.rd0.data)))),
            row_b.eq(Mux(c_saved, c_sb, Mux(c_g.sb == 2, hold_b, sram.rd1.data))),
            row_d.eq(Mux(c_saved, c_sd, Mux(c_g.sd == 2, hold_d, Mux(c_g.sd == 0, sram.rd0.data, sram.rd1.data)))),
        ]
        with m.If(c_valid & ~f_free & ~c_saved):
            m.d.sync += [c_saved.eq(1), c_sa.eq(row_a), c_sb.eq(row_b), c_sd.eq(row_d)]
        with m.If(f_free):
            m.d.sync += c_saved.eq(0)

        def lane_val(row, h, j, is16, tag):
            hj = Signal(3, name=f"hj_{tag}{j}")
            m.d.comb += hj.eq(h + Mux(is16, j, 2 * j))
            v = Signal(32, name=f"lv_{tag}{j}")
            m.d.comb += v.eq(Cat(row, row).bit_select(hj * 16, 32))
            return Mux(is16, v[:16], v)

        with m.If(f_free):
            m.d.sync += f_valid.eq(c_valid)
            with m.If(c_valid):
                m.d.sync += f_g.eq(c_g)
                for j in range(NL):
                    av = Mux(c_g.amem, lane_val(row_a, c_g.ah, j, c_g.o16, 'a'), c_g.fa)
                    sc = c_g.scalar
                    bv = Mux(c_g.scal, sc, Mux(c_g.bmem, lane_val(row_b, c_g.bh, j, c_g.o16, 'b'), c_g.fb))
                    m.d.sync += [
                        f_a[j].eq(Mux(c_g.o16, av[:16], av)),
                        f_b[j].eq(Mux(c_g.o16, bv[:16], bv)),
                        f_d[j].eq(lane_val(row_d, c_g.dh, j, c_g.d16, 'd')),
                    ]
        # FPLanes and the integer path
        fpop = Signal(FpOp)
        with m.Switch(f_g.func):
            with m.Case(0):
                m.d.comb += fpop.eq(Array([FpOp.FMAC_F32_F16, FpOp.FMAC_F32, FpOp.FMAC_F16,
                                           FpOp.MAC_I32_I16])[f_g.m])
            with m.Case(1):
                m.d.comb += fpop.eq(Mux(f_g.m == 0, FpOp.ADD_F16, FpOp.ADD_F32))
            with m.Case(2):
                m.d.comb += fpop.eq(Mux(f_g.m == 0, FpOp.MUL_F16, FpOp.MUL_F32))
        is_int = Signal()
        m.d.comb += is_int.eq((f_g.func == 3) | ((f_g.func != 0) & f_g.m[1]))
        D = FPLane.LATENCY
        dg = [Signal(GroupLayout, name=f"dg{s}") for s in range(D)]
        dv = [Signal(name=f"dv{s}") for s in range(D)]
        di = [Signal(name=f"dint{s}") for s in range(D)]
        dres = [[Signal(32, name=f"dres{s}_{j}") for j in range(NL)] for s in range(D)]
        lanes = []
        for j in range(NL):
            ln = FPLane()
            m.submodules[f"lane{j}"] = ln
            lanes.append(ln)
            m.d.comb += [ln.en.eq(en), ln.in_valid.eq(f_valid & ~is_int), ln.op.eq(fpop),
                         ln.acc.eq(f_d[j]), ln.a.eq(f_a[j]), ln.b.eq(f_b[j])]
            ires = Signal(32, name=f"ires{j}")
            with m.Switch(f_g.func):
                with m.Case(1):
                    m.d.comb += ires.eq(f_a[j] + f_b[j])
                with m.Case(2):
                    if j < L32:
                        m.d.comb += ires.eq(f_a[j] * f_b[j])
                    else:  # lanes beyond the 32-bit ones only ever multiply i16 (smaller multiplier)
                        m.d.comb += ires.eq(f_a[j][:16] * f_b[j][:16])
                with m.Default():
                    m.d.comb += ires.eq(Mux(f_g.scal, f_b[j], f_a[j]))
            with m.If(en):
                m.d.sync += dres[0][j].eq(Mux(f_g.d16, ires[:16], ires))
                for s in range(1, D):
                    m.d.sync += dres[s][j].eq(dres[s - 1][j])
        with m.If(en):
            m.d.sync += [dv[0].eq(f_valid), dg[0].eq(f_g), di[0].eq(is_int)]
            for s in range(1, D):
                m.d.sync += [dv[s].eq(dv[s - 1]), dg[s].eq(dg[s - 1]), di[s].eq(di[s - 1])]
        # write-back
        wg = dg[D - 1]
        res = [Signal(32, name=f"res{j}") for j in range(NL)]
        for j in range(NL):
            m.d.comb += res[j].eq(Mux(di[D - 1], dres[D - 1][j], lanes[j].result))
        wdata = Signal(64)
        wmask = Signal(8)
        wd = Const(0, 64)
        wm = Const(0, 8)
        for j in range(NL):
            hj = Signal(3, name=f"wh{j}")
            m.d.comb += hj.eq(wg.dh + Mux(wg.d16, j, 2 * j))
            on = wg.k > j
            val = Mux(wg.d16, res[j][:16], res[j])
            wd = wd | Mux(on, (val.as_unsigned() << (hj * 16))[:64], 0)
            wm = wm | Mux(on, (Mux(wg.d16, Const(3, 8), Const(15, 8)) << (hj * 2))[:8], 0)
        m.d.comb += [wdata.eq(wd), wmask.eq(wm)]
        wb_valid = dv[D - 1]
        wb_ok = Signal()
        with m.If(wg.dfout):
            m.d.comb += wb_ok.eq(ob_free)
        with m.Else():
            m.d.comb += [v_wr.eq(wb_valid), v_wr_row.eq(wg.drow), v_wr_data.eq(wdata), v_wr_mask.eq(wmask),
                         wb_ok.eq(v_wr_ok)]
        m.d.comb += [
            en.eq(~wb_valid | wb_ok),
            wb_done.eq(wb_valid & wb_ok),
            wb_ctx.eq(wg.ctx),
            vec_push.eq(wb_valid & wb_ok & wg.dfout),
            vec_push_w.payload.eq(res[0]),
            vec_push_w.color.eq(wg.dcolor),
            vec_push_w.ctrl.eq(wg.dctrl),
        ]
        with m.If(wb_done):
            m.d.sync += vec_elems.eq(vec_elems + wg.k)
        pending = [(c_valid, c_g), (f_valid, f_g)] + list(zip(dv, dg, strict=True))
        for hz, row in zip(haz_rows, [rows_of[0], rows_of[1], rows_of[2], pf_next[:RB]], strict=True):
            terms = [v & ~g.dfout & (g.ctx != ctx_issue) & (g.drow == row) for v, g in pending]
            m.d.comb += hz.eq(Cat(*terms).any())
        m.d.comb += pipe_empty.eq(~c_valid & ~f_valid & ~Cat(*dv).any())
        with m.If(clear | halt_now):
            m.d.sync += [c_valid.eq(0), f_valid.eq(0)] + [v.eq(0) for v in dv]

        # ---------------------------------------------------------------- scheduler
        wready = Signal(NUM_TASKS)
        for t in range(NUM_TASKS):
            terms = [b_valid[c] & (b_task[c] == t) & (qn[c] != 0) & ~claimed[c] for c in range(C)]
            m.d.comb += wready[t].eq(Cat(*terms).any())
        runnable = Signal(NUM_TASKS)
        m.d.comb += runnable.eq(t_valid & ~t_block & (t_pend | wready))
        pick = Signal(5)
        for t in reversed(range(NUM_TASKS)):
            with m.If(runnable[t]):
                m.d.comb += pick.eq(t)
        pick_color = Signal(5)
        pick_wav = Signal()
        for c in reversed(range(C)):
            with m.If(b_valid[c] & (b_task[c] == pick) & (qn[c] != 0) & ~claimed[c]):
                m.d.comb += [pick_color.eq(c), pick_wav.eq(1)]
        pick_head = _sel(m, q_head, pick_color, 33, "pick_head")
        pick_entry = _sel(m, t_entry, pick, 16, "pick_entry")

        # ---------------------------------------------------------------- scalar core
        ins = Signal(Insn)
        m.d.comb += ins.as_value().eq(irp.data)
        op = ins.i.op
        fa, fb, fm, imm = ins.i.a, ins.i.b, ins.i.m, ins.i.imm
        fc, fd, fx, ft = ins.r.c, ins.r.d, ins.r.x, ins.r.t
        ra_v = _sel(m, regs, fa, 32, "ra_v")
        rb_v = _sel(m, regs, fb, 32, "rb_v")
        rc_v = _sel(m, regs, fc, 32, "rc_v")
        rd_v = _sel(m, regs, fd, 32, "rd_v")
        simm = Signal(32)
        m.d.comb += simm.eq(imm.as_signed())
        da = Signal(DsrLayout)
        db = Signal(DsrLayout)
        dc = Signal(DsrLayout)
        m.d.comb += [da.eq(Array(dsrs)[fa]), db.eq(Array(dsrs)[fb]), dc.eq(Array(dsrs)[fc])]

        # ALU
        x_ = rb_v
        y_ = Signal(32)
        zext_ops = (op == Opcode.ANDI) | (op == Opcode.ORI) | (op == Opcode.XORI)
        m.d.comb += y_.eq(Mux(op[5], Mux(zext_ops, imm, simm), rc_v))
        alu = Signal(32)
        with m.Switch(op[:4]):
            with m.Case(0):
                m.d.comb += alu.eq(x_ + y_)
            with m.Case(1):
                m.d.comb += alu.eq(x_ - y_)
            with m.Case(2):
                m.d.comb += alu.eq(x_ & y_)
            with m.Case(3):
                m.d.comb += alu.eq(x_ | y_)
            with m.Case(4):
                m.d.comb += alu.eq(x_ ^ y_)
            with m.Case(5):
                m.d.comb += alu.eq(x_ << y_[:5])
            with m.Case(6):
                m.d.comb += alu.eq(x_ >> y_[:5])
            with m.Case(7):
                m.d.comb += alu.eq(x_.as_signed() >> y_[:5])
            with m.Case(8):
                m.d.comb += alu.eq(x_.as_signed() < y_.as_signed())
            with m.Case(9):
                m.d.comb += alu.eq(x_ < y_)
            with m.Case(10):
                m.d.comb += alu.eq(x_ * y_)
        addr = Signal(32)
        m.d.comb += addr.eq(rb_v + simm)
        sum_bs = Signal(32)  # R[b] + sext(imm): send color, task IDs, dbase/dlen values
        m.d.comb += sum_bs.eq(rb_v + simm)
        color_ok = sum_bs < C
        task_id = sum_bs[:5]
        task_ok = (sum_bs < NUM_TASKS) & (t_valid >> task_id)[0]

        # status and error raising
        core_err = Signal()
        core_code = Signal(4)
        with m.If(core_err):
            m.d.comb += [halt_now.eq(1), halt_code.eq(core_code), halt_pc.eq(pc), halt_task.eq(cur_task)]
        with m.Elif(err_pend & pipe_empty):
            err_x = _sel(m, [Cat(x.pc, x.task) for x in ctxs], err_ctx, 21, "err_x")
            m.d.comb += [halt_now.eq(1), halt_code.eq(err_code), halt_pc.eq(err_x[:16]), halt_task.eq(err_x[16:]),
                         halt_async.eq(err_ctx != 0)]
        with m.If(halt_now | clear):
            m.d.sync += err_pend.eq(0)

        def retire(next_pc):
            m.d.sync += [retired.eq(retired + 1), pc.eq(next_pc), state.eq(_S_FETCH)]

        def fail(code):
            m.d.comb += [core_err.eq(1), core_code.eq(code)]

        free_ctx = Signal(range(NCTX))
        any_free = Signal()
        for k in reversed(range(1, NCTX)):
            with m.If(~ctxs[k].active):
                m.d.comb += [free_ctx.eq(k), any_free.eq(1)]

        # vector issue checks (docs/isa.md "Vector operations")
        v_func = op[1:3]
        v_scal = op[0]
        v_fmac = v_func == 0
        v_has_a = ~((v_func == 3) & v_scal)
        v_has_b = ~v_scal & (v_func != 3)
        acc_t = Signal(2)
        opnd_t = Signal(2)
        m.d.comb += [
            acc_t.eq(Mux(v_fmac, Array([1, 1, 0, 3])[fm], fm)),
            opnd_t.eq(Mux(v_fmac, Array([0, 1, 0, 2])[fm], fm)),
        ]
        kind_bad = (Mux(v_fmac, da.kind != DsrKind.MEM, (da.kind != DsrKind.MEM) & (da.kind != DsrKind.FOUT))
                    | (v_has_a & (db.kind != DsrKind.MEM) & (db.kind != DsrKind.FIN))
                    | (v_has_b & (dc.kind != DsrKind.MEM) & (dc.kind != DsrKind.FIN)))
        type_bad = ((da.type != acc_t) | (v_has_a & (db.type != opnd_t)) | (v_has_b & (dc.type != opnd_t)))
        color_bad = (((da.kind == DsrKind.FOUT) & (da.target.fab.color >= C))
                     | (v_has_a & (db.kind == DsrKind.FIN) & (db.target.fab.color >= C))
                     | (v_has_b & (dc.kind == DsrKind.FIN) & (dc.target.fab.color >= C)))
        done_bad = fx & ~(t_valid >> ft)[0]

        def dsr_addr(d):
            return d.target.mem.base

        m.d.comb += [
            launch_src.func.eq(v_func), launch_src.scal.eq(v_scal), launch_src.m.eq(fm),
            launch_src.d16.eq(Mux(v_fmac, fm == 2, ~fm[0])), launch_src.o16.eq(Mux(v_fmac, fm != 1, ~fm[0])),
            launch_src.dfout.eq(da.kind == DsrKind.FOUT), launch_src.dcolor.eq(da.target.fab.color),
            launch_src.dctrl.eq(da.target.fab.ctrl),
            launch_src.akind.eq(Mux(v_has_a, Mux(db.kind == DsrKind.FIN, 2, 1), 0)),
            launch_src.bkind.eq(Mux(v_has_b, Mux(dc.kind == DsrKind.FIN, 2, 1), 0)),
            launch_src.acolor.eq(db.target.fab.color), launch_src.bcolor.eq(dc.target.fab.color),
            launch_src.addr[0].eq(dsr_addr(db)), launch_src.addr[1].eq(dsr_addr(dc)),
            launch_src.addr[2].eq(dsr_addr(da)),
            launch_src.stride[0].eq(db.target.mem.stride), launch_src.stride[1].eq(dc.target.mem.stride),
            launch_src.stride[2].eq(da.target.mem.stride),
            launch_src.n.eq(da.length), launch_src.scalar.eq(rc_v), launch_src.done.eq(ft),
            launch_src.pc.eq(pc), launch_src.task.eq(cur_task),
        ]

        # sub-word load/store helpers
        ld_size = Signal(4)
        m.d.comb += ld_size.eq(Mux((op == Opcode.LW) | (op == Opcode.SW), 4, Mux(op == Opcode.DLD, 8, 2)))
        mem_range_bad = (addr.as_unsigned() + ld_size) > SB
        mem_mis = (addr & (ld_size - 1)) != 0
        ld_op = Signal(6)
        ld_reg = Signal(4)
        ld_off = Signal(3)
        ld_port0 = Signal()  # the load was served by rd0
        sh8 = Signal(6)
        m.d.comb += sh8.eq(addr[:3] << 3)

        # DSR write values
        dsr_new = Signal(DsrLayout)

        m.d.comb += [irp.en.eq(0), irp.addr.eq(pc)]
        with m.Switch(state):
            with m.Case(_S_IDLE):
                with m.If(run & ~halted & ~err_pend & (runnable != 0) & ~clear):
                    m.d.sync += [state.eq(_S_FETCH), pc.eq(pick_entry), cur_task.eq(pick),
                                 task_starts.eq(task_starts + 1)]
                    m.d.comb += start_we.eq(1)
                    with m.If(pick_wav):
                        m.d.comb += [sched_pop.eq(1 << pick_color),
                                     start_r15.eq(pick_head[:32]),
                                     start_r14.eq(Cat(pick_color, pick_head[32], Const(1, 2), pick))]
                    with m.Else():
                        m.d.comb += [pend_clr.eq(1 << pick), start_r14.eq(Cat(Const(0, 8), pick))]
            with m.Case(_S_FETCH):
                with m.If(pc >= p.imem_words):
                    fail(ErrorCode.PC_RANGE)
                with m.Else():
                    m.d.comb += [irp.en.eq(1), irp.addr.eq(pc)]
                    m.d.sync += state.eq(_S_EXEC)
            with m.Case(_S_EXEC):
                nxt = pc + 1
                with m.Switch(op):
                    with m.Case(Opcode.NOP):
                        retire(nxt)
                    with m.Case(Opcode.END):
                        m.d.sync += [retired.eq(retired + 1), state.eq(_S_IDLE)]
                    with m.Case(*range(0x10, 0x1B), *range(0x20, 0x2A)):
                        with m.If(op == Opcode.LUI):
                            m.d.comb += [gw_en.eq(1), gw_idx.eq(fa), gw_val.eq(imm << 16)]
                        with m.Else():
                            m.d.comb += [gw_en.eq(1), gw_idx.eq(fa), gw_val.eq(alu)]
                        retire(nxt)
                    with m.Case(*range(Opcode.BEQ, Opcode.BGEU + 1)):
                        cond = Signal()
                        with m.Switch(op):
                            with m.Case(Opcode.BEQ):
                                m.d.comb += cond.eq(ra_v == rb_v)
                            with m.Case(Opcode.BNE):
                                m.d.comb += cond.eq(ra_v != rb_v)
                            with m.Case(Opcode.BLT):
                                m.d.comb += cond.eq(ra_v.as_signed() < rb_v.as_signed())
                            with m.Case(Opcode.BGE):
                                m.d.comb += cond.eq(ra_v.as_signed() >= rb_v.as_signed())
                            with m.Case(Opcode.BLTU):
                                m.d.comb += cond.eq(ra_v < rb_v)
                            with m.Case(Opcode.BGEU):
                                m.d.comb += cond.eq(ra_v >= rb_v)
                        retire(Mux(cond, pc + simm[:16], nxt))
                    with m.Case(Opcode.JAL):
                        m.d.comb += [gw_en.eq(1), gw_idx.eq(fa), gw_val.eq(nxt[:16])]
                        retire(pc + simm[:16])
                    with m.Case(Opcode.JALR):
                        m.d.comb += [gw_en.eq(1), gw_idx.eq(fa), gw_val.eq(nxt[:16])]
                        retire(sum_bs[:16])
                    with m.Case(Opcode.SEND):
                        with m.If(~color_ok):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Elif(ob_free & ~vec_push):
                            m.d.comb += [core_push.eq(1), core_push_w.payload.eq(ra_v),
                                         core_push_w.color.eq(sum_bs[:5]), core_push_w.ctrl.eq(fm[0])]
                            retire(nxt)
                    with m.Case(Opcode.ACTIVATE, Opcode.BLOCK, Opcode.UNBLOCK):
                        with m.If(~task_ok):
                            fail(ErrorCode.TASK)
                        with m.Else():
                            with m.Switch(op):
                                with m.Case(Opcode.ACTIVATE):
                                    m.d.comb += pend_set.eq(1 << task_id)
                                with m.Case(Opcode.BLOCK):
                                    m.d.comb += blk_set.eq(1 << task_id)
                                with m.Case(Opcode.UNBLOCK):
                                    m.d.comb += blk_clr.eq(1 << task_id)
                            retire(nxt)
                    with m.Case(Opcode.BIND):
                        bcol = imm[:5]
                        btask = imm[8:13]
                        with m.If(bcol >= C):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Elif(~fm[0] & ~(t_valid >> btask)[0]):
                            fail(ErrorCode.TASK)
                        with m.Else():
                            for c in range(C):
                                with m.If(bcol == c):
                                    m.d.sync += [b_valid[c].eq(~fm[0]), b_task[c].eq(btask)]
                            retire(nxt)
                    with m.Case(Opcode.LW, Opcode.LH, Opcode.LHU, Opcode.DLD):
                        with m.If(mem_range_bad):
                            fail(ErrorCode.SRAM_RANGE)
                        with m.Elif(mem_mis):
                            fail(ErrorCode.MISALIGNED)
                        with m.Else():
                            m.d.comb += [sc_rd.eq(1), sc_rd_row.eq(addr[3:3 + RB])]
                            with m.If(Mux(sc_on0, sram.rd0.gnt, sram.rd1.gnt)):
                                m.d.sync += [state.eq(_S_LOAD), ld_op.eq(op), ld_reg.eq(fa), ld_off.eq(addr[:3]),
                                             ld_port0.eq(sc_on0)]
                    with m.Case(Opcode.SW, Opcode.SH):
                        with m.If(mem_range_bad):
                            fail(ErrorCode.SRAM_RANGE)
                        with m.Elif(mem_mis):
                            fail(ErrorCode.MISALIGNED)
                        with m.Elif(~ld_sram_we):
                            mk = Mux(op == Opcode.SW, Const(0xF, 8), Const(0x3, 8))
                            m.d.comb += [sc_wr.eq(1), sc_wr_row.eq(addr[3:3 + RB]),
                                         sc_wr_data.eq((Cat(ra_v, ra_v) << sh8)[:64]),
                                         sc_wr_mask.eq((mk << addr[:3])[:8])]
                            retire(nxt)
                    with m.Case(Opcode.DMEM):
                        with m.If((rb_v > 0xFFFF) | (rc_v > 0xFFFF)
                                  | ~((rd_v[15:] == 0) | (rd_v[15:] == (1 << 17) - 1))):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Else():
                            m.d.comb += [dsr_new.kind.eq(DsrKind.MEM), dsr_new.type.eq(fm),
                                         dsr_new.length.eq(rc_v), dsr_new.target.mem.base.eq(rb_v),
                                         dsr_new.target.mem.stride.eq(rd_v[:16]),
                                         dw_en.eq(1), dw_idx.eq(fa), dw_val.eq(dsr_new)]
                            retire(nxt)
                    with m.Case(Opcode.DFIN, Opcode.DFOUT):
                        with m.If((imm[:5] >= C) | (rb_v > 0xFFFF)):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Else():
                            m.d.comb += [dsr_new.kind.eq(Mux(op == Opcode.DFIN, DsrKind.FIN, DsrKind.FOUT)),
                                         dsr_new.type.eq(fm), dsr_new.length.eq(rb_v),
                                         dsr_new.target.fab.color.eq(imm[:5]),
                                         dsr_new.target.fab.ctrl.eq((op == Opcode.DFOUT) & imm[5]),
                                         dw_en.eq(1), dw_idx.eq(fa), dw_val.eq(dsr_new)]
                            retire(nxt)
                    with m.Case(Opcode.DBASE, Opcode.DLEN):
                        with m.If((da.kind == DsrKind.NONE) | ((op == Opcode.DBASE) & (da.kind != DsrKind.MEM))):
                            fail(ErrorCode.DSR_KIND)
                        with m.Elif(sum_bs > 0xFFFF):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Else():
                            m.d.comb += [dsr_new.eq(da), dw_en.eq(1), dw_idx.eq(fa), dw_val.eq(dsr_new)]
                            with m.If(op == Opcode.DBASE):
                                m.d.comb += dsr_new.target.mem.base.eq(sum_bs)
                            with m.Else():
                                m.d.comb += dsr_new.length.eq(sum_bs)
                            retire(nxt)
                    with m.Case(*range(Opcode.FMAC, Opcode.VFILL + 1)):
                        with m.If(kind_bad):
                            fail(ErrorCode.DSR_KIND)
                        with m.Elif(type_bad):
                            fail(ErrorCode.DSR_TYPE)
                        with m.Elif(color_bad):
                            fail(ErrorCode.ARG_RANGE)
                        with m.Elif(done_bad):
                            fail(ErrorCode.TASK)
                        with m.Elif(~fx):
                            m.d.comb += [launch.eq(1), launch_ctx.eq(0)]
                            m.d.sync += state.eq(_S_VWAIT)
                        with m.Elif(any_free):
                            m.d.comb += [launch.eq(1), launch_ctx.eq(free_ctx)]
                            retire(nxt)
                    with m.Default():
                        fail(ErrorCode.ILLEGAL)
            with m.Case(_S_LOAD):
                row = Mux(ld_port0, sram.rd0.data, sram.rd1.data)
                shifted = Signal(64)
                m.d.comb += shifted.eq(row >> Cat(Const(0, 3), ld_off))
                with m.Switch(ld_op):
                    with m.Case(Opcode.LW):
                        m.d.comb += [gw_en.eq(1), gw_idx.eq(ld_reg), gw_val.eq(shifted[:32])]
                    with m.Case(Opcode.LH):
                        m.d.comb += [gw_en.eq(1), gw_idx.eq(ld_reg), gw_val.eq(shifted[:16].as_signed())]
                    with m.Case(Opcode.LHU):
                        m.d.comb += [gw_en.eq(1), gw_idx.eq(ld_reg), gw_val.eq(shifted[:16])]
                    with m.Case(Opcode.DLD):
                        m.d.comb += [dw_en.eq(1), dw_idx.eq(ld_reg), dw_val.eq(row)]
                retire(pc + 1)
            with m.Case(_S_VWAIT):
                with m.If(ctx_finish[0]):
                    retire(pc + 1)

        # after the FSM: a halt overrides its state change
        with m.If(halt_now & ~halted):
            m.d.sync += [status.code.eq(halt_code), status.halted.eq(1), status.async_.eq(halt_async),
                         status.task.eq(halt_task), status.pc.eq(halt_pc), state.eq(_S_HALT)]

        # register-file writes
        for i in range(1, 16):
            with m.If(gw_en & (gw_idx == i)):
                m.d.sync += regs[i].eq(gw_val)
        with m.If(start_we):
            m.d.sync += [regs[14].eq(start_r14), regs[15].eq(start_r15)]
        for i in range(16):
            with m.If(dw_en & (dw_idx == i)):
                m.d.sync += dsrs[i].as_value().eq(dw_val)

        # ---------------------------------------------------------------- load bus and clearing
        ld = self.load
        region = ld.addr[16:20]
        la = ld.addr[:16]
        zero_cnt = Signal(range(max(ROWS, p.imem_words) + 1))
        zeroing = Signal()
        m.d.comb += [iwp.en.eq(0), iwp.addr.eq(la), iwp.data.eq(ld.data)]
        with m.If(zeroing):
            m.d.comb += [iwp.en.eq(zero_cnt < p.imem_words), iwp.addr.eq(zero_cnt), iwp.data.eq(0),
                         ld_sram_we.eq(zero_cnt < ROWS), ld_sram_row.eq(zero_cnt), ld_sram_data.eq(0),
                         ld_sram_mask.eq(0xFF)]
            m.d.sync += zero_cnt.eq(zero_cnt + 1)
            with m.If(zero_cnt == max(ROWS, p.imem_words) - 1):
                m.d.sync += zeroing.eq(0)
        with m.If(ld.we):
            with m.Switch(region):
                with m.Case(Region.IMEM):
                    m.d.comb += [iwp.en.eq(1), iwp.addr.eq(la), iwp.data.eq(ld.data)]
                with m.Case(Region.SRAM):  # 32-bit word la at byte address la * 4
                    m.d.comb += [ld_sram_we.eq(1), ld_sram_row.eq(la[1:1 + RB]),
                                 ld_sram_data.eq(Cat(ld.data, ld.data)),
                                 ld_sram_mask.eq(Mux(la[0], 0xF0, 0x0F))]
                with m.Case(Region.TASK):
                    for t in range(NUM_TASKS):
                        with m.If(la[:5] == t):
                            m.d.sync += [t_entry[t].eq(ld.data[:16]), t_valid[t].eq(ld.data[16]),
                                         t_pend[t].eq(ld.data[17]), t_block[t].eq(ld.data[18])]
                with m.Case(Region.BIND):
                    for c in range(C):
                        with m.If(la[:5] == c):
                            m.d.sync += [b_task[c].eq(ld.data[:5]), b_valid[c].eq(ld.data[8])]
                with m.Case(Region.DSR):
                    for i in range(16):
                        with m.If(la[1:5] == i):
                            with m.If(la[0]):
                                m.d.sync += dsrs[i].as_value()[32:].eq(ld.data)
                            with m.Else():
                                m.d.sync += dsrs[i].as_value()[:32].eq(ld.data)
                with m.Case(Region.CTRL):
                    m.d.sync += run.eq(ld.data[0])
                    m.d.comb += clear.eq(ld.data[1])
                    with m.If(ld.data[2]):
                        m.d.sync += [zeroing.eq(1), zero_cnt.eq(0)]

        # task flags: load-bus writes above take effect; these run otherwise
        with m.If(~(ld.we & (region == Region.TASK))):
            m.d.sync += [
                t_pend.eq((t_pend & ~pend_clr) | pend_set | done_or),
                t_block.eq((t_block & ~blk_clr) | blk_set),
            ]
        with m.If(clear):
            m.d.sync += [t_valid.eq(0), t_pend.eq(0), t_block.eq(0), b_valid.eq(0), status.eq(0),
                         state.eq(_S_IDLE), retired.eq(0), cycles.eq(0), busy_cycles.eq(0), vec_elems.eq(0),
                         task_starts.eq(0), pc.eq(0), cur_task.eq(0)]
            m.d.sync += [r.eq(0) for r in regs] + [d.as_value().eq(0) for d in dsrs]

        # ---------------------------------------------------------------- status and counters
        any_active = Cat(*[x.active for x in ctxs]).any()
        busy = Signal()
        m.d.comb += busy.eq((state != _S_IDLE) & (state != _S_HALT) | any_active | ~pipe_empty | ob_valid)
        with m.If(run & ~halted & ~clear):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(busy):
                m.d.sync += busy_cycles.eq(busy_cycles + 1)
        st = self.status
        m.d.comb += [
            st.word.eq(status.as_value()), st.halted.eq(halted), st.pc.eq(pc), st.retired.eq(retired),
            st.cycles.eq(cycles), st.busy_cycles.eq(busy_cycles), st.vec_elems.eq(vec_elems),
            st.task_starts.eq(task_starts), st.clearing.eq(zeroing), st.running.eq(state != _S_IDLE),
            st.idle.eq(~busy & (halted | (runnable == 0))),
        ]

        # ---------------------------------------------------------------- debug read port
        dreg = self.dbg.addr[:5]
        with m.Switch(self.dbg.addr[16:20]):
            with m.Case(DbgRegion.GPR):
                m.d.comb += self.dbg.rdata.eq(Array(regs)[dreg[:4]])
            with m.Case(DbgRegion.DSR):
                m.d.comb += self.dbg.rdata.eq(Array([d.as_value() for d in dsrs])[dreg[:4]])
            with m.Case(DbgRegion.SRAM):
                m.d.comb += self.dbg.rdata.eq(sram.rd1.data)
            with m.Case(DbgRegion.TASK):
                m.d.comb += self.dbg.rdata.eq(Cat(Array(t_entry)[dreg], t_valid.bit_select(dreg, 1),
                                                  t_pend.bit_select(dreg, 1), t_block.bit_select(dreg, 1)))
            with m.Case(DbgRegion.BIND):
                m.d.comb += self.dbg.rdata.eq(Cat(b_task[0] if C == 1 else Array(b_task)[dreg], Const(0, 3),
                                                  b_valid.bit_select(dreg, 1)))
        return m
