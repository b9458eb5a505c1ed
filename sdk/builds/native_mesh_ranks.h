// Native mesh over MPI ranks: the mesh cut into bands of rows, one band per rank, boundary links
// exchanged every cycle. Included by native_mesh.cpp when built with -DTESSERA_MPI.
//
// Role: rank 0 is the simulator process (the Verilator mesh top, cocotb and the testbench or SDK
// job server); ranks 1..N-1 run tessera_mesh_rank (native_mesh.cpp built with
// -DTESSERA_RANK_WORKER), which holds no testbench. The same tile library and link libraries are
// linked into both. Rank k owns rows [k * R / N, (k + 1) * R / N): its tiles, the link stages of
// those rows (a chain belongs to the row of the tile whose output it carries) and the edge slots of
// those rows. Every rank builds the same global index tables (Mesh::wire), so each one knows, with
// no negotiation, which values every other rank reads from it.
//
// One clock cycle (the order of native_mesh.cpp, with two exchanges between neighbouring bands):
//   rank 0 -> each worker   SEQ     the cycle, reset, the testbench's edge inputs for its slots
//   every rank              clock phase on its own tiles and link stages
//   neighbours, both ways   RDY     the ready bits the other band's settle phase reads
//   every rank              settle phase
//   neighbours, both ways   OUT     the valid/data the other band's next clock phase reads
//   each worker -> rank 0   STATUS  its slots' edge in ready and edge outputs, its rows' status
// Two exchanges are needed because a tile's output valid/data depend combinationally on the
// receiver's ready (the router offers a color whose ready is high), while its ready is registered.
// Between edges the testbench may change an edge's out ready: rank 0 sends COMB with the new ready
// of the slots a worker drives and gets their outputs back (COMBR). PROBE/PROBER gather the tiles'
// probe ports; STOP ends the workers when the simulator exits.
//
// Messages are arrays of uint64: a header {MAGIC, cycle, kind, sender, count} then `count` items
// (1 word: a ready vector; 2 words: valid then data). A receiver checks every header field and the
// length against what it expects; anything else stops the whole run (MPI_Abort) with a message
// naming the sending rank and the cycle. Every wait inside a cycle has a watchdog
// (TESSERA_MPI_TIMEOUT seconds, default 60): a rank that died or hangs is named with the cycle.
// TESSERA_MPI_FAULT="rank:cycle:die|hang|corrupt" makes a worker fail on purpose (the tests).
// TESSERA_MPI_STATS=path: rank 0 writes each rank's compute and exchange seconds and the message
// and byte counts there as JSON when the run ends.

#include <mpi.h>

#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace {

constexpr uint64_t MPI_MAGIC = 0x7E55E2A0C0DEULL;
enum MsgKind : int { INIT = 1, SEQ, RDY, OUT, STATUS, COMB, COMBR, PROBE, PROBER, STOP, STATS };
const char* kind_name(int k) {
    static const char* names[] = {"?", "INIT", "SEQ", "RDY", "OUT", "STATUS", "COMB", "COMBR", "PROBE", "PROBER",
                                  "STOP", "STATS"};
    return k > 0 && k <= STATS ? names[k] : "?";
}
constexpr int HDR = 5;

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Why a rank stopped the run also goes to the file TESSERA_FAILURE_FILE names (appended, with
// async-signal-safe calls): the launcher may end every process before their stderr reaches the
// log, and the host reads the reason from this file. Opened by path once, at start-up.
char g_failure_path[1024] = {0};

void read_failure_path() {
    const char* f = std::getenv("TESSERA_FAILURE_FILE");
    if (f) std::snprintf(g_failure_path, sizeof g_failure_path, "%s", f);
}

void note_failure(const char* text, size_t n) {
    if (n) (void)!write(2, text, n);
    if (!g_failure_path[0]) return;
    int fd = open(g_failure_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) return;
    (void)!write(fd, text, n);
    fsync(fd);
    close(fd);
}

// A rank that dies says so with its cycle: a worker killed by a fatal signal (its own crash), or
// rank 0 stopped by the launcher because another rank died (mpiexec ends the job).
int g_sig_rank = 0;
volatile long long g_sig_cycle = 0;

extern "C" void tessera_rank_signal(int sig) {
    char buf[200];
    int n = g_sig_rank == 0 && sig == SIGTERM
                ? std::snprintf(buf, sizeof buf, "tessera native mesh, MPI rank 0: stopped by the MPI launcher at cycle "
                                "%lld: another rank died (the launcher names it)\n", (long long)g_sig_cycle)
                : std::snprintf(buf, sizeof buf, "tessera native mesh, MPI rank %d: died of signal %d (%s) at cycle %lld\n",
                                g_sig_rank, sig, strsignal(sig), (long long)g_sig_cycle);
    if (n > 0) note_failure(buf, size_t(n) < sizeof buf ? size_t(n) : sizeof buf - 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

void watch_signals(int rank) {
    g_sig_rank = rank;
    read_failure_path();
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTERM}) signal(sig, tessera_rank_signal);
}

struct Ranks {
    Mesh* m = nullptr;
    int me = 0, N = 1;
    double timeout = 60;
    // per rank: the rows it owns
    std::vector<int> lo, hi;
    // per peer: the indices it sends me / I send it, for each exchange
    std::vector<std::vector<size_t>> rdy_recv, rdy_send, out_recv, out_send;
    // per worker (rank 0 uses all of them; a worker its own): edge slots whose input it takes,
    // edge slots it drives
    std::vector<std::vector<size_t>> take_slots, drive_slots;
    // rows' status as the workers report it (rank 0): flags (err | idle << 1 | halted << 2), fault
    std::vector<uint8_t> row_flags;
    std::vector<uint64_t> row_fo;
    // figures
    double compute_s = 0, exchange_s = 0, t_first = -1, t_last = 0;
    long long cycles = 0, messages = 0, bytes = 0;
    // fault injection (workers)
    long long fault_cycle = -1;
    std::string fault_kind;

    int owner_row(int r) const {
        int k = 0;
        while (r >= hi[size_t(k)]) ++k;
        return k;
    }
    // The rank an index of the tables belongs to (-1: an edge slot, the testbench's, rank 0's).
    int owner(size_t i) const {
        if (i < m->LB) return owner_row(int(i / 4) / m->C);
        if (i < m->EB) return owner_row(m->lrow[i - m->LB]);
        return -1;
    }

    [[noreturn]] void fail(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        char line[640];
        int n = std::snprintf(line, sizeof line, "tessera native mesh, MPI rank %d of %d: %s\n", me, N, buf);
        std::fflush(stderr);
        note_failure(line, n < 0 ? 0 : size_t(n) < sizeof line ? size_t(n) : sizeof line - 1);
        MPI_Abort(MPI_COMM_WORLD, 3);
        std::_Exit(3);
    }

    static void band_rows(int R, int n, std::vector<int>& lo, std::vector<int>& hi) {
        lo.resize(size_t(n));
        hi.resize(size_t(n));
        for (int k = 0; k < n; ++k) {
            lo[size_t(k)] = k * R / n;
            hi[size_t(k)] = (k + 1) * R / n;
        }
    }

    // The exchange tables, from the global wiring every rank has.
    void plan(Mesh& mesh) {
        m = &mesh;
        read_failure_path();
        const char* t = std::getenv("TESSERA_MPI_TIMEOUT");
        if (t && *t) timeout = std::atof(t);
        rdy_recv.assign(size_t(N), {});
        rdy_send.assign(size_t(N), {});
        out_recv.assign(size_t(N), {});
        out_send.assign(size_t(N), {});
        take_slots.assign(size_t(N), {});
        drive_slots.assign(size_t(N), {});
        // who reads what: (reader rank, index) for inputs (ov/od) and readies (ir)
        auto note = [&](int reader, size_t i, bool ready) {
            int w = owner(i);
            if (w < 0 || w == reader) return;  // the testbench's (forwarded by SEQ/COMB) or its own
            if (reader == me) (ready ? rdy_recv : out_recv)[size_t(w)].push_back(i);
            if (w == me) (ready ? rdy_send : out_send)[size_t(reader)].push_back(i);
        };
        size_t NT = size_t(m->R) * m->C;
        for (size_t i = 0; i < NT * 4; ++i) {
            int reader = owner(i);
            note(reader, m->src_in[i], false);
            note(reader, m->src_rdy[i], true);
        }
        for (size_t j = 0; j < m->lrow.size(); ++j) {
            int reader = owner(m->LB + j);
            note(reader, m->lsrc[j], false);
            note(reader, m->lrdy[j], true);
        }
        for (auto* v : {&rdy_recv, &rdy_send, &out_recv, &out_send})
            for (auto& l : *v) {
                std::sort(l.begin(), l.end());
                l.erase(std::unique(l.begin(), l.end()), l.end());
            }
        for (size_t e = 0; e < m->edge_taker.size(); ++e) {
            take_slots[size_t(owner(m->edge_taker[e]))].push_back(e);
            drive_slots[size_t(owner(m->edge_driver[e]))].push_back(e);
        }
        row_flags.assign(size_t(m->R), 0);
        row_fo.assign(size_t(m->R), 0);
    }

    // ---- messages --------------------------------------------------------------------------
    std::vector<uint64_t> msg(int kind, size_t count) const {
        std::vector<uint64_t> b;
        b.reserve(HDR + count * 2);
        b.insert(b.end(), {MPI_MAGIC, uint64_t(m ? m->cycle : 0), uint64_t(kind), uint64_t(me), uint64_t(count)});
        return b;
    }

    void send(int to, std::vector<uint64_t>& b, MPI_Request* req) {
        messages += 1;
        bytes += (long long)(b.size() * 8);
        MPI_Isend(b.data(), int(b.size()), MPI_UINT64_T, to, int(b[2]), MPI_COMM_WORLD, req);
    }

    // Wait for a request, with the watchdog (timeout < 0: wait as long as it takes).
    // One more turn of a polling loop: spin first, then let another rank on this core run, then
    // sleep; after `limit` seconds (>= 0) since t0, stop the run naming the peer and the cycle.
    void backoff(long& spins, double t0, double limit, int peer, int kind) const {
        if (++spins < 2000) return;
        if (spins < 20000) {
            sched_yield();
        } else {
            timespec ts{0, spins < 100000 ? 20000L : 1000000L};
            nanosleep(&ts, nullptr);
        }
        if (limit >= 0 && now_s() - t0 > limit)
            fail("cycle %lld: no %s message from rank %d within %.0f s (TESSERA_MPI_TIMEOUT): rank %d died or "
                 "hangs", m ? m->cycle : 0LL, kind_name(kind), peer, limit, peer);
    }

    void wait(MPI_Request* req, int peer, int kind, double limit) {
        double t0 = now_s();
        long spins = 0;
        for (;;) {
            int done = 0;
            MPI_Test(req, &done, MPI_STATUS_IGNORE);
            if (done) return;
            backoff(spins, t0, limit, peer, kind);
        }
    }

    // Receive a message of `kind` from `peer` with `count` items of `words` words each (count < 0:
    // any count); checks it, returns the payload (after the header).
    std::vector<uint64_t> recv(int peer, int kind, long long count, int words, double limit, bool check_cycle = true) {
        MPI_Status st;
        int flag = 0;
        double t0 = now_s();
        long spins = 0;
        // probe first: the length is only known from the message
        for (;;) {
            MPI_Iprobe(peer, kind, MPI_COMM_WORLD, &flag, &st);
            if (flag) break;
            // a message of another kind from this peer where this one was due: the protocol is broken
            int other = 0;
            MPI_Status so;
            MPI_Iprobe(peer, MPI_ANY_TAG, MPI_COMM_WORLD, &other, &so);
            if (other && so.MPI_TAG != kind && so.MPI_TAG != STOP && !(kind == RDY && so.MPI_TAG == OUT))
                bad(peer, kind, "a message of kind %d where %s was due", so.MPI_TAG, kind_name(kind));
            backoff(spins, t0, limit, peer, kind);
        }
        int n = 0;
        MPI_Get_count(&st, MPI_UINT64_T, &n);
        std::vector<uint64_t> b(size_t(n > 0 ? n : 0));
        MPI_Recv(b.data(), n, MPI_UINT64_T, peer, kind, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (n < HDR) bad(peer, kind, "%d words, shorter than the header", n);
        if (b[0] != MPI_MAGIC) bad(peer, kind, "bad magic 0x%llx", (unsigned long long)b[0]);
        if (b[2] != uint64_t(kind)) bad(peer, kind, "kind %llu", (unsigned long long)b[2]);
        if (b[3] != uint64_t(peer)) bad(peer, kind, "sender field %llu", (unsigned long long)b[3]);
        if (check_cycle && m && b[1] != uint64_t(m->cycle))
            bad(peer, kind, "cycle field %llu", (unsigned long long)b[1]);
        if (count >= 0 && b[4] != uint64_t(count)) bad(peer, kind, "%llu items where %lld were due",
                                                       (unsigned long long)b[4], count);
        if (size_t(n) != HDR + size_t(b[4]) * size_t(words))
            bad(peer, kind, "%d words for %llu items", n, (unsigned long long)b[4]);
        return std::vector<uint64_t>(b.begin() + HDR, b.end());
    }

    [[noreturn]] void bad(int peer, int kind, const char* fmt, ...) const __attribute__((format(printf, 4, 5))) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        fail("cycle %lld: malformed %s message from rank %d: %s", m ? m->cycle : 0LL, kind_name(kind), peer, buf);
    }

    // ---- the neighbour exchanges -------------------------------------------------------------
    void exchange(int kind) {
        double t0 = now_s();
        bool outs = kind == OUT;
        auto& sendl = outs ? out_send : rdy_send;
        auto& recvl = outs ? out_recv : rdy_recv;
        std::vector<std::vector<uint64_t>> bufs;
        std::vector<MPI_Request> reqs;
        bufs.reserve(size_t(N));
        for (int k = 0; k < N; ++k) {
            if (sendl[size_t(k)].empty()) continue;
            auto b = msg(kind, sendl[size_t(k)].size());
            for (size_t i : sendl[size_t(k)]) {
                if (outs) {
                    b.push_back(m->ov[i]);
                    b.push_back(m->od[i]);
                } else {
                    b.push_back(m->ir[i]);
                }
            }
            if (outs && fault_kind == "corrupt" && m->cycle == fault_cycle) b[0] ^= 1;  // on purpose (tests)
            bufs.push_back(std::move(b));
            reqs.emplace_back();
            send(k, bufs.back(), &reqs.back());
        }
        for (int k = 0; k < N; ++k) {
            const auto& l = recvl[size_t(k)];
            if (l.empty()) continue;
            auto v = recv(k, kind, (long long)l.size(), outs ? 2 : 1, timeout);
            for (size_t x = 0; x < l.size(); ++x) {
                if (outs) {
                    m->ov[l[x]] = uint8_t(v[2 * x]);
                    m->od[l[x]] = v[2 * x + 1];
                } else {
                    m->ir[l[x]] = v[x];
                }
            }
        }
        for (size_t r = 0; r < reqs.size(); ++r) wait(&reqs[r], -1, kind, timeout);
        exchange_s += now_s() - t0;
    }

    // One cycle's phases and exchanges on this rank's band (after SEQ on a worker, after the edge
    // inputs are read on rank 0).
    void cycle_body() {
        double t0 = now_s();
        if (t_first < 0) t_first = t0;
        m->parallel(1);
        compute_s += now_s() - t0;
        exchange(RDY);
        double t1 = now_s();
        m->parallel(2);
        compute_s += now_s() - t1;
        exchange(OUT);
        ++cycles;
        t_last = now_s();
    }

    // A row's status flags from this rank's tiles and link stages.
    void own_status(std::vector<uint8_t>& flags, std::vector<uint64_t>& fo) const {
        flags.assign(size_t(m->R), 0);
        fo.assign(size_t(m->R), 0);
        for (int r = m->r0; r < m->r1; ++r) {
            flags[size_t(r)] = m->row_flags(r);
            fo[size_t(r)] = m->row_fault(r);
        }
        m->link_overflows(flags);
    }

    // ---- rank 0 ------------------------------------------------------------------------------
    void host_cycle() {
        double t0 = now_s();
        std::vector<std::vector<uint64_t>> bufs(static_cast<size_t>(N));
        std::vector<MPI_Request> reqs(static_cast<size_t>(N));
        for (int k = 1; k < N; ++k) {
            auto& b = bufs[size_t(k)] = msg(SEQ, take_slots[size_t(k)].size() + 1);
            b.push_back(m->rst);
            b.push_back(0);
            for (size_t e : take_slots[size_t(k)]) {
                b.push_back(m->ov[m->EB + e]);
                b.push_back(m->od[m->EB + e]);
            }
            send(k, b, &reqs[size_t(k)]);
        }
        exchange_s += now_s() - t0;
        cycle_body();
        double t1 = now_s();
        for (int k = 1; k < N; ++k) {
            size_t nt = take_slots[size_t(k)].size(), nd = drive_slots[size_t(k)].size();
            size_t nr = size_t(hi[size_t(k)] - lo[size_t(k)]);
            auto v = recv(k, STATUS, (long long)(nt + nd + nr), 2, timeout);
            size_t x = 0;
            for (size_t e : take_slots[size_t(k)]) {
                m->ir[m->edge_taker[e]] = v[x];
                x += 2;
            }
            for (size_t e : drive_slots[size_t(k)]) {
                m->ov[m->edge_driver[e]] = uint8_t(v[x]);
                m->od[m->edge_driver[e]] = v[x + 1];
                x += 2;
            }
            for (int r = lo[size_t(k)]; r < hi[size_t(k)]; ++r) {
                row_flags[size_t(r)] = uint8_t(v[x]);
                row_fo[size_t(r)] = v[x + 1];
                x += 2;
            }
            wait(&reqs[size_t(k)], k, SEQ, timeout);
        }
        exchange_s += now_s() - t1;
    }

    // The testbench changed the out ready of edge slots other ranks drive: (rank, slot, ready).
    void host_comb(const std::vector<std::tuple<int, size_t, uint64_t>>& changes) {
        double t0 = now_s();
        for (int k = 1; k < N; ++k) {
            auto b = msg(COMB, 0);
            size_t n = 0;
            for (auto& [rk, e, v] : changes)
                if (rk == k) {
                    b.push_back(e);
                    b.push_back(v);
                    ++n;
                }
            if (!n) continue;
            b[4] = n;
            MPI_Request req;
            send(k, b, &req);
            auto v = recv(k, COMBR, (long long)drive_slots[size_t(k)].size(), 2, timeout);
            size_t x = 0;
            for (size_t e : drive_slots[size_t(k)]) {
                m->ov[m->edge_driver[e]] = uint8_t(v[x]);
                m->od[m->edge_driver[e]] = v[x + 1];
                x += 2;
            }
            wait(&req, k, COMB, timeout);
        }
        exchange_s += now_s() - t0;
    }

    // Every tile's probe words, row-major (rank 0 gathers the workers' bands).
    void host_probe(uint32_t* out, int words) {
        for (int k = 1; k < N; ++k) {
            auto b = msg(PROBE, 0);
            MPI_Request req;
            send(k, b, &req);
            size_t n = size_t(hi[size_t(k)] - lo[size_t(k)]) * size_t(m->C) * size_t(words);
            auto v = recv(k, PROBER, (long long)n, 1, timeout);
            size_t base = size_t(lo[size_t(k)]) * size_t(m->C) * size_t(words);
            for (size_t x = 0; x < n; ++x) out[base + x] = uint32_t(v[x]);
            wait(&req, k, PROBE, timeout);
        }
    }

    // At exit: stop the workers, collect their figures, finalize.
    void host_stop() {
        std::vector<std::vector<double>> stats;
        stats.push_back({compute_s, exchange_s, double(messages), double(bytes), double(cycles), t_last - t_first});
        for (int k = 1; k < N; ++k) {
            auto b = msg(STOP, 0);
            MPI_Send(b.data(), int(b.size()), MPI_UINT64_T, k, STOP, MPI_COMM_WORLD);
            auto v = recv(k, STATS, 6, 1, timeout, false);
            std::vector<double> d(6);
            std::memcpy(d.data(), v.data(), 6 * sizeof(double));
            stats.push_back(d);
        }
        const char* path = std::getenv("TESSERA_MPI_STATS");
        if (path && *path) {
            if (FILE* f = std::fopen(path, "w")) {
                std::fprintf(f, "{\"rows\": %d, \"cols\": %d, \"ranks\": %d, \"per_rank\": [", m->R, m->C, N);
                for (size_t k = 0; k < stats.size(); ++k)
                    std::fprintf(f, "%s{\"rank\": %zu, \"first_row\": %d, \"rows\": %d, \"compute_seconds\": %.6f, "
                                    "\"exchange_seconds\": %.6f, \"messages\": %.0f, \"bytes\": %.0f, \"cycles\": %.0f, "
                                    "\"wall_seconds\": %.6f}",
                                 k ? ", " : "", k, lo[k], hi[k] - lo[k], stats[k][0], stats[k][1], stats[k][2],
                                 stats[k][3], stats[k][4], stats[k][5]);
                std::fprintf(f, "]}\n");
                std::fclose(f);
            }
        }
        MPI_Finalize();
    }

    // ---- a worker ----------------------------------------------------------------------------
    int serve() {
        const char* f = std::getenv("TESSERA_MPI_FAULT");
        if (f && *f) {
            int rk = -1;
            long long cyc = -1;
            char kind[16] = {0};
            if (std::sscanf(f, "%d:%lld:%15s", &rk, &cyc, kind) == 3 && rk == me) {
                fault_cycle = cyc;
                fault_kind = kind;
            }
        }
        for (;;) {
            MPI_Status st;
            int flag = 0;
            long spins = 0;
            double t0 = now_s();
            while (!flag) {  // between cycles the host may think for a long time: no watchdog here
                MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
                if (!flag) backoff(spins, t0, -1, 0, SEQ);
            }
            switch (st.MPI_TAG) {
                case SEQ: {
                    auto v = recv(0, SEQ, (long long)take_slots[size_t(me)].size() + 1, 2, timeout, false);
                    m->rst = v[0];
                    g_sig_cycle = ++m->cycle;
                    if (m->cycle == fault_cycle) {
                        if (fault_kind == "die") raise(SIGSEGV);  // as a crash would
                        if (fault_kind == "hang")
                            for (;;) pause();
                    }
                    size_t x = 2;
                    for (size_t e : take_slots[size_t(me)]) {
                        m->ov[m->EB + e] = uint8_t(v[x]);
                        m->od[m->EB + e] = v[x + 1];
                        x += 2;
                    }
                    cycle_body();
                    std::vector<uint8_t> flags;
                    std::vector<uint64_t> fo;
                    own_status(flags, fo);
                    auto b = msg(STATUS, take_slots[size_t(me)].size() + drive_slots[size_t(me)].size() +
                                             size_t(m->r1 - m->r0));
                    for (size_t e : take_slots[size_t(me)]) {
                        b.push_back(m->ir[m->edge_taker[e]]);
                        b.push_back(0);
                    }
                    for (size_t e : drive_slots[size_t(me)]) {
                        b.push_back(m->ov[m->edge_driver[e]]);
                        b.push_back(m->od[m->edge_driver[e]]);
                    }
                    for (int r = m->r0; r < m->r1; ++r) {
                        b.push_back(flags[size_t(r)]);
                        b.push_back(fo[size_t(r)]);
                    }
                    double t0 = now_s();
                    MPI_Request req;
                    send(0, b, &req);
                    wait(&req, 0, STATUS, timeout);
                    exchange_s += now_s() - t0;
                    break;
                }
                case COMB: {
                    auto v = recv(0, COMB, -1, 2, timeout);
                    for (size_t x = 0; x + 1 < v.size(); x += 2) {
                        size_t e = size_t(v[x]);
                        if (e >= m->edge_driver.size() || owner(m->edge_driver[e]) != me)
                            bad(0, COMB, "edge slot %zu is not driven by this rank", e);
                        m->ir[m->EB + e] = v[x + 1];
                        settle_driver(e);
                    }
                    auto b = msg(COMBR, drive_slots[size_t(me)].size());
                    for (size_t e : drive_slots[size_t(me)]) {
                        b.push_back(m->ov[m->edge_driver[e]]);
                        b.push_back(m->od[m->edge_driver[e]]);
                    }
                    MPI_Request req;
                    send(0, b, &req);
                    wait(&req, 0, COMBR, timeout);
                    break;
                }
                case PROBE: {
                    recv(0, PROBE, 0, 1, timeout);
                    constexpr int words = int(sizeof(std::declval<Vtile&>().probe) / sizeof(uint32_t));
                    auto b = msg(PROBER, size_t(m->r1 - m->r0) * size_t(m->C) * words);
                    for (int i = m->idx(m->r0, 0); i < m->idx(m->r1, 0); ++i)
                        for (int w = 0; w < words; ++w) b.push_back(m->tiles[size_t(i)]->probe[w]);
                    MPI_Request req;
                    send(0, b, &req);
                    wait(&req, 0, PROBER, timeout);
                    break;
                }
                case STOP: {
                    recv(0, STOP, 0, 1, timeout, false);
                    double d[6] = {compute_s, exchange_s, double(messages), double(bytes), double(cycles),
                                   t_last - t_first};
                    auto b = msg(STATS, 6);
                    for (double x : d) {
                        uint64_t u;
                        std::memcpy(&u, &x, 8);
                        b.push_back(u);
                    }
                    MPI_Send(b.data(), int(b.size()), MPI_UINT64_T, 0, STATS, MPI_COMM_WORLD);
                    MPI_Finalize();
                    return 0;
                }
                default:
                    bad(0, st.MPI_TAG, "an unexpected command");
            }
        }
    }

    // The edge output of slot e after its out ready changed (a worker's share of the comb call).
    void settle_driver(size_t e) {
        size_t d = m->edge_driver[e];
        if (d < m->LB) {
            int i = int(d / 4), s = int(d % 4);
            *m->p[size_t(i)].out_ready[s] = Ready(m->ir[m->EB + e]);
            m->tiles[size_t(i)]->eval();
            m->latch_outputs(i);
        } else {
            m->settle_link(int(d - m->LB));
        }
    }
};

Ranks* g_ranks = nullptr;


// INIT: rank 0 tells the workers the mesh (rows, cols, colors, threads, plan).
void send_init(int N, int rows, int cols, int colors, int threads, const char* plan) {
    std::string pl = plan ? plan : "";
    std::vector<uint64_t> b = {MPI_MAGIC, 0, INIT, 0, 5, uint64_t(rows), uint64_t(cols), uint64_t(colors),
                               uint64_t(threads), uint64_t(pl.size())};
    for (int k = 1; k < N; ++k) {
        MPI_Send(b.data(), int(b.size()), MPI_UINT64_T, k, INIT, MPI_COMM_WORLD);
        MPI_Send(pl.data(), int(pl.size()), MPI_CHAR, k, INIT, MPI_COMM_WORLD);
    }
}

}  // namespace
