// The edge autopilot of the native mesh: the edge harness's per-cycle work done in C++.
// Included by native_mesh.cpp (the simulator side only).
//
// Role: sdk/cosim/edge.py's EdgeHarness drives and watches the mesh edge from Python, cycle by
// cycle (three cocotb phases a cycle). When the harness draws nothing at random (no idle or stall
// probabilities, no held colors, every output ready for every color), each of its cycles is a
// fixed function of the mesh's ready and output bits, and its run loop's stopping tests
// (sdk/cosim/sim_server.py ``Server.run``, tb/cocotb_tile_mesh.py ``clock_run``) are fixed
// functions of what it saw. The autopilot plays exactly those, in C++, inside the rising-edge DPI
// call, so a run costs no Python per cycle:
//   at the edge       the edge inputs are the wavelets the autopilot picked after the last edge
//                     (for the first edge: what Python drove)
//   after the phases  each input link picks its next wavelet as LinkDriver.pick does (round-robin
//                     over its color queues, a color whose ready bit is high; a color beyond the
//                     profile goes regardless), each output link records what it presents (its
//                     ready is all ones), the run's bookkeeping is updated, and the stopping tests
//                     are applied in Server.run's order; when one holds, the autopilot stops and
//                     raises ``native_pause`` for that edge
// Python then takes everything back (queues, round-robin pointers, the picks for the next edge,
// the wavelets received with their cycles, the bookkeeping) and carries on as if it had stepped
// every cycle itself: the same cycles and bits (tests/test_autopilot.py compares both ways).
//
// Interface (ctypes, from the simulator's Python):
//   tessera_native_mesh_auto_begin(const long long* cfg, int ncfg, const long long* queues, long long nq)
//   tessera_native_mesh_auto_state(long long* out, long long n) -> words needed (call with n = 0 first)
// (the layouts are those of sdk/cosim/autopilot.py, which packs and unpacks them)

#include <deque>

namespace {

struct Autopilot {
    bool on = false;       // playing the harness at every edge
    bool own = false;      // the edge inputs are the autopilot's picks (false at the first edge)
    bool pause = false;    // stopped at this edge: native_pause is high
    int nslots = 0, K = 0;
    // per edge slot (N, E, S, W by column or row: Mesh::edge_off order): color queues (K, or K + 1
    // with the shared queue of out-of-range colors), round-robin pointer, counts
    std::vector<std::vector<std::deque<uint64_t>>> q;
    std::vector<int> rr;
    std::vector<long long> sent;
    std::vector<uint8_t> pv;  // the pick for the next edge
    std::vector<uint64_t> pd;
    long long pending = 0;
    std::vector<long long> rec;  // received: (slot, cycle, data) triples
    // the run: cycle numbers are the harness's (EdgeHarness.cycle)
    long long cyc = 0, start = 0, last_change = 0, last_busy = 0, transfers_in = 0, max_idle = 0, progress = 0;
    long long n_cycles = -1, quiet = 16, fault_every = 1024;
    int kind = 0;  // 0 cycles, 1 outputs, 2 idle
    std::vector<long long> busy;  // per row, added this run
    std::vector<long long> exp_slot, exp_color, exp_need, exp_got;
    long long total = 0;
    int reason = 0;  // 0 running; 1 cycles, 2 outputs, 3 idle, 4 fault, 5 progress, 6 stalled, 7 protocol
    long long bad_slot = -1, bad_data = 0;

    static uint64_t color_of(uint64_t w) { return (w >> TESSERA_WAVELET_COLOR) & 31; }

    void pick(Mesh& m, int slot) {
        pv[size_t(slot)] = 0;
        pd[size_t(slot)] = 0;
        auto& qs = q[size_t(slot)];
        if (qs.empty()) return;
        int n = int(qs.size());
        uint64_t ready = m.ir[m.edge_taker[size_t(slot)]];
        for (int i = 0; i < n; ++i) {
            int k = (rr[size_t(slot)] + i) % n;
            if (qs[size_t(k)].empty()) continue;
            uint64_t w = qs[size_t(k)].front();
            uint64_t color = color_of(w);
            if (color >= uint64_t(K) || ((ready >> color) & 1)) {
                rr[size_t(slot)] = (k + 1) % n;
                ++sent[size_t(slot)];
                --pending;
                qs[size_t(k)].pop_front();
                pv[size_t(slot)] = 1;
                pd[size_t(slot)] = w;
                return;
            }
        }
    }

    // At the edge, before the phases: the inputs are the picks (once the autopilot made them).
    void drive(Mesh& m) {
        if (!on || !own) return;
        for (int s = 0; s < nslots; ++s) {
            m.ov[m.EB + size_t(s)] = pv[size_t(s)];
            m.od[m.EB + size_t(s)] = pd[size_t(s)];
        }
    }

    // After the phases: the harness's read-write and read-only phases and its run loop's tests.
    void after(Mesh& m, const std::vector<uint8_t>& err, const std::vector<uint8_t>& idle,
               const std::vector<uint8_t>& halted) {
        pause = false;
        if (!on) return;
        ++cyc;
        bool moved = false;
        for (int s = 0; s < nslots; ++s) {  // read-write phase: what goes in at the next edge
            pick(m, s);
            if (pv[size_t(s)]) {
                moved = true;
                ++transfers_in;
            }
        }
        for (int s = 0; s < nslots; ++s) {  // read-only phase: what each output link presents
            size_t d = m.edge_driver[size_t(s)];
            if (!m.ov[d]) continue;
            uint64_t w = m.od[d];
            if (color_of(w) >= uint64_t(K)) {  // its ready bit cannot have been high
                bad_slot = s;
                bad_data = (long long)w;
                stop(7);
                return;
            }
            rec.insert(rec.end(), {(long long)s, cyc, (long long)w});
            for (size_t x = 0; x < exp_slot.size(); ++x)
                if (exp_slot[x] == s && uint64_t(exp_color[x]) == color_of(w)) ++exp_got[x];
            moved = true;
        }
        own = true;
        bool all_idle = true, faulty = false;
        for (size_t r = 0; r < idle.size(); ++r) {
            busy[r] += !idle[r];
            all_idle &= bool(idle[r]);
            faulty |= err[r] || halted[r];
        }
        if (!all_idle) last_busy = cyc;
        if (moved) last_change = cyc;
        // Server.run's tests, in its order
        long long done = 0;
        for (size_t x = 0; x < exp_slot.size(); ++x) done += std::min(exp_got[x], exp_need[x]);
        long long since = cyc - start;
        if (kind == 1 && done >= total) return stop(2);
        if (kind == 2 && pending == 0 && all_idle && cyc - std::max(last_change, last_busy) >= quiet) return stop(3);
        if (since % fault_every == 0 && faulty) return stop(4);
        if (progress && since % progress == 0) return stop(5);
        if (kind != 0 && cyc - last_change > max_idle && cyc - last_busy > max_idle) return stop(6);
        if (n_cycles >= 0 && since >= n_cycles) return stop(1);
    }

    void stop(int why) {
        reason = why;
        on = false;
        pause = true;
    }
};

Autopilot g_auto;

}  // namespace

// cfg: kind, n_cycles, start, cycle, last_change, last_busy, transfers_in, max_idle, progress, quiet,
//      fault_every, n_expect, then n_expect x (slot, color, need, got)
// queues: for each slot: n_queues, rr, then per queue: length, wavelets
extern "C" int tessera_native_mesh_auto_begin(const long long* cfg, int ncfg, const long long* queues, long long nq) {
    if (!g_mesh) return -1;
    Mesh& m = *g_mesh;
    Autopilot& a = g_auto;
    if (ncfg < 12) return -2;
    a.K = m.K;
    a.nslots = int(m.edge_taker.size());
    a.kind = int(cfg[0]);
    a.n_cycles = cfg[1];
    a.start = cfg[2];
    a.cyc = cfg[3];
    a.last_change = cfg[4];
    a.last_busy = cfg[5];
    a.transfers_in = cfg[6];
    a.max_idle = cfg[7];
    a.progress = cfg[8];
    a.quiet = cfg[9];
    a.fault_every = cfg[10];
    long long ne = cfg[11];
    if (ncfg != 12 + 4 * ne) return -2;
    a.exp_slot.clear();
    a.exp_color.clear();
    a.exp_need.clear();
    a.exp_got.clear();
    a.total = 0;
    for (long long x = 0; x < ne; ++x) {
        a.exp_slot.push_back(cfg[12 + 4 * x]);
        a.exp_color.push_back(cfg[13 + 4 * x]);
        a.exp_need.push_back(cfg[14 + 4 * x]);
        a.exp_got.push_back(cfg[15 + 4 * x]);
        a.total += cfg[14 + 4 * x];
    }
    a.q.assign(size_t(a.nslots), {});
    a.rr.assign(size_t(a.nslots), 0);
    a.sent.assign(size_t(a.nslots), 0);
    a.pv.assign(size_t(a.nslots), 0);
    a.pd.assign(size_t(a.nslots), 0);
    a.pending = 0;
    long long i = 0;
    for (int s = 0; s < a.nslots; ++s) {
        if (i + 2 > nq) return -3;
        long long nqueues = queues[i++];
        a.rr[size_t(s)] = int(queues[i++]);
        a.q[size_t(s)].resize(size_t(nqueues));
        for (long long k = 0; k < nqueues; ++k) {
            if (i >= nq) return -3;
            long long len = queues[i++];
            if (i + len > nq) return -3;
            for (long long j = 0; j < len; ++j) a.q[size_t(s)][size_t(k)].push_back(uint64_t(queues[i++]));
            a.pending += len;
        }
    }
    if (i != nq) return -3;
    a.busy.assign(size_t(m.R), 0);
    a.rec.clear();
    a.reason = 0;
    a.bad_slot = -1;
    a.on = true;
    a.own = false;
    a.pause = false;
    return 0;
}

// out: reason, cycle, last_change, last_busy, transfers_in, bad_slot, bad_data, n_rec, then per row
// busy, per slot (sent, rr, pick valid, pick data, n_queues, per queue: length, wavelets), then the
// received triples. Returns the number of words (nothing is written when n is smaller).
extern "C" long long tessera_native_mesh_auto_state(long long* out, long long n) {
    Autopilot& a = g_auto;
    std::vector<long long> v = {a.reason, a.cyc, a.last_change, a.last_busy, a.transfers_in, a.bad_slot, a.bad_data,
                                (long long)(a.rec.size() / 3)};
    v.insert(v.end(), a.busy.begin(), a.busy.end());
    for (int s = 0; s < a.nslots; ++s) {
        v.insert(v.end(), {a.sent[size_t(s)], a.rr[size_t(s)], a.pv[size_t(s)], (long long)a.pd[size_t(s)],
                           (long long)a.q[size_t(s)].size()});
        for (auto& qq : a.q[size_t(s)]) {
            v.push_back((long long)qq.size());
            for (uint64_t w : qq) v.push_back((long long)w);
        }
    }
    v.insert(v.end(), a.rec.begin(), a.rec.end());
    if (n >= (long long)v.size()) std::copy(v.begin(), v.end(), out);
    return (long long)v.size();
}

extern "C" int tessera_native_mesh_auto_pause() { return g_auto.pause ? 1 : 0; }
