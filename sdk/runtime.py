"""The host runtime: load a layout, copy arrays in and out, stream, launch and run — on any engine.

    rt = Runtime(lay, engine="native")        # "golden", "hierarchical", "flat" (waves),
                                              # "fpga:/dev/ttyUSB0", "fpga-sim" (the board core
                                              # simulated with its UART), or an Engine
    rt.h2d("x", x, region=lay.all())          # copy: x split over the region's PEs (row-major)
    rt.send("W0", A, [np.float32(0.5)])       # streaming: wavelets into an edge link
    rt.run(until="idle")                      # or a number of cycles, or Until.outputs(...)
    y = rt.d2h("y", region=lay.all())         # no read-back code in the kernel (sdk/readout.py)

Everything enters and leaves through the mesh edge. Writes to PE memory (the layout's load,
``h2d``, ``launch``) go through the management path (docs/mesh.md); they are queued and sent as
one management stream per row just before the next operation that needs the mesh (``send``,
``run``, ``d2h``, ``receive``), so a kernel's load, its input arrays and its RUN reach the PEs in
one pass. ``load`` resets the mesh first.

Errors: bad input (unknown symbol, wrong size or type, region outside the mesh, ...) raises
``SdkError`` before anything is sent; a PE that halts, a router or loader error, or a run that
stops making progress raises ``DeviceError`` naming every faulty tile (PE coordinates, error code,
task, PC; on the hardware engines the westernmost faulty tile of each row).

Interface:
    Runtime(layout, engine="native", **engine_options)   options: threads, ranks (MPI, native),
            waves, console, run_name, seed, build (a SimBuild: Verilator engines); timeout (FPGA)
        .engine, .layout, .cycles (data-phase cycles so far), .load_cycles, .last (RunResult)
        .load(layout=None)            reset the mesh and queue a layout's load
        .flush()                      send the queued writes now
        .h2d(symbol, array, region=None, order="row")
        .d2h(symbol, region=None, order="row", dtype=None) -> numpy array
        .launch(task, region=None)    start a task (its number or its entry label) on every PE
        .send(link, color, values, ctrl=0)     values: numpy array (16-bit values go two per
                                      wavelet) or a list of 32-bit payloads
        .run(until="idle", max_idle=20000, progress=0, counters=False, trace=None) -> RunResult
                                      counters=True: RunResult.activity, the tiles' activity
                                      counters over the run (sdk/activity.py); trace: a
                                      sdk/trace.py TraceSpec, RunResult.trace (native engine)
        .activity() -> Activity       every tile's counters since the mesh's reset, now
        .receive(link=None, color=None, dtype=None) -> {EdgeLink: [Wavelet]}, [Wavelet] or an array
        .status() -> MeshStatus      .note(text)      .close()  (also a context manager)
    make_engine(spec, rows, cols, profile, **options) -> Engine
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from golden.routing import MeshRoutes
from hdl.loadmap import TASK_WORD, LoadRegion, load_addr
from hdl.mesh import EdgeLink
from hdl.wavelet import Wavelet

from . import readout
from .engines.base import Engine, Until
from .engines.bridge import BridgeEngine
from .engines.golden import GoldenEngine
from .engines.sim import SimEngine
from .layout import DTYPES, Layout, LayoutError, to_bytes
from .loader import MeshLoader, sram_writes
from .records import DeviceError, RunResult, SdkError
from .routes import readout as readout_routes
from .trace import TraceSpec

__all__ = ["Runtime", "make_engine", "ENGINE_NAMES"]

ENGINE_NAMES = ("native", "hierarchical", "flat", "golden", "fpga:<serial port>", "fpga-sim")


def make_engine(spec, rows: int, cols: int, profile, **options) -> Engine:
    if isinstance(spec, Engine):
        if (spec.rows, spec.cols, spec.profile.name) != (rows, cols, profile.name):
            raise SdkError(f"engine {spec.name} is a {spec.rows}x{spec.cols} {spec.profile.name} mesh, the layout "
                           f"a {rows}x{cols} {profile.name} one")
        return spec
    if spec == "golden":
        return GoldenEngine(rows, cols, profile)
    if spec in ("native", "hierarchical", "flat"):
        return SimEngine(rows, cols, profile, kind=spec, **options)
    if isinstance(spec, str) and (spec == "fpga-sim" or spec.startswith("fpga:")):
        return BridgeEngine.open(spec, rows, cols, profile, **options)
    raise SdkError(f"unknown engine {spec!r}; engines: {', '.join(ENGINE_NAMES)}")


class Runtime:
    def __init__(self, layout: Layout, engine="native", **engine_options):
        if not isinstance(layout, Layout):
            raise SdkError(f"Runtime takes a Layout, not {type(layout).__name__}")
        layout.build()  # every check before an engine starts
        self.layout = layout
        self.rows, self.cols, self.profile = layout.rows, layout.cols, layout.profile
        self.engine = make_engine(engine, self.rows, self.cols, self.profile, **engine_options)
        self.cycles = 0
        self.load_cycles = 0
        self.last: RunResult | None = None
        self.last_load_cycles: int | None = None
        self._outputs = defaultdict(list)  # EdgeLink -> [Wavelet] taken from the engine, not yet received
        self._pending = None
        self._reset_pending = False
        self.load(layout)

    # ---- loading and memory --------------------------------------------------------------------
    def load(self, layout: Layout | None = None):
        """Reset the mesh and queue the load of ``layout`` (default: this runtime's)."""
        layout = layout or self.layout
        if (layout.rows, layout.cols, layout.profile.name) != (self.rows, self.cols, self.profile.name):
            raise SdkError(f"a {layout.rows}x{layout.cols} {layout.profile.name} layout cannot load on this "
                           f"{self.rows}x{self.cols} {self.profile.name} runtime")
        layout.build()
        self.layout = layout
        self._pending = MeshLoader(self.rows, self.cols, self.profile)
        # An engine that has loaded nothing yet has zero memories (simulation, a fresh build): the
        # layout's zeroing sweep is then skipped.
        layout.load_into(self._pending, zero=layout.clear_memory and not self.engine.memory_zero)
        self._reset_pending = True
        self._settle = True
        self._outputs.clear()

    def _flush(self):
        """Send the queued management writes (after a reset, if a load asked for one)."""
        if self._reset_pending:
            self.engine.reset()
            self._reset_pending = False
        if self._pending is not None and not self._pending.empty:
            # A layout's load lets the tasks it starts run until they wait (their cycles are the
            # load's); later writes (h2d, launch, d2h) return with the echo, so run() times them.
            cycles = self.engine.load(self._pending.streams(), settle=self._settle)
            self.engine.memory_zero = False
            self._settle = False
            self.load_cycles += cycles or 0
            self.last_load_cycles = cycles
            self._pending = MeshLoader(self.rows, self.cols, self.profile)
            self._check(self.engine.status(), "loading")

    def flush(self):
        """Send the queued management writes now (they otherwise go with the next operation that
        needs the mesh): e.g. to load inputs before a launch that is to be timed on its own."""
        self._flush()

    def _queue(self) -> MeshLoader:
        if self._pending is None:
            self._pending = MeshLoader(self.rows, self.cols, self.profile)
        return self._pending

    def _region(self, region):
        return self.layout.check_region(region)

    def _symbol(self, name: str, region) -> dict:
        """{pe: (address, Symbol)} of symbol ``name`` over the region; SdkError if a PE lacks it."""
        built = self.layout.build()
        out = {}
        for pe in region.pes():
            placed = built.pe.get(pe)
            if placed is None:
                raise SdkError(f"PE {pe} runs no program, so it has no symbol {name!r}")
            if name not in placed.symbols:
                raise SdkError(f"PE {pe}: program {placed.program.name!r} has no symbol {name!r} "
                               f"(symbols: {', '.join(placed.symbols) or 'none'})")
            out[pe] = placed.symbols[name]
        syms = {s for _, s in out.values()}
        if len({(s.dtype, s.count) for s in syms}) > 1:
            raise SdkError(f"symbol {name!r} differs in type or size over the region: {sorted(syms)}")
        return out

    def h2d(self, symbol: str, array, region=None, order: str = "row"):
        """Copy ``array`` into ``symbol`` on every PE of ``region``: the array is the PEs' blocks one
        after the other (the PEs in row-major order, or column-major with order="col")."""
        region = self._region(region)
        where = self._symbol(symbol, region)
        pes = region.pes(order)
        sym = where[pes[0]][1]
        arr = np.asarray(array)
        if arr.ndim != 1 or arr.size != len(pes) * sym.count:
            raise SdkError(f"h2d {symbol!r}: {arr.size} elements in shape {arr.shape}; {len(pes)} PEs x "
                           f"{sym.count} {sym.dtype} = {len(pes) * sym.count} expected (a 1-D array)")
        for i, pe in enumerate(pes):
            try:
                blob = to_bytes(arr[i * sym.count:(i + 1) * sym.count], sym, f"h2d {symbol!r}")
            except LayoutError as e:
                raise SdkError(str(e)) from None
            self._queue().pe_writes(pe, sram_writes(where[pe][0], blob))

    def d2h(self, symbol: str, region=None, order: str = "row", dtype: str | None = None) -> np.ndarray:
        """The contents of ``symbol`` on every PE of ``region``, blocks in the order of ``h2d``.
        Runs the mesh until it is idle first; the PEs' routine and routes are the SDK's."""
        region = self._region(region)
        where = self._symbol(symbol, region)
        sym = next(iter(where.values()))[1]
        built = self.layout.build()
        for pe in region.pes():
            readout.check_program(pe, built.pe[pe], self.profile)
        color = readout.readout_color(self.layout)
        words = sym.span // 4
        self.run("idle")
        mesh = MeshRoutes(self.rows, self.cols, self.profile.colors)
        for pe, route in readout_routes("E").routes(self.rows, self.cols, region).items():
            mesh.set(pe, color, route)
        q = self._queue()
        q.routes(mesh)
        for pe in region.pes():
            q.pe_writes(pe, readout.pe_writes(self.profile, color, where[pe][0], words))
        self._flush()
        self._drain_engine()
        plan = readout.frames(region, "E", color)
        links = readout.expect(plan, words)
        have = {link: sum(1 for w in self._outputs[link] if w.color == color) for link in links}
        need = {link: (c, n - have[link]) for link, (c, n) in links.items()}
        self._run(Until.outputs(need), max_idle=20000 + 2 * region.cols * words)
        got = {}
        for link in links:
            got[link] = [w for w in self._outputs[link] if w.color == color]
            self._outputs[link] = [w for w in self._outputs[link] if w.color != color]
        blocks = readout.decode(got, plan, words, what=f"d2h {symbol!r}")
        size, vtype, btype = DTYPES[dtype or sym.dtype]
        if size != sym.elem_bytes:
            raise SdkError(f"d2h {symbol!r}: dtype {dtype} has {size} bytes, the symbol's elements {sym.elem_bytes}")
        out = []
        for pe in region.pes(order):
            blob = b"".join(w.to_bytes(4, "little") for w in blocks[pe])[:sym.nbytes]
            out.append(np.frombuffer(blob, dtype=np.dtype(btype).newbyteorder("<")).astype(btype).view(vtype))
        return np.concatenate(out)

    def launch(self, task, region=None):
        """Start ``task`` (a task number, or the label of its entry point) on every PE of the region,
        through the management path: its task-table entry is written with the pending bit."""
        region = self._region(region)
        built = self.layout.build()
        for pe in region.pes():
            placed = built.pe.get(pe)
            if placed is None:
                raise SdkError(f"launch: PE {pe} runs no program")
            image = placed.image
            t = task
            if isinstance(task, str):
                if task not in image.symbols:
                    raise SdkError(f"launch: program {placed.program.name!r} has no label {task!r}")
                matches = [k for k, pc in image.tasks.items() if pc == image.symbols[task]]
                if not matches:
                    raise SdkError(f"launch: {task!r} is not the entry point of a task of {placed.program.name!r}")
                t = matches[0]
            if t not in image.tasks:
                raise SdkError(f"launch: program {placed.program.name!r} has no task {t}")
            self._queue().pe_writes(pe, [(load_addr(LoadRegion.TASK, int(t)),
                                          TASK_WORD.pack(entry=image.tasks[t], valid=1, pending=1,
                                                         blocked=int(t in image.blocked)))])

    # ---- streaming and running -----------------------------------------------------------------
    def send(self, link, color, values, ctrl: int = 0):
        """Stream into an edge input link: a numpy array (16-bit elements two per 32-bit payload,
        low half first, as the PE's 16-bit fabric operands expect) or a list of payload integers."""
        link = EdgeLink.of(link)
        try:
            link.check(self.rows, self.cols)
        except ValueError as e:
            raise SdkError(str(e)) from None
        color = int(color)
        if not 0 <= color < self.profile.colors or color == self.profile.mgmt_color:
            raise SdkError(f"send on color {color}: not a data color of profile {self.profile.name}")
        wavelets = [Wavelet(color, p, ctrl) for p in payloads(values)]
        self._flush()
        self.engine.inject(link, wavelets)

    def run(self, until="idle", max_idle: int = 20000, progress: int = 0, counters: bool = False,
            trace: TraceSpec | None = None) -> RunResult:
        """Run the mesh until ``until``: "idle", a number of cycles, or ``Until.outputs({link:
        (color, count)})`` (counted among the wavelets not yet received). DeviceError on a fault
        or when nothing moves for ``max_idle`` cycles. ``counters``: the result's ``activity`` is
        what every tile did in the run; ``trace``: the result's ``trace`` is the timeline of the
        chosen PEs and links (write it with sdk/trace.py ``write_trace``)."""
        spec = None
        if trace is not None:
            if not isinstance(trace, TraceSpec):
                raise SdkError(f"run(trace=...) takes a sdk.trace.TraceSpec, not {type(trace).__name__}")
            try:
                trace.check(self.rows, self.cols)
            except ValueError as e:
                raise SdkError(f"trace: {e}") from None
            spec = trace.check(self.rows, self.cols)
        return self._run(Until.of(until), max_idle, progress, counters, spec)

    def activity(self):
        """Every tile's activity counters since the mesh's reset, and its status (sdk/activity.py)."""
        self._flush()
        return self.engine.probe()

    def _run(self, until, max_idle=20000, progress=0, counters=False, trace=None) -> RunResult:
        self._flush()
        res = self.engine.run(until, max_idle=max_idle, progress=progress, counters=counters, trace=trace)
        self.last = res
        if res.cycles is not None:
            self.cycles += res.cycles
        self._drain_engine()
        if res.reason == "stalled":
            raise DeviceError(f"the mesh made no progress for {max_idle} cycles", res.status.faults, res.status)
        self._check(res.status, "running")
        if until.kind == "outputs":
            for name, (color, count) in until.expected().items():
                got = sum(1 for w in self._outputs[name] if w.color == color)
                if got < count:
                    raise DeviceError(f"{name}: {got} of {count} expected wavelets on color {color} left the mesh "
                                      f"before it went quiet", res.status.faults, res.status)
        return res

    def _check(self, status, what):
        if not status.ok:
            raise DeviceError(f"a tile raised an error while {what} on the {self.engine.name} engine",
                              status.faults, status)

    def _drain_engine(self):
        for link, ws in self.engine.take().items():
            self._outputs[link].extend(ws)

    def receive(self, link=None, color: int | None = None, dtype: str | None = None):
        """The wavelets that left the mesh and have not been received yet (they are removed):
        all links ({EdgeLink: [Wavelet]}) or one link's list; ``color`` keeps only that color.
        With ``dtype`` (one link): the payloads as a numpy array of that element type (16-bit
        types two per wavelet, low half first, as ``send`` packs them)."""
        self._flush()
        self._drain_engine()
        links = [EdgeLink.of(link)] if link is not None else list(self._outputs)
        out = {}
        for lk in links:
            keep, got = [], []
            for w in self._outputs.get(lk, []):
                (got if color is None or w.color == color else keep).append(w)
            self._outputs[lk] = keep
            if got:
                out[lk] = got
        if dtype is not None:
            if link is None:
                raise SdkError("receive(dtype=...) takes one link")
            if dtype not in DTYPES:
                raise SdkError(f"receive: dtype {dtype!r}; known types {', '.join(DTYPES)}")
            _, vtype, btype = DTYPES[dtype]
            words = np.array([w.payload for w in out.get(links[0], [])], np.uint32)
            return words.view(btype).view(vtype) if np.dtype(btype).itemsize == 2 else words.astype(btype).view(vtype)
        return out.get(links[0], []) if link is not None else out

    def status(self):
        self._flush()
        return self.engine.status()

    def note(self, text: str):
        self.engine.note(text)

    def close(self):
        self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def payloads(values) -> list:
    """32-bit wavelet payloads from a numpy array (16-bit elements paired, low half first) or a list
    of integers."""
    if isinstance(values, np.ndarray) or isinstance(values, np.generic):
        arr = np.atleast_1d(np.asarray(values))
        if arr.dtype.itemsize == 2:
            bits = arr.view(np.uint16)
            if bits.size % 2:
                bits = np.concatenate([bits, np.zeros(1, np.uint16)])
            return [int(v) for v in bits.view(np.uint32)]
        if arr.dtype.itemsize == 4:
            return [int(v) for v in arr.view(np.uint32)]
        raise SdkError(f"send: {arr.dtype} elements; 16- or 32-bit ones travel on the fabric")
    out = []
    for v in values:
        if isinstance(v, (np.floating, np.integer)):
            out += payloads(np.asarray(v))
        elif isinstance(v, int) and 0 <= v < 1 << 32:
            out.append(v)
        else:
            raise SdkError(f"send: {v!r} is not a 32-bit payload")
    return out
