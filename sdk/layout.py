"""The layout: which PEs run which program with which parameters, and which colors go where.

A ``Layout`` describes one load of the mesh, the way a vendor SDK's layout program does:

    lay = Layout(rows=1, cols=4, profile="small")
    A = lay.color("A")                                     # a free color (or lay.color("A", 3))
    lay.route(A, routes.row_broadcast(from_edge="W"))      # sdk/routes.py patterns
    prog = lay.program(SOURCE, symbols={"x": "f32[16]", "y": "f32[16]"}, params={"A": A})
    lay.place(prog, lay.all())                             # or a Region; per-PE params possible

Programs are PE assembly (docs/isa.md). Every name in ``params`` and every symbol is known to the
assembler before the program's first line: a symbol's name is its SRAM byte address on the PE and
``len_<name>`` its element count. Symbols are the arrays the host copies in and out
(``Runtime.h2d``/``d2h``); the layout gives each its own SRAM, from the top of the SRAM down and
8-byte aligned, unless the program fixes an address (``("f32", 16, 0x100)``). Buffers the
programs address themselves (``lay.buffer("acc", 256)``, the same address on every PE) are placed
from the bottom up; a symbol may sit on one (``("u32", 2, lay.buffer("param", 8))``), the symbols
the layout places stay above them.

Everything is checked before anything is built or simulated (``build()``, which the runtime
calls): regions inside the mesh, one program per PE, colors in range and not the management
color, one route per color at a PE (a color routed twice at a PE — and so on a link — is refused
with both patterns named), the route table as a whole (golden.routing: every sender's neighbour
accepts the color from that side, no cycles, edges), programs that assemble (errors with the line),
symbols that fit the SRAM and do not overlap each other or the program's data.

Interface:
    Layout(rows, cols, profile="small", clear_memory=True, sram=None)
        .buffer(name, nbytes, align=8, at=None) -> address   an SRAM buffer at the same address on
              every PE: above the buffers placed before (align-ed) or at ``at``; LayoutError,
              naming it, if it leaves the SRAM, overlaps another buffer or is misaligned
        .sram -> SramMap   the buffers (``sram=``: a map planned before the layout, e.g. a plan's)
        .all() / .region(row, col, rows=1, cols=1) / .row(r) / .col(c) -> Region; .check_region(region)
        .color(name=None, color=None) -> Color          .colors -> {name: Color}
        .route(color, pattern, region=None)              .route_chain((c0, c1), toward, region=None)
        .program(source, symbols=None, params=None, name=None, libraries=None) -> Program
              libraries: {name: assembly text} the source may ``.include`` (docs/isa.md)
        .place(program, region=None, params=None, values=None)
              params: {name: int} or a function pe -> {name: int} (per-PE parameters)
              values: {symbol: array} (every PE) or {symbol: function pe -> array}: initial contents
        .build() -> Built   (cached; raises LayoutError)     .mesh_routes() -> MeshRoutes
        .load_into(loader, zero=None)  queue the whole load on an sdk.loader.MeshLoader
    SramMap(size, what="the SRAM", start=0)   .buffer(...) as above, ``map[name]`` -> address,
                                   .buffers {name: (address, bytes)}, .top (end of the highest)
    Region(row, col, rows, cols)   .pes(order="row"|"col") .row_range .col_range, `pe in region`
    Symbol(name, dtype, count, addr=None)    dtypes: f16, f32, i16, i32, u16, u32
    Built                          .pe[(r, c)] -> PlacedPE(program, image, symbols, values), .routes
    LayoutError                    bad input, naming the PE, color, port, program or symbol
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from golden.routing import MeshRoutes, RouteError
from hdl.loadmap import Ctrl, LoadRegion, load_addr
from hdl.mesh import MeshShapeError, check_mesh_shape
from hdl.profiles import ProfileError, get_profile

from .asm import Image, assemble
from .errors import AsmError, LayoutError, SdkError
from .loader import ctrl_write, load_ops, sram_writes
from .routes import RoutePattern, chain

__all__ = ["Layout", "Region", "Symbol", "Program", "Color", "LayoutError", "DTYPES", "Built", "PlacedPE", "SramMap"]


#: element type name -> (bytes, numpy value type, numpy bit-pattern type)
DTYPES = {"f16": (2, np.float16, np.uint16), "f32": (4, np.float32, np.uint32),
          "i16": (2, np.int16, np.uint16), "i32": (4, np.int32, np.uint32),
          "u16": (2, np.uint16, np.uint16), "u32": (4, np.uint32, np.uint32)}
_SPEC = re.compile(r"^\s*([a-z]\d+)\s*\[\s*(\d+)\s*\]\s*$")


@dataclass(frozen=True)
class Region:
    row: int
    col: int
    rows: int = 1
    cols: int = 1

    @property
    def row_range(self) -> range:
        return range(self.row, self.row + self.rows)

    @property
    def col_range(self) -> range:
        return range(self.col, self.col + self.cols)

    def pes(self, order: str = "row") -> list:
        if order == "row":
            return [(r, c) for r in self.row_range for c in self.col_range]
        if order == "col":
            return [(r, c) for c in self.col_range for r in self.row_range]
        raise SdkError(f"order {order!r}: expected 'row' (row-major over the PEs) or 'col'")

    def __contains__(self, pe) -> bool:
        return pe[0] in self.row_range and pe[1] in self.col_range

    def __len__(self) -> int:
        return self.rows * self.cols

    def __str__(self) -> str:
        return f"rows {self.row}..{self.row + self.rows - 1} x cols {self.col}..{self.col + self.cols - 1}"


@dataclass(frozen=True)
class Symbol:
    name: str
    dtype: str
    count: int
    addr: int | None = None

    @property
    def elem_bytes(self) -> int:
        return DTYPES[self.dtype][0]

    @property
    def nbytes(self) -> int:
        return self.count * self.elem_bytes

    @property
    def span(self) -> int:
        """SRAM bytes it occupies: whole 32-bit words (the load bus and the read-out move words)."""
        return -(-self.nbytes // 4) * 4

    @classmethod
    def of(cls, name: str, spec) -> Symbol:
        if isinstance(spec, Symbol):
            return spec
        if isinstance(spec, str):
            m = _SPEC.match(spec)
            if not m:
                raise LayoutError(f"symbol {name!r}: {spec!r} is not TYPE[COUNT], e.g. 'f32[16]'")
            spec = (m.group(1), int(m.group(2)))
        try:
            dtype, count, *rest = spec
        except (TypeError, ValueError):
            raise LayoutError(f"symbol {name!r}: {spec!r} is not (type, count[, address])") from None
        if not re.match(r"^[A-Za-z_]\w*$", name):
            raise LayoutError(f"symbol name {name!r} is not an identifier")
        if dtype not in DTYPES:
            raise LayoutError(f"symbol {name!r}: type {dtype!r}; known types {', '.join(DTYPES)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise LayoutError(f"symbol {name!r}: count {count!r} must be a positive integer")
        addr = rest[0] if rest else None
        if addr is not None and (not isinstance(addr, int) or addr < 0 or addr % 8):
            raise LayoutError(f"symbol {name!r}: address {addr!r} must be a non-negative multiple of 8")
        return cls(name, dtype, count, addr)


class Color(int):
    """A color number with the name the layout gave it."""

    def __new__(cls, value: int, name: str):
        obj = super().__new__(cls, value)
        obj.name = name
        return obj

    def __repr__(self) -> str:
        return f"Color({int(self)}, {self.name!r})"


@dataclass
class Program:
    source: str
    symbols: dict  # name -> Symbol (fixed addresses or None)
    params: dict
    name: str
    layout: Layout = field(repr=False, default=None)
    libraries: dict = field(default_factory=dict)  # what the source may .include


@dataclass
class PlacedPE:
    program: Program
    image: Image
    symbols: dict  # name -> (address, Symbol)
    values: list  # [(addr, data)] load-bus writes of the symbols' initial contents


@dataclass
class Built:
    pe: dict  # (r, c) -> PlacedPE
    routes: MeshRoutes
    used_colors: set


@dataclass
class _Placement:
    program: Program
    region: Region
    params: dict | Callable | None
    values: dict


class SramMap:
    """The buffers of a PE's SRAM: each placed above the previous ones (``align``-ed) or at a fixed
    address, and refused (LayoutError, naming it) when it leaves the SRAM, overlaps another or is
    misaligned. ``map[name]`` is a buffer's address."""

    def __init__(self, size: int, what: str = "the SRAM", start: int = 0):
        self.size, self.what = size, what
        self.top = start  # the end of the highest buffer
        self.buffers: dict[str, tuple[int, int]] = {}  # name -> (address, bytes)

    def buffer(self, name: str, nbytes: int, align: int = 8, at: int | None = None) -> int:
        """Place ``nbytes`` at the lowest ``align``-ed address above every buffer (or ``at``)."""
        if not isinstance(name, str) or not re.match(r"^[A-Za-z_]\w*$", name):
            raise LayoutError(f"buffer name {name!r} is not an identifier")
        if name in self.buffers:
            raise LayoutError(f"buffer {name!r} is placed twice")
        for what, v, lo in (("size", nbytes, 0), ("alignment", align, 1)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise LayoutError(f"buffer {name!r}: {what} {v!r} must be an integer >= {lo}")
        if align & (align - 1):
            raise LayoutError(f"buffer {name!r}: alignment {align} is not a power of two")
        if at is None:
            addr = -(-self.top // align) * align
        elif isinstance(at, bool) or not isinstance(at, int) or at < 0 or at % align:
            raise LayoutError(f"buffer {name!r}: address {at!r} must be a non-negative multiple of {align}")
        else:
            addr = at
        if addr + nbytes > self.size:
            raise LayoutError(f"buffer {name!r} ({nbytes} bytes at {addr:#x}) does not fit {self.what} "
                              f"({self.size} bytes; the buffers before it end at {self.top:#x})")
        for other, (a, n) in self.buffers.items():
            if nbytes and n and addr < a + n and a < addr + nbytes:
                raise LayoutError(f"buffer {name!r} at {addr:#x}..{addr + nbytes:#x} overlaps buffer {other!r} "
                                  f"at {a:#x}..{a + n:#x}")
        self.buffers[name] = (addr, nbytes)
        self.top = max(self.top, addr + nbytes)
        return addr

    def __getitem__(self, name: str) -> int:
        if name not in self.buffers:
            raise LayoutError(f"no buffer {name!r} (buffers: {', '.join(self.buffers) or 'none'})")
        return self.buffers[name][0]

    def __contains__(self, name) -> bool:
        return name in self.buffers


class Layout:
    def __init__(self, rows: int, cols: int, profile="small", clear_memory: bool = True, sram: SramMap | None = None):
        try:
            check_mesh_shape(rows, cols)
        except MeshShapeError as e:
            raise LayoutError(str(e)) from None
        self.rows, self.cols = rows, cols
        try:
            self.profile = get_profile(profile)
        except ProfileError as e:
            raise LayoutError(str(e)) from None
        self.clear_memory = clear_memory
        size = self.profile.sram_kib * 1024
        if sram is not None and (not isinstance(sram, SramMap) or sram.size > size):
            raise LayoutError(f"sram={sram!r}: expected an SramMap of at most the {size} bytes of profile "
                              f"{self.profile.name}")
        self.sram = sram if sram is not None else SramMap(size, f"the SRAM of profile {self.profile.name}")
        self.colors: dict[str, Color] = {}
        self._routes: dict = {}  # (pe, color) -> (ColorRoute, pattern name)
        self._programs: list[Program] = []
        self._placements: list[_Placement] = []
        self._owner: dict = {}  # pe -> placement index
        self._built: Built | None = None

    # ---- regions -------------------------------------------------------------------------------
    def region(self, row: int, col: int, rows: int = 1, cols: int = 1) -> Region:
        for what, v in (("row", row), ("col", col), ("rows", rows), ("cols", cols)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise LayoutError(f"region {what}={v!r} is not an integer")
        if rows < 1 or cols < 1 or row < 0 or col < 0 or row + rows > self.rows or col + cols > self.cols:
            raise LayoutError(f"region at ({row}, {col}) of {rows}x{cols} PEs is outside the "
                              f"{self.rows}x{self.cols} mesh")
        return Region(row, col, rows, cols)

    def all(self) -> Region:
        return Region(0, 0, self.rows, self.cols)

    def row(self, r: int) -> Region:
        return self.region(r, 0, 1, self.cols)

    def col(self, c: int) -> Region:
        return self.region(0, c, self.rows, 1)

    def check_region(self, region) -> Region:
        """``region`` checked against this mesh (None: the whole mesh); LayoutError if outside."""
        if region is None:
            return self.all()
        if not isinstance(region, Region):
            raise LayoutError(f"{region!r} is not a Region (use layout.region(...), .all(), .row(r), .col(c))")
        return self.region(region.row, region.col, region.rows, region.cols)

    # ---- SRAM buffers --------------------------------------------------------------------------
    def buffer(self, name: str, nbytes: int, align: int = 8, at: int | None = None) -> int:
        """A buffer at the same address on every PE (``SramMap.buffer``): its address."""
        self._built = None
        return self.sram.buffer(name, nbytes, align, at)

    # ---- colors and routes ---------------------------------------------------------------------
    def color(self, name: str | None = None, color: int | None = None) -> Color:
        """A color for the program: ``color`` given, or the lowest one free. Never the management
        color; each name once."""
        name = name or f"color{len(self.colors)}"
        if name in self.colors:
            raise LayoutError(f"color name {name!r} is already taken (color {int(self.colors[name])})")
        taken = {int(c) for c in self.colors.values()}
        m = self.profile.mgmt_color
        if color is None:
            free = [c for c in range(self.profile.colors) if c != m and c not in taken]
            if not free:
                raise LayoutError(f"no free color for {name!r}: profile {self.profile.name} has "
                                  f"{self.profile.colors} colors, {len(taken)} taken and {m} reserved for loading")
            color = free[0]
        if isinstance(color, bool) or not isinstance(color, int) or not 0 <= color < self.profile.colors:
            raise LayoutError(f"color {color!r} for {name!r}: profile {self.profile.name} routes colors "
                              f"0..{self.profile.colors - 1}")
        if color == m:
            raise LayoutError(f"color {color} is the management color of profile {self.profile.name} "
                              "(reserved for loading through the edge)")
        if color in taken:
            other = next(n for n, c in self.colors.items() if int(c) == color)
            raise LayoutError(f"color {color} is already taken by {other!r}")
        c = Color(color, name)
        self.colors[name] = c
        self._built = None
        return c

    def route(self, color, pattern: RoutePattern, region: Region | None = None):
        """Route ``color`` by ``pattern`` over ``region`` (default: the whole mesh)."""
        color = self._check_color(color)
        region = self.check_region(region)
        if not isinstance(pattern, RoutePattern):
            raise LayoutError(f"{pattern!r} is not a route pattern (see sdk.routes)")
        routes = pattern.routes(self.rows, self.cols, region)
        for pe in routes:
            if not (0 <= pe[0] < self.rows and 0 <= pe[1] < self.cols):
                raise LayoutError(f"{pattern.name}: PE {pe} is outside the {self.rows}x{self.cols} mesh")
            prev = self._routes.get((pe, int(color)))
            if prev is not None:
                raise LayoutError(f"PE {pe} color {int(color)} ({getattr(color, 'name', color)}): routed twice, "
                                  f"by {prev[1]} and by {pattern.name}; one color carries one route per PE "
                                  "(and per link): use another color")
        for pe, route in routes.items():
            self._routes[(pe, int(color))] = (route, pattern.name)
        self._built = None

    def route_chain(self, colors, toward="E", region: Region | None = None):
        """A neighbour-to-neighbour chain along every row (column for N/S) of the region on two
        colors alternating by position: PE i sends on colors[i % 2] and receives on
        colors[(i - 1) % 2]."""
        if len(colors) != 2:
            raise LayoutError("route_chain needs two colors")
        for parity, c in enumerate(colors):
            self.route(c, chain(toward, parity), region)

    def _check_color(self, color) -> int:
        if isinstance(color, bool) or not isinstance(color, int):
            raise LayoutError(f"{color!r} is not a color (use layout.color(...))")
        if not 0 <= color < self.profile.colors:
            raise LayoutError(f"color {color}: profile {self.profile.name} routes colors 0..{self.profile.colors - 1}")
        if color == self.profile.mgmt_color:
            raise LayoutError(f"color {color} is the management color of profile {self.profile.name}")
        return color

    def mesh_routes(self) -> MeshRoutes:
        mesh = MeshRoutes(self.rows, self.cols, self.profile.colors)
        for (pe, color), (route, _) in self._routes.items():
            mesh.set(pe, color, route)
        return mesh

    # ---- programs ------------------------------------------------------------------------------
    def program(self, source: str, symbols: dict | None = None, params: dict | None = None,
                name: str | None = None, libraries: dict | None = None) -> Program:
        if not isinstance(source, str):
            raise LayoutError("a program is assembly source text (docs/isa.md)")
        syms = {n: Symbol.of(n, spec) for n, spec in (symbols or {}).items()}
        prog = Program(source, syms, dict(params or {}), name or f"program{len(self._programs)}", self,
                       dict(libraries or {}))
        self._programs.append(prog)
        self._built = None
        return prog

    def place(self, program: Program, region: Region | None = None, params=None, values: dict | None = None):
        """Run ``program`` on every PE of ``region``. ``params``: extra assembler symbols, the same
        for every PE (a dict) or per PE (a function pe -> dict). ``values``: the initial contents
        of symbols, {name: array} (every PE the same) or {name: function pe -> array}."""
        if not isinstance(program, Program) or program.layout is not self:
            raise LayoutError("place() takes a Program made by this layout's program()")
        region = self.check_region(region)
        for pe in region.pes():
            if pe in self._owner:
                other = self._placements[self._owner[pe]].program.name
                raise LayoutError(f"PE {pe} already runs {other!r}; it cannot also run {program.name!r} "
                                  "(one program per PE)")
        for sym in (values or {}):
            if sym not in program.symbols:
                raise LayoutError(f"values for {sym!r}: program {program.name!r} has no such symbol "
                                  f"(symbols: {', '.join(program.symbols) or 'none'})")
        k = len(self._placements)
        self._placements.append(_Placement(program, region, params, dict(values or {})))
        for pe in region.pes():
            self._owner[pe] = k
        self._built = None

    # ---- building ------------------------------------------------------------------------------
    def _allocate(self, program: Program) -> dict:
        """name -> address: fixed ones as given, the others from the top of the SRAM down."""
        size = self.profile.sram_kib * 1024
        top = size
        out = {}
        for s in program.symbols.values():
            if s.addr is not None:
                out[s.name] = s.addr
            else:
                top = (top - s.span) // 8 * 8
                out[s.name] = top
        spans = sorted((a, a + program.symbols[n].span, n) for n, a in out.items())
        for n, a in out.items():
            if program.symbols[n].addr is None and 0 <= a < self.sram.top:
                raise LayoutError(f"program {program.name!r}: symbol {n!r} ({program.symbols[n].nbytes} bytes) does "
                                  f"not fit between the layout's buffers (up to {self.sram.top:#x}) and the top "
                                  "of the SRAM")
        for a, b, n in spans:
            if a < 0 or b > size:
                raise LayoutError(f"program {program.name!r}: symbol {n!r} ({program.symbols[n].nbytes} bytes) does "
                                  f"not fit the {size} bytes of SRAM of profile {self.profile.name}")
        for (_, b0, n0), (a1, _, n1) in zip(spans, spans[1:], strict=False):
            if a1 < b0:
                raise LayoutError(f"program {program.name!r}: symbols {n0!r} and {n1!r} overlap in SRAM")
        return out

    def _assemble(self, program: Program, params: dict, addrs: dict) -> Image:
        defines = {}
        for n, a in addrs.items():
            defines[n] = a
            defines[f"len_{n}"] = program.symbols[n].count
        for n, v in {**program.params, **params}.items():
            if n in defines:
                raise LayoutError(f"program {program.name!r}: parameter {n!r} has the name of a symbol")
            if isinstance(v, bool) or not isinstance(v, int):
                raise LayoutError(f"program {program.name!r}: parameter {n}={v!r} is not an integer")
            defines[n] = int(v)
        try:
            image = assemble(program.source, self.profile.name, defines=defines, libraries=program.libraries)
        except AsmError as e:
            raise LayoutError(f"program {program.name!r}: {e}") from None
        for seg_addr, blob in image.sram:
            for n, a in addrs.items():
                b = a + program.symbols[n].span
                if seg_addr < b and a < seg_addr + len(blob):
                    raise LayoutError(f"program {program.name!r}: its data at {seg_addr:#x}..{seg_addr + len(blob):#x} "
                                      f"overlaps symbol {n!r} at {a:#x}..{b:#x}")
        return image

    def _value_writes(self, program, addrs, values, pe) -> list:
        writes = []
        for n, v in values.items():
            sym = program.symbols[n]
            data = v(pe) if callable(v) else v
            blob = to_bytes(data, sym, f"values of {n!r} at PE {pe}")
            writes += sram_writes(addrs[n], blob)
        return writes

    def build(self) -> Built:
        """Check and assemble everything (cached until the layout changes)."""
        if self._built is not None:
            return self._built
        mesh = self.mesh_routes()
        try:
            mesh.validate()
        except RouteError as e:
            raise LayoutError(f"routes: {e}") from None
        placed = {}
        images = {}
        for pl in self._placements:
            addrs = self._allocate(pl.program)
            for pe in pl.region.pes():
                params = pl.params(pe) if callable(pl.params) else (pl.params or {})
                key = (id(pl.program), tuple(sorted(params.items())))
                if key not in images:
                    images[key] = self._assemble(pl.program, params, addrs)
                symbols = {n: (addrs[n], pl.program.symbols[n]) for n in addrs}
                placed[pe] = PlacedPE(pl.program, images[key], symbols,
                                      self._value_writes(pl.program, addrs, pl.values, pe))
        used = {c for (_, c) in self._routes}
        self._built = Built(placed, mesh, used)
        return self._built

    def load_into(self, loader, zero: bool | None = None):
        """Queue the whole load on ``loader`` (an sdk.loader.MeshLoader for this mesh): the routes;
        CLEAR (and ZERO, with ``clear_memory``, unless ``zero`` says otherwise: memories known to
        be zero need no sweep) every PE; each PE's image; the symbols' initial values; then RUN. A
        program shared by every PE (same parameters) goes as one broadcast."""
        built = self.build()
        loader.routes(built.routes)
        sram = self.profile.sram_kib * 1024
        zero = self.clear_memory if zero is None else zero
        clear = [ctrl_write(Ctrl.CLEAR | Ctrl.ZERO if zero else Ctrl.CLEAR)]
        if zero:
            clear += zeroing_gap(self.profile)
        images = {id(p.image) for p in built.pe.values()}
        if len(built.pe) == self.rows * self.cols and len(images) == 1:
            image = next(iter(built.pe.values())).image
            loader.pe_writes_all(clear + load_ops(image, sram), phase="pre")
            for pe, p in sorted(built.pe.items()):
                if p.values:
                    loader.pe_writes(pe, p.values)
        else:
            loader.pe_writes_all(clear, phase="pre")
            for pe, p in sorted(built.pe.items()):
                loader.pe_writes(pe, load_ops(p.image, sram) + p.values)
        loader.pe_writes_all([ctrl_write(Ctrl.RUN)], phase="post")


def zeroing_gap(profile) -> list:
    """Load-bus writes that change nothing (zeros into the task table, which CLEAR has just
    emptied) and last as long as the ZERO sweep, so that no later write collides with it
    (docs/pe.md: the sweep takes max(SRAM rows, imem words) cycles)."""
    p = get_profile(profile)
    n = max(p.sram_kib * 1024 // 8, p.imem_words) + 2
    return [(load_addr(LoadRegion.TASK, k), 0) for k in range(n)]


def to_bytes(data, sym: Symbol, what: str) -> bytes:
    """An array's contents as the symbol's little-endian bytes; LayoutError on a wrong size or type."""
    size, vtype, btype = DTYPES[sym.dtype]
    arr = np.asarray(data)
    if arr.ndim != 1 or arr.size != sym.count:
        raise LayoutError(f"{what}: {arr.size} elements in shape {arr.shape}, the symbol holds {sym.count} "
                          f"{sym.dtype} (a 1-D array)")
    if arr.dtype == vtype or arr.dtype == btype:
        bits = arr.astype(vtype, copy=False).view(btype) if arr.dtype == vtype else arr
    else:
        raise LayoutError(f"{what}: dtype {arr.dtype}; symbol {sym.name!r} holds {sym.dtype}: give "
                          f"{np.dtype(vtype).name} values or {np.dtype(btype).name} bit patterns")
    blob = bits.astype(f"<u{size}").tobytes()
    return blob + bytes(-len(blob) % 4)
