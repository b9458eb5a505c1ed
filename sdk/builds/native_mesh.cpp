// Native mesh: R x C instances of one Verilated tile (class Vtile, compiled once) wired in C++.
//
// Role: the simulation engine behind sdk/builds/native_mesh.py. The mesh top it generates
// (tessera_mesh, the link plan's ports like hdl/mesh_top.py's) calls the two DPI functions below; all tiles live
// here, so the C++ the build compiles does not grow with the mesh (a 64 x 64 mesh builds as fast
// as a 2 x 2 one). The wiring is the generated Verilog top's: tile (r, c)'s in_e is tile
// (r, c+1)'s out_w, and so on; row 0 is the north edge, column 0 the west edge; tile (r, c) has
// col = c; each link's ready bits go the other way; tile (r, c)'s fault_in is tile (r, c-1)'s
// fault_out (0 for c = 0), and tile (r, C-1)'s fault_out is row r's row_fault.
//
// One clock cycle, as the Verilog mesh would do it:
//   tessera_native_mesh_seq   at the rising edge: every tile samples its neighbours' (or the
//                             edge's) valid/data, and its west neighbour's fault_out, as they were
//                             before the edge, and is clocked; then, with the new state, every
//                             tile's out ready inputs are set from its neighbours' registered ready
//                             outputs and its out valid/data settle. Returns the edge's in ready,
//                             the row status and the row fault words.
//   tessera_native_mesh_comb  whenever the testbench changes an edge's out ready (and after every
//                             edge): re-evaluates the tiles on that edge and returns the edge's
//                             out valid/data.
// This relies on the tile's ready outputs depending on its state only (they are registers in the
// router) — the property that lets the Verilog mesh settle without combinational loops.
//
// A wafer (docs/wafer.md: defective tiles bypassed, die boundaries) puts chains of
// ``BoundaryLink`` stages (hdl/boundary.py) on some links. The plan, a string both DPI functions
// receive (parsed once), lists them (the link plan's chains, hdl/link_plan.py): groups of ``kind r c side n L1 .. Ln`` (kind 0: the link
// leaving logical tile (r, c) on that side; kind 1: the edge link entering it there), each stage
// a Verilated link model (class Vlink1 for one stage, VlinkL for TESSERA_LINK_L stages), clocked
// and settled like a tile: its ready output is a register, its output depends on its state and the
// receiver's ready. Every input and ready is wired through index tables, so a perfect mesh and a
// wafer share one evaluation loop. A link's sticky overflow raises its row's row_err.
//
// Threads: with threads > 1 the tiles are shared out in row bands and each phase runs in
// parallel, with a barrier between phases.
//
// Probes and traces (docs/observability.md), called from Python in the simulator process through
// ctypes (the model is linked with -rdynamic so these symbols are visible):
//   tessera_native_mesh_cycle()                 clock edges so far
//   tessera_native_mesh_probe(out, words)       every tile's probe port (hdl/probe.py), row-major,
//                                               `words` 32-bit words per tile
//   tessera_native_mesh_trace_start(...)        record, from a given edge on, the events port of
//                                               chosen tiles and the wavelets leaving chosen
//                                               tiles on chosen sides, up to max_events events
//   tessera_native_mesh_trace_count/_take/_stop the records: 5 x int64 each (cycle, tile index,
//                                               kind: 0..3 task_start, task_end, vec_issue,
//                                               vec_done, 4 + side: a wavelet; task or color; ctrl)
// A trace samples each cycle's values just before the edge that ends it, when the testbench's
// ready bits of that cycle are final: a wavelet recorded there is one that crossed the link.
// Nothing is recorded, and nothing costs more than one test a cycle, while no trace runs.

#include "Vtile.h"
#include "Vtile___024root.h"
#include "svdpi.h"
#ifdef TESSERA_LINKS
#include "Vlink1.h"
#if TESSERA_LINK_L != 1
#include "VlinkL.h"
#endif
#endif

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstring>
#include <tuple>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#ifndef TESSERA_WAVELET_BITS
#error "build with -DTESSERA_WAVELET_BITS=<bits> (sdk/builds/native_mesh.py does)"
#endif
#ifndef TESSERA_FAULT_BITS
#error "build with -DTESSERA_FAULT_BITS=<bits> (sdk/builds/native_mesh.py does)"
#endif
#ifndef TESSERA_TRACE_TASK
#error "build with the -DTESSERA_TRACE_* and -DTESSERA_WAVELET_* field offsets (sdk/builds/native_mesh.py does)"
#endif

namespace {

enum Side { N = 0, E = 1, S = 2, W = 3 };
constexpr int OPP[4] = {S, W, N, E};
constexpr int DR[4] = {-1, 0, 1, 0};
constexpr int DC[4] = {0, 1, 0, -1};

using Ready = std::remove_reference_t<decltype(std::declval<Vtile&>().in_n___05Fready)>;

struct Ports {
    CData* in_valid[4];
    QData* in_data[4];
    Ready* in_ready[4];
    CData* out_valid[4];
    QData* out_data[4];
    Ready* out_ready[4];
};

Ports ports_of(Vtile& t) {
    return Ports{
        {&t.in_n___05Fvalid, &t.in_e___05Fvalid, &t.in_s___05Fvalid, &t.in_w___05Fvalid},
        {&t.in_n___05Fdata, &t.in_e___05Fdata, &t.in_s___05Fdata, &t.in_w___05Fdata},
        {&t.in_n___05Fready, &t.in_e___05Fready, &t.in_s___05Fready, &t.in_w___05Fready},
        {&t.out_n___05Fvalid, &t.out_e___05Fvalid, &t.out_s___05Fvalid, &t.out_w___05Fvalid},
        {&t.out_n___05Fdata, &t.out_e___05Fdata, &t.out_s___05Fdata, &t.out_w___05Fdata},
        {&t.out_n___05Fready, &t.out_e___05Fready, &t.out_s___05Fready, &t.out_w___05Fready},
    };
}

uint64_t get_bits(const svBitVecVal* v, int lsb, int width) {
    uint64_t x = 0;
    for (int i = 0; i < width; ++i) {
        int b = lsb + i;
        x |= uint64_t((v[b >> 5] >> (b & 31)) & 1u) << i;
    }
    return x;
}

void put_bits(svBitVecVal* v, int lsb, int width, uint64_t x) {
    for (int i = 0; i < width; ++i) {
        int b = lsb + i;
        svBitVecVal m = svBitVecVal(1) << (b & 31);
        if ((x >> i) & 1) v[b >> 5] |= m; else v[b >> 5] &= ~m;
    }
}

// One stage chain element: a Verilated BoundaryLink behind a small interface.
struct LinkModel {
    virtual ~LinkModel() = default;
    virtual void clock(bool rst, uint8_t valid, uint64_t data) = 0;  // returns via ready()
    virtual void settle(uint64_t rx_ready) = 0;
    virtual uint64_t ready() const = 0;
    virtual uint8_t out_valid() const = 0;
    virtual uint64_t out_data() const = 0;
    virtual bool overflow() const = 0;
};

#ifdef TESSERA_LINKS
template <class V>
struct LinkImpl final : LinkModel {
    std::unique_ptr<V> m;
    using RReady = std::remove_reference_t<decltype(std::declval<V&>().rx___05Fready)>;
    LinkImpl(VerilatedContext* ctx, const char* name) : m(new V{ctx, name}) {
        m->clk = 0;
        m->rst = 1;
        m->eval();
    }
    void clock(bool rst, uint8_t valid, uint64_t data) override {
        m->tx___05Fvalid = valid;
        m->tx___05Fdata = data;
        m->rst = rst;
        m->clk = 1;
        m->eval();
    }
    void settle(uint64_t rx_ready) override {
        m->rx___05Fready = RReady(rx_ready);
        m->clk = 0;
        m->eval();
    }
    uint64_t ready() const override { return m->tx___05Fready; }
    uint8_t out_valid() const override { return m->rx___05Fvalid; }
    uint64_t out_data() const override { return m->rx___05Fdata; }
    bool overflow() const override { return m->overflow; }
};
#endif

std::unique_ptr<LinkModel> make_link(int stages, VerilatedContext* ctx, const char* name) {
#ifdef TESSERA_LINKS
    if (stages == 1) return std::make_unique<LinkImpl<Vlink1>>(ctx, name);
#if TESSERA_LINK_L != 1
    if (stages == TESSERA_LINK_L) return std::make_unique<LinkImpl<VlinkL>>(ctx, name);
#endif
#endif
    (void)ctx;
    (void)name;
    std::fprintf(stderr, "tessera native mesh: the plan asks for a %d-stage link this build has no model of\n", stages);
    std::abort();
}

struct Mesh {
    int R, C, K, WB, FB, T;
    // The rows this process evaluates: all of them, or one band of an MPI run (native_mesh_ranks.h).
    // Tiles and link stages of other rows are not instantiated (null); the index tables are global.
    int r0 = 0, r1 = 0;
    std::vector<std::unique_ptr<VerilatedContext>> contexts;
    std::vector<std::unique_ptr<Vtile>> tiles;
    std::vector<Ports> p;
    // Latched values, one index space: a tile's side (r * C + c) * 4 + side, then link j at
    // LB + j, then edge slot e at EB + e (sides N, E, S, W, each by column or row).
    //   ov/od  what each drives: a tile side's output, a link's far end, the testbench's edge input
    //   ir     each one's ready: a tile side's input ready, a link's sender-side ready, the
    //          testbench's ready on an edge output
    size_t LB = 0, EB = 0;
    std::vector<uint8_t> ov;
    std::vector<uint64_t> od;
    std::vector<uint64_t> ir;
    // wiring: where tile side i*4+s takes its input (ov/od index) and its output's ready (ir index)
    std::vector<size_t> src_in, src_rdy;
    // links: the models, where each takes its input and its output's ready, and its row
    std::vector<std::unique_ptr<LinkModel>> links;
    std::vector<size_t> lsrc, lrdy;
    std::vector<int> lrow;
    std::vector<std::vector<int>> band_links;
    // per edge slot: which index takes the testbench's input (its ir is the edge's in ready) and
    // which drives the edge output (its ov/od go to the testbench)
    std::vector<size_t> edge_taker, edge_driver;
    size_t edge_off[4] = {0, 0, 0, 0};
    // Latched fault_out of every tile, index r * C + c (registered: depends on state only).
    std::vector<uint64_t> fo;
    // The edge's inputs from the testbench: in valid/data (latched by seq), out ready (by comb).
    // Per side, indexed by column (N, S) or row (E, W).
    std::vector<uint8_t> edge_iv[4];
    std::vector<uint64_t> edge_id[4];
    std::vector<uint64_t> edge_or[4];
    bool rst = false;
    long long cycle = 0;  // clock edges so far
    // the trace being recorded (tracing = false: none)
    bool tracing = false;
    long long tr_start = 0, tr_end = -1, tr_max = 0;
    bool tr_truncated = false;
    std::vector<int> tr_tiles;                   // tiles whose trace port is recorded
    std::vector<std::pair<int, int>> tr_links;  // (tile, side) whose outgoing wavelets are recorded
    std::vector<long long> tr_events;
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::thread> workers;
    std::atomic<int> phase{0};

    Mesh(int rows, int cols, int colors, int threads, const char* plan, int row_lo = 0, int row_hi = -1)
        : R(rows), C(cols), K(colors), WB(TESSERA_WAVELET_BITS), FB(TESSERA_FAULT_BITS),
          T(threads < 1 ? 1 : threads), r0(row_lo), r1(row_hi < 0 ? rows : row_hi) {
        if (T > r1 - r0) T = r1 - r0;
        // One Verilator context per row band: models evaluated at the same time by different
        // threads do not share a context.
        // Creating a context makes it the default ("last") context of every thread that has none
        // set, and VPI (cocotb) finds the mesh top through the calling thread's context: pin it.
        VerilatedContext* top = Verilated::threadContextp();
        for (int k = 0; k < T; ++k) contexts.emplace_back(new VerilatedContext);
        tiles.resize(size_t(R) * C);
        p.resize(size_t(R) * C);
        for (int r = r0; r < r1; ++r)
            for (int c = 0; c < C; ++c) {
                char name[48];
                std::snprintf(name, sizeof name, "tile_%d_%d", r, c);
                Vtile* tp = new Vtile{contexts[size_t(band_of(r))].get(), name};
                tiles[size_t(idx(r, c))].reset(tp);
                Vtile& t = *tp;
                t.col = c;
                t.fault_in = 0;
                t.clk = 0;
                t.rst = 1;
                t.eval();
                p[size_t(idx(r, c))] = ports_of(t);
            }
        fo.assign(size_t(R) * C, 0);
        size_t ne = 0;
        for (int s = 0; s < 4; ++s) {
            int n = (s == N || s == S) ? C : R;
            edge_off[s] = ne;
            ne += size_t(n);
            edge_iv[s].assign(n, 0);
            edge_id[s].assign(n, 0);
            edge_or[s].assign(n, 0);
        }
        wire(plan, ne);
        if (top) Verilated::threadContextp(top);
        if (T > 1) {
            bar = std::make_unique<std::barrier<>>(T);
            for (int k = 1; k < T; ++k) {
                workers.emplace_back([this, k] {
                    Verilated::threadContextp(contexts[k].get());
                    for (;;) {
                        bar->arrive_and_wait();  // a phase was posted
                        run_phase(phase.load(std::memory_order_acquire), k);
                        bar->arrive_and_wait();  // done
                    }
                });
                workers.back().detach();  // the mesh lives until the process exits
            }
        }
    }

    int idx(int r, int c) const { return r * C + c; }
    bool owns_row(int r) const { return r >= r0 && r < r1; }

    // The status of a row this process owns, from its tiles: bit 0 a tile's err, bit 1 every tile
    // idle, bit 2 a tile halted (a link's overflow adds to bit 0: link_overflows).
    uint8_t row_flags(int r) const {
        bool err = false, idle = true, halted = false;
        for (int c = 0; c < C; ++c) {
            const Vtile& t = *tiles[size_t(idx(r, c))];
            err |= t.err;
            idle &= bool(t.idle);
            halted |= t.halted;
        }
        return uint8_t(err | (idle << 1) | (halted << 2));
    }
    // The fault word that leaves row r at its east end.
    uint64_t row_fault(int r) const { return fo[size_t(idx(r, C - 1))]; }
    // Bit 0 of flags[row] for every owned link that overflowed into that row.
    void link_overflows(std::vector<uint8_t>& flags) const {
        for (size_t j = 0; j < links.size(); ++j)
            if (links[j] && links[j]->overflow()) flags[size_t(lrow[j])] |= 1;
    }
    // The thread band of an owned row: thread k evaluates rows [r0 + k * n / T, r0 + (k + 1) * n / T).
    int band_of(int r) const {
        int n = r1 - r0, b = 0;
        while (r0 + (b + 1) * n / T <= r) ++b;
        return b;
    }

    // Which edge slot a tile side faces, or -1 when it faces another tile.
    int edge_slot(int r, int c, int s) const {
        switch (s) {
            case N: return r == 0 ? c : -1;
            case S: return r == R - 1 ? c : -1;
            case W: return c == 0 ? r : -1;
            default: return c == C - 1 ? r : -1;
        }
    }

    // The index tables: plain neighbour wiring, then the plan's chains of link stages.
    void wire(const char* plan, size_t ne) {
        size_t NT = size_t(R) * C;
        std::vector<std::vector<int>> chain_out(NT * 4), chain_in(NT * 4);
        std::istringstream in(plan ? plan : "");
        int kind, r, c, side, n;
        while (in >> kind >> r >> c >> side >> n) {
            if (r < 0 || r >= R || c < 0 || c >= C || side < 0 || side > 3 || n < 0 || kind < 0 || kind > 1 ||
                (kind == 1 && edge_slot(r, c, side) < 0)) {
                std::fprintf(stderr, "tessera native mesh: a malformed plan entry (%d %d %d %d %d)\n", kind, r, c,
                             side, n);
                std::abort();
            }
            std::vector<int>& ch = (kind ? chain_in : chain_out)[size_t(idx(r, c)) * 4 + side];
            for (int k = 0; k < n; ++k) {
                int L;
                in >> L;
                ch.push_back(L);
            }
        }
        size_t nl = 0;
        for (auto& ch : chain_out) nl += ch.size();
        for (auto& ch : chain_in) nl += ch.size();
        LB = NT * 4;
        EB = LB + nl;
        ov.assign(EB + ne, 0);
        od.assign(EB + ne, 0);
        ir.assign(EB + ne, 0);
        src_in.assign(NT * 4, 0);
        src_rdy.assign(NT * 4, 0);
        edge_taker.assign(ne, 0);
        edge_driver.assign(ne, 0);
        band_links.assign(size_t(T), {});
        // a chain from `from` (an ov/od index) to `to` (an ir index); returns (first ready index
        // for the sender, last output index for the receiver)
        auto build = [&](const std::vector<int>& stages, size_t from, size_t to, int row, const char* what) {
            size_t first = to, prev = from;
            for (size_t k = 0; k < stages.size(); ++k) {
                size_t j = links.size();
                char name[64];
                std::snprintf(name, sizeof name, "%s_%zu", what, k);
                if (owns_row(row)) {
                    links.push_back(make_link(stages[k], contexts[size_t(band_of(row))].get(), name));
                    band_links[size_t(band_of(row))].push_back(int(j));
                } else {
                    links.emplace_back();  // another process's stage
                }
                lsrc.push_back(prev);
                lrdy.push_back(0);
                lrow.push_back(row);
                if (k == 0) first = LB + j;
                else lrdy[j - 1] = LB + j;
                prev = LB + j;
            }
            if (!stages.empty()) lrdy.back() = to;
            return std::pair<size_t, size_t>(first, prev);
        };
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c)
                for (int s = 0; s < 4; ++s) {
                    size_t i = size_t(idx(r, c)) * 4 + s;
                    int e = edge_slot(r, c, s);
                    size_t far = e >= 0 ? EB + edge_off[s] + size_t(e)
                                        : size_t(idx(r + DR[s], c + DC[s])) * 4 + OPP[s];
                    char what[48];
                    std::snprintf(what, sizeof what, "link_%d_%d_%c", r, c, "NESW"[s]);
                    // the output of side s: through its chain to the neighbour's input or the edge
                    auto [rdy, last] = build(chain_out[i], i, far, r, what);
                    src_rdy[i] = rdy;
                    if (e >= 0) {
                        edge_driver[edge_off[s] + size_t(e)] = last;
                        // the edge's input on this side: through its own chain into this tile
                        std::snprintf(what, sizeof what, "edge_%d_%d_%c", r, c, "NESW"[s]);
                        auto [taker, into] = build(chain_in[i], far, i, r, what);
                        edge_taker[edge_off[s] + size_t(e)] = taker;
                        src_in[i] = into;
                    } else {
                        // the neighbour's input on the facing side takes this output
                        src_in[far] = last;
                    }
                }
    }

    // Phase 1: clock every tile with the valid/data latched before the edge; record its ready.
    void clock_tile(int i) {
        Vtile& t = *tiles[i];
        const Ports& q = p[i];
        size_t b = size_t(i) * 4;
        for (int s = 0; s < 4; ++s) {
            *q.in_valid[s] = ov[src_in[b + s]];
            *q.in_data[s] = od[src_in[b + s]];
        }
        t.fault_in = i % C == 0 ? 0 : fo[size_t(i) - 1];
        t.rst = rst;
        t.clk = 1;
        t.eval();
        for (int s = 0; s < 4; ++s) ir[b + s] = *q.in_ready[s];
    }

    // Phase 2: with the new state, give every tile its neighbours' ready and settle its outputs.
    // When no out ready changed, the rising-edge evaluation already settled the outputs with these
    // very inputs, and an evaluation with the clock low would recompute the same combinational
    // values (Verilator's input-combinational region runs on every eval) and trigger nothing: the
    // falling clock is then recorded without it (see fall_without_eval).
    void settle_tile(int i) {
        Vtile& t = *tiles[i];
        const Ports& q = p[i];
        size_t b = size_t(i) * 4;
        bool changed = false;
        for (int s = 0; s < 4; ++s) {
            Ready v = Ready(ir[src_rdy[b + s]]);
            changed |= *q.out_ready[s] != v;
            *q.out_ready[s] = v;
        }
        t.clk = 0;
        if (changed || !fall_without_eval(t)) t.eval();
        latch_outputs(i);
    }

    // Record the clock's fall in the model's edge detector without an evaluation; false when this
    // Verilator's model has no such field under the expected name (the caller then evaluates).
    static bool fall_without_eval(Vtile& t) {
        if constexpr (requires { t.rootp->__Vtrigprevexpr___TOP__clk__0; }) {
            t.rootp->__Vtrigprevexpr___TOP__clk__0 = 0;
            return true;
        } else {
            return false;
        }
    }

    void clock_link(int j) {
        links[j]->clock(rst, ov[lsrc[j]], od[lsrc[j]]);
        ir[LB + size_t(j)] = links[j]->ready();
    }

    void settle_link(int j) {
        links[j]->settle(ir[lrdy[j]]);
        latch_link(j);
    }

    void latch_link(int j) {
        ov[LB + size_t(j)] = links[j]->out_valid();
        od[LB + size_t(j)] = links[j]->out_data();
    }

    void latch_outputs(int i) {
        const Ports& q = p[i];
        for (int s = 0; s < 4; ++s) {
            ov[size_t(i) * 4 + s] = *q.out_valid[s];
            od[size_t(i) * 4 + s] = *q.out_data[s];
        }
        fo[i] = tiles[i]->fault_out;
    }

    // One cycle's trace records, sampled before the edge that ends the cycle.
    void record(long long cyc) {
        if (cyc < tr_start || (tr_end >= 0 && cyc >= tr_end)) return;
        auto put = [&](int tile, int kind, long long a, long long b) {
            if ((long long)tr_events.size() / 5 >= tr_max) {
                tr_truncated = true;
                return;
            }
            tr_events.insert(tr_events.end(), {cyc, (long long)tile, (long long)kind, a, b});
        };
        for (int i : tr_tiles) {
            uint32_t ev = tiles[i]->events;  // hdl/probe.py TraceEvents; field offsets from the build
            if (!ev) continue;
            long long task = (ev >> TESSERA_TRACE_TASK) & 31;
            if ((ev >> TESSERA_TRACE_TASK_START) & 1) put(i, 0, task, 0);
            if ((ev >> TESSERA_TRACE_TASK_END) & 1) put(i, 1, task, 0);
            if ((ev >> TESSERA_TRACE_VEC_ISSUE) & 1) put(i, 2, task, 0);
            if ((ev >> TESSERA_TRACE_VEC_DONE) & 1) put(i, 3, task, 0);
        }
        for (auto [i, s] : tr_links) {
            size_t j = size_t(i) * 4 + s;
            if (!ov[j]) continue;
            uint64_t w = od[j];  // hdl/wavelet.py WaveletLayout; field offsets from the build
            put(i, 4 + s, (long long)((w >> TESSERA_WAVELET_COLOR) & 31), (long long)((w >> TESSERA_WAVELET_CTRL) & 1));
        }
    }

    void run_phase(int ph, int k) {
        // row bands: thread k owns rows [r0 + k * n / T, r0 + (k + 1) * n / T) of this process's n
        int n = r1 - r0;
        int lo = idx(r0 + k * n / T, 0), hi = idx(r0 + (k + 1) * n / T, 0);
        for (int i = lo; i < hi; ++i) ph == 1 ? clock_tile(i) : settle_tile(i);
        for (int j : band_links[size_t(k)]) ph == 1 ? clock_link(j) : settle_link(j);
    }

    void parallel(int ph) {
        if (T == 1) {
            run_phase(ph, 0);
            return;
        }
        phase.store(ph, std::memory_order_release);
        bar->arrive_and_wait();
        run_phase(ph, 0);
        bar->arrive_and_wait();
    }
};

Mesh* g_mesh = nullptr;

}  // namespace

#ifdef TESSERA_MPI
#include "native_mesh_ranks.h"
#endif

namespace {

// TESSERA_NATIVE_PROFILE=1: where the wall time of a simulation goes, printed to stderr at exit.
struct Profile {
    using Clock = std::chrono::steady_clock;
    bool on = std::getenv("TESSERA_NATIVE_PROFILE") != nullptr;
    double clock_s = 0, settle_s = 0, seq_s = 0, comb_s = 0;
    long long cycles = 0, comb_calls = 0;
    Clock::time_point first, last;
    static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
    ~Profile() {
        if (!on || cycles < 2 || !g_mesh) return;
        double wall = std::chrono::duration<double>(last - first).count();
        double tiles = double(g_mesh->R) * g_mesh->C;
        std::fprintf(stderr,
                     "tessera native mesh profile: %lld cycles of %d x %d tiles, %.3f s between the first and last edge"
                     " (%.0f tile-cycles/s)\n"
                     "  clock phase   %6.1f %%  (%.2f us a tile-cycle)\n"
                     "  settle phase  %6.1f %%  (%.2f us a tile-cycle)\n"
                     "  edge glue     %6.1f %%  (DPI argument packing around the phases)\n"
                     "  comb calls    %6.1f %%  (%lld calls: edge tiles re-evaluated for the testbench's ready)\n"
                     "  outside       %6.1f %%  (the testbench: cocotb, Python edge drivers, the Verilator top)\n",
                     cycles, g_mesh->R, g_mesh->C, wall, cycles * tiles / wall,
                     100 * clock_s / wall, 1e6 * clock_s / (cycles * tiles), 100 * settle_s / wall,
                     1e6 * settle_s / (cycles * tiles), 100 * (seq_s - clock_s - settle_s) / wall, 100 * comb_s / wall,
                     comb_calls, 100 * (wall - seq_s - comb_s) / wall);
    }
} g_prof;

Mesh& mesh(int rows, int cols, int colors, int threads, const char* plan) {
    if (!g_mesh) {
#ifdef TESSERA_MPI
        // Launched by mpiexec with tessera_mesh_rank workers (native_mesh_ranks.h): this process is
        // rank 0 and evaluates the first band of rows.
        int inited = 0;
        MPI_Initialized(&inited);
        if (!inited) MPI_Init(nullptr, nullptr);
        int n = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &n);
        if (n > rows) {
            std::fprintf(stderr, "tessera native mesh: %d MPI ranks for %d rows: at most one rank per row\n", n, rows);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        if (n > 1) {
            g_ranks = new Ranks;
            g_ranks->N = n;
            Ranks::band_rows(rows, n, g_ranks->lo, g_ranks->hi);
            send_init(n, rows, cols, colors, threads, plan);
            g_mesh = new Mesh(rows, cols, colors, threads, plan, g_ranks->lo[0], g_ranks->hi[0]);
            g_ranks->plan(*g_mesh);
            watch_signals(0);
            std::atexit([] { g_ranks->host_stop(); });
            return *g_mesh;
        }
        std::atexit([] { MPI_Finalize(); });
#endif
        g_mesh = new Mesh(rows, cols, colors, threads, plan);  // never freed: worker threads outlive main
    } else if (g_mesh->R != rows || g_mesh->C != cols || g_mesh->K != colors) {
        std::fprintf(stderr, "tessera native mesh: one mesh per simulation (%dx%d already exists)\n",
                     g_mesh->R, g_mesh->C);
        std::abort();
    }
    return *g_mesh;
}

// Edge port helpers: the Verilog top's edge vectors, slot e of side s.
void read_edge_inputs(Mesh& m, int s, const svBitVecVal* valid, const svBitVecVal* data) {
    for (size_t e = 0; e < m.edge_iv[s].size(); ++e) {
        m.edge_iv[s][e] = uint8_t(get_bits(valid, int(e), 1));
        m.edge_id[s][e] = get_bits(data, int(e) * m.WB, m.WB);
        m.ov[m.EB + m.edge_off[s] + e] = m.edge_iv[s][e];
        m.od[m.EB + m.edge_off[s] + e] = m.edge_id[s][e];
    }
}

}  // namespace

#ifndef TESSERA_RANK_WORKER

#include "native_mesh_autopilot.h"

extern "C" long long tessera_native_mesh_seq(
    int rows, int cols, int colors, int threads, const char* plan, svBit rst,
    const svBitVecVal* n_in_valid, const svBitVecVal* n_in_data,
    const svBitVecVal* e_in_valid, const svBitVecVal* e_in_data,
    const svBitVecVal* s_in_valid, const svBitVecVal* s_in_data,
    const svBitVecVal* w_in_valid, const svBitVecVal* w_in_data,
    svBitVecVal* n_in_ready, svBitVecVal* e_in_ready, svBitVecVal* s_in_ready, svBitVecVal* w_in_ready,
    svBitVecVal* row_err, svBitVecVal* row_idle, svBitVecVal* row_halted, svBitVecVal* row_fault) {
    static long long seq = 0;
    Profile::Clock::time_point t0;
    if (g_prof.on) {
        t0 = Profile::Clock::now();
        if (!g_prof.cycles) g_prof.first = t0;
    }
    Mesh& m = mesh(rows, cols, colors, threads, plan);
    m.rst = rst;
    read_edge_inputs(m, N, n_in_valid, n_in_data);
    read_edge_inputs(m, E, e_in_valid, e_in_data);
    read_edge_inputs(m, S, s_in_valid, s_in_data);
    read_edge_inputs(m, W, w_in_valid, w_in_data);
    g_auto.drive(m);
    if (m.tracing) m.record(m.cycle);
    ++m.cycle;
#ifdef TESSERA_MPI
    if (g_ranks) {
        g_sig_cycle = m.cycle;
        g_ranks->host_cycle();
    } else
#endif
    if (g_prof.on) {
        auto t1 = Profile::Clock::now();
        m.parallel(1);
        g_prof.clock_s += Profile::since(t1);
        auto t2 = Profile::Clock::now();
        m.parallel(2);
        g_prof.settle_s += Profile::since(t2);
    } else {
        m.parallel(1);
        m.parallel(2);
    }
    svBitVecVal* ready[4] = {n_in_ready, e_in_ready, s_in_ready, w_in_ready};
    for (int s = 0; s < 4; ++s)
        for (size_t e = 0; e < m.edge_iv[s].size(); ++e)
            put_bits(ready[s], int(e) * m.K, m.K, m.ir[m.edge_taker[m.edge_off[s] + e]]);
    std::vector<uint8_t> link_err(size_t(m.R), 0), idle_v(size_t(m.R)), halted_v(size_t(m.R));
    m.link_overflows(link_err);
    for (int r = 0; r < m.R; ++r) {
        bool err = link_err[size_t(r)], idle = true, halted = false;
        uint64_t fault = 0;
        if (m.owns_row(r)) {
            uint8_t f = m.row_flags(r);
            err |= f & 1;
            idle = (f >> 1) & 1;
            halted = (f >> 2) & 1;
            fault = m.row_fault(r);
        }
#ifdef TESSERA_MPI
        else if (g_ranks) {  // another rank's row: as its STATUS message gave it
            uint8_t f = g_ranks->row_flags[size_t(r)];
            err = f & 1;
            idle = (f >> 1) & 1;
            halted = (f >> 2) & 1;
            fault = g_ranks->row_fo[size_t(r)];
        }
#endif
        put_bits(row_err, r, 1, err);
        put_bits(row_idle, r, 1, idle);
        put_bits(row_halted, r, 1, halted);
        put_bits(row_fault, r * m.FB, m.FB, fault);
        link_err[size_t(r)] = err;
        idle_v[size_t(r)] = idle;
        halted_v[size_t(r)] = halted;
    }
    g_auto.after(m, link_err, idle_v, halted_v);
    if (g_prof.on) {
        g_prof.seq_s += Profile::since(t0);
        g_prof.last = Profile::Clock::now();
        ++g_prof.cycles;
    }
    return ++seq;
}

extern "C" void tessera_native_mesh_comb(
    int rows, int cols, int colors, int threads, const char* plan, long long seq,
    const svBitVecVal* n_out_ready, const svBitVecVal* e_out_ready,
    const svBitVecVal* s_out_ready, const svBitVecVal* w_out_ready,
    svBitVecVal* n_out_valid, svBitVecVal* n_out_data, svBitVecVal* e_out_valid, svBitVecVal* e_out_data,
    svBitVecVal* s_out_valid, svBitVecVal* s_out_data, svBitVecVal* w_out_valid, svBitVecVal* w_out_data) {
    (void)seq;  // only there so that the caller re-evaluates after every edge
    Profile::Clock::time_point t0;
    if (g_prof.on) t0 = Profile::Clock::now();
    Mesh& m = mesh(rows, cols, colors, threads, plan);
    const svBitVecVal* ready[4] = {n_out_ready, e_out_ready, s_out_ready, w_out_ready};
    svBitVecVal* valid[4] = {n_out_valid, e_out_valid, s_out_valid, w_out_valid};
    svBitVecVal* data[4] = {n_out_data, e_out_data, s_out_data, w_out_data};
#ifdef TESSERA_MPI
    std::vector<std::tuple<int, size_t, uint64_t>> remote;  // (rank, slot, ready) for other ranks' slots
#endif
    for (int s = 0; s < 4; ++s)
        for (size_t e = 0; e < m.edge_or[s].size(); ++e) {
            uint64_t v = get_bits(ready[s], int(e) * m.K, m.K);
            size_t slot = m.edge_off[s] + e;
            if (v != m.edge_or[s][e]) {
                m.edge_or[s][e] = v;
                m.ir[m.EB + slot] = v;
                size_t d = m.edge_driver[slot];  // a tile's side, or the last stage of its chain
#ifdef TESSERA_MPI
                if (g_ranks && g_ranks->owner(d) != 0) {
                    remote.emplace_back(g_ranks->owner(d), slot, v);
                    continue;
                }
#endif
                if (d < m.LB) {
                    int i = int(d / 4);
                    *m.p[size_t(i)].out_ready[s] = Ready(v);
                    m.tiles[size_t(i)]->eval();
                    m.latch_outputs(i);
                } else {
                    m.settle_link(int(d - m.LB));
                }
            }
        }
#ifdef TESSERA_MPI
    if (!remote.empty()) g_ranks->host_comb(remote);
#endif
    for (int s = 0; s < 4; ++s)
        for (size_t e = 0; e < m.edge_or[s].size(); ++e) {
            size_t j = m.edge_driver[m.edge_off[s] + e];
            put_bits(valid[s], int(e), 1, m.ov[j]);
            put_bits(data[s], int(e) * m.WB, m.WB, m.od[j]);
        }
    if (g_prof.on) {
        g_prof.comb_s += Profile::since(t0);
        ++g_prof.comb_calls;
    }
}

// ---- probes and traces, through ctypes (see the top of this file) ----------------------------------

extern "C" long long tessera_native_mesh_cycle() { return g_mesh ? g_mesh->cycle : 0; }

extern "C" int tessera_native_mesh_probe(uint32_t* out, int words) {
    if (!g_mesh) return -1;
    Mesh& m = *g_mesh;
    constexpr int have = int(sizeof(std::declval<Vtile&>().probe) / sizeof(uint32_t));
    if (words != have) return -have;  // the caller's probe layout is not this tile's
    for (size_t i = 0; i < m.tiles.size(); ++i)
        if (m.tiles[i])
            for (int w = 0; w < words; ++w) out[i * size_t(words) + size_t(w)] = m.tiles[i]->probe[w];
#ifdef TESSERA_MPI
    if (g_ranks) g_ranks->host_probe(out, words);
#endif
    return int(m.tiles.size());
}

extern "C" int tessera_native_mesh_trace_start(const int* tiles, int ntiles, const int* links, int nlinks,
                                               long long start, long long end, long long max_events) {
    if (!g_mesh) return -1;
    Mesh& m = *g_mesh;
    if (m.r0 != 0 || m.r1 != m.R) return -3;  // the tiles are spread over MPI ranks: no traces
    m.tr_tiles.assign(tiles, tiles + ntiles);
    m.tr_links.clear();
    for (int k = 0; k < nlinks; ++k) m.tr_links.emplace_back(links[2 * k], links[2 * k + 1]);
    for (int i : m.tr_tiles)
        if (i < 0 || size_t(i) >= m.tiles.size()) return -2;
    for (auto [i, s] : m.tr_links)
        if (i < 0 || size_t(i) >= m.tiles.size() || s < 0 || s > 3) return -2;
    m.tr_start = start;
    m.tr_end = end;
    m.tr_max = max_events;
    m.tr_truncated = false;
    m.tr_events.clear();
    m.tracing = true;
    return 0;
}

extern "C" long long tessera_native_mesh_trace_count() { return g_mesh ? (long long)g_mesh->tr_events.size() / 5 : 0; }

extern "C" int tessera_native_mesh_trace_take(long long* out, long long n) {
    if (!g_mesh) return -1;
    Mesh& m = *g_mesh;
    size_t k = std::min(size_t(n) * 5, m.tr_events.size());
    std::copy(m.tr_events.begin(), m.tr_events.begin() + long(k), out);
    return m.tr_truncated ? 1 : 0;
}

extern "C" void tessera_native_mesh_trace_stop() {
    if (!g_mesh) return;
    g_mesh->tracing = false;
    g_mesh->tr_events.clear();
    g_mesh->tr_events.shrink_to_fit();
}

#else  // TESSERA_RANK_WORKER: tessera_mesh_rank, an MPI worker rank (native_mesh_ranks.h)

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    Ranks rk;
    MPI_Comm_rank(MPI_COMM_WORLD, &rk.me);
    MPI_Comm_size(MPI_COMM_WORLD, &rk.N);
    if (rk.me == 0) rk.fail("tessera_mesh_rank runs as ranks 1..N-1; rank 0 is the simulator (see docs/mesh.md)");
    // INIT from rank 0, which may take a while to start the simulator: no watchdog
    auto v = rk.recv(0, INIT, 5, 1, -1, false);
    int rows = int(v[0]), cols = int(v[1]), colors = int(v[2]), threads = int(v[3]);
    std::string plan(size_t(v[4]), '\0');
    MPI_Recv(plan.data(), int(plan.size()), MPI_CHAR, 0, INIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    Verilated::commandArgs(argc, argv);
    Ranks::band_rows(rows, rk.N, rk.lo, rk.hi);
    g_mesh = new Mesh(rows, cols, colors, threads, plan.c_str(), rk.lo[size_t(rk.me)], rk.hi[size_t(rk.me)]);
    rk.plan(*g_mesh);
    watch_signals(rk.me);
    return rk.serve();
}

#endif  // TESSERA_RANK_WORKER
