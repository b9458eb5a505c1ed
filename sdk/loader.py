"""Loading through the mesh edge: management streams for routes, PE images and PE memory.

A mesh is configured by management messages (docs/mesh.md) sent into the west edge of each row on
the management color; each row is an independent stream, so rows load in parallel. This module
turns what the host wants written — router configuration words per PE, PE load-bus words per PE —
into per-row wavelet streams, merging identical writes across a row into one broadcast message
(a program shared by many PEs costs one copy per row, not one per PE).

Interface:
    load_ops(image, sram_bytes) -> [(addr, data)]   PE load-bus writes for an assembled image
                                       (after a CLEAR|ZERO; hdl/loadmap.py address map)
    ctrl_write(bits) -> (addr, data)   a write of the PE's control word (hdl.loadmap.Ctrl bits)
    sram_writes(addr, data: bytes) -> [(addr, data)]   32-bit load-bus writes of SRAM bytes
    MeshLoader(rows, cols, profile)
        .routes(mesh_routes)               validate (golden.routing) and queue every route write
        .router_writes(pe, [(addr, data)]) queue router configuration writes for one PE
        .pe_writes(pe, [(addr, data)])     queue PE load-bus writes for one PE
        .pe_writes_all([(addr, data)], phase="pre"|"post")   writes for every PE, sent as one
                                           broadcast per row before ("pre") or after ("post") the
                                           per-PE writes (e.g. CLEAR + a shared image, then RUN)
        .streams() -> {row: [Wavelet, ...]}   the wavelets for each row's west link
        .empty                             nothing queued
    management_routes(mesh_routes, profile) add the management color's reset route to a golden mesh
    LoadError                              a write or route the mesh cannot take
"""

from __future__ import annotations

from collections import defaultdict

from golden.routing import ColorRoute, MeshRoutes, Port, mask_of
from hdl.loadmap import BIND_WORD, TASK_WORD, LoadRegion, load_addr
from hdl.mgmt import ADDR_BITS, MGMT_BROADCAST, MgmtTarget, mgmt_header
from hdl.profiles import get_profile
from hdl.router_config import encode_color_route
from hdl.wavelet import Wavelet

from .errors import LoadError

__all__ = ["MeshLoader", "management_routes", "LoadError", "load_ops", "ctrl_write", "sram_writes"]


def ctrl_write(bits: int) -> tuple[int, int]:
    return load_addr(LoadRegion.CTRL, 0), int(bits)


def sram_writes(addr: int, blob: bytes) -> list[tuple[int, int]]:
    """Load-bus writes of ``blob`` at SRAM byte ``addr`` (both multiples of 4 bytes)."""
    if addr % 4 or len(blob) % 4:
        raise LoadError(f"SRAM writes go by 32-bit words: address {addr:#x}, {len(blob)} bytes")
    return [(load_addr(LoadRegion.SRAM, addr // 4 + i), int.from_bytes(blob[4 * i:4 * i + 4], "little"))
            for i in range(len(blob) // 4)]


def load_ops(image, sram_bytes: int) -> list[tuple[int, int]]:
    """Load-bus writes for an image (an ``sdk.asm.Image`` or its dict), after a CLEAR|ZERO: the
    nonzero instruction and SRAM words, the task table, the color bindings and DSR presets."""
    image = image.to_dict() if hasattr(image, "to_dict") else image
    ops = []
    for i, w in enumerate(image.get("imem", [])):
        if w:
            ops.append((load_addr(LoadRegion.IMEM, i), int(w) & 0xFFFFFFFF))
    mem = bytearray(sram_bytes)
    for addr, blob in image.get("sram", []):
        blob = bytes.fromhex(blob) if isinstance(blob, str) else bytes(blob)
        mem[int(addr):int(addr) + len(blob)] = blob
    for w in range(sram_bytes // 4):
        v = int.from_bytes(mem[4 * w:4 * w + 4], "little")
        if v:
            ops.append((load_addr(LoadRegion.SRAM, w), v))
    start = {int(t) for t in image.get("start", [])}
    blocked = {int(t) for t in image.get("blocked", [])}
    for t, pc in image.get("tasks", {}).items():
        t = int(t)
        ops.append((load_addr(LoadRegion.TASK, t), TASK_WORD.pack(entry=int(pc), valid=1, pending=int(t in start),
                                                                blocked=int(t in blocked))))
    for c, t in image.get("bindings", {}).items():
        ops.append((load_addr(LoadRegion.BIND, int(c)), BIND_WORD.pack(task=int(t), valid=1)))
    for n, w in image.get("dsrs", {}).items():
        n, w = int(n), int(w)
        ops.append((load_addr(LoadRegion.DSR, 2 * n), w & 0xFFFFFFFF))
        ops.append((load_addr(LoadRegion.DSR, 2 * n + 1), w >> 32))
    return ops


def management_routes(mesh: MeshRoutes, profile) -> MeshRoutes:
    """Add the management color's reset-state route (RX {W}, TX {E, RAMP}) at every PE, as the
    golden model must see it (docs/mesh.md)."""
    m = get_profile(profile).mgmt_color
    for pe in mesh.pes():
        mesh.set(pe, m, ColorRoute(((mask_of(Port.W), mask_of(Port.E, Port.RAMP)),)))
    return mesh


def _bursts(writes):
    """Group (addr, data) writes into runs of consecutive addresses, keeping the write order."""
    runs = []
    for addr, data in writes:
        if runs and runs[-1][0] + len(runs[-1][1]) == addr:
            runs[-1][1].append(data)
        else:
            runs.append((addr, [data]))
    return runs


class MeshLoader:
    def __init__(self, rows: int, cols: int, profile="small"):
        self.rows, self.cols = rows, cols
        self.profile = get_profile(profile)
        # per (row, target): {col: [(addr, data), ...]}
        self._writes = defaultdict(lambda: defaultdict(list))
        self._all = {"pre": [], "post": []}

    @property
    def empty(self) -> bool:
        return not self._writes and not self._all["pre"] and not self._all["post"]

    def _check_pe(self, pe):
        r, c = pe
        if not (0 <= r < self.rows and 0 <= c < self.cols):
            raise LoadError(f"PE {pe} is outside the {self.rows}x{self.cols} mesh")

    def routes(self, mesh: MeshRoutes):
        """Validate a route table for this mesh and queue its configuration writes."""
        if (mesh.rows, mesh.cols) != (self.rows, self.cols):
            raise LoadError(f"routes for a {mesh.rows}x{mesh.cols} mesh, loading a {self.rows}x{self.cols} one")
        if mesh.colors != self.profile.colors:
            raise LoadError(f"routes for {mesh.colors} colors, profile {self.profile.name} has {self.profile.colors}")
        mesh.validate()
        m = self.profile.mgmt_color
        for pe, table in sorted(mesh.routes.items()):
            writes = []
            for color, route in sorted(table.items()):
                if color == m:
                    continue  # the management route is fixed at reset; rewriting it could cut the row off
                writes += encode_color_route(color, route.positions, route.ring)
            if writes:
                self.router_writes(pe, writes)

    def router_writes(self, pe, writes):
        self._check_pe(pe)
        self._writes[(pe[0], MgmtTarget.ROUTER)][pe[1]].extend(writes)

    def pe_writes(self, pe, writes):
        self._check_pe(pe)
        self._check_writes(pe, writes)
        self._writes[(pe[0], MgmtTarget.PE)][pe[1]].extend(writes)

    @staticmethod
    def _check_writes(pe, writes):
        for addr, data in writes:
            if not 0 <= addr < 1 << ADDR_BITS:
                raise LoadError(f"PE {pe}: load address {addr:#x} beyond the {ADDR_BITS}-bit management address")
            if not 0 <= data < 1 << 32:
                raise LoadError(f"PE {pe}: load data {data:#x} is not a 32-bit word")

    def pe_writes_all(self, writes, phase="pre"):
        if phase not in self._all:
            raise LoadError(f"phase {phase!r}: expected 'pre' or 'post'")
        self._check_writes("(every PE)", writes)
        self._all[phase].extend(writes)

    def _broadcast(self, stream, writes):
        m = self.profile.mgmt_color
        for start, words in _bursts(writes):
            stream.append(Wavelet(m, mgmt_header(MGMT_BROADCAST, MgmtTarget.PE, start), 1))
            stream += [Wavelet(m, w, 0) for w in words]

    def streams(self) -> dict:
        """{row: [Wavelet, ...]} for each row's west-edge link, router writes first."""
        m = self.profile.mgmt_color
        out = {}
        for r in range(self.rows):
            stream = []
            for target in (MgmtTarget.ROUTER, MgmtTarget.PE):
                if target == MgmtTarget.PE:
                    self._broadcast(stream, self._all["pre"])
                per_col = self._writes.get((r, target), {})
                if not per_col:
                    continue
                lists = [tuple(per_col.get(c, ())) for c in range(self.cols)]
                if self.cols > 1 and all(lists[0] == x for x in lists[1:]):
                    plan = [(MGMT_BROADCAST, list(lists[0]))]
                else:
                    plan = [(c, per_col[c]) for c in range(self.cols) if per_col.get(c)]
                for col, writes in plan:
                    for start, words in _bursts(writes):
                        stream.append(Wavelet(m, mgmt_header(col, target, start), 1))
                        stream += [Wavelet(m, w, 0) for w in words]
            self._broadcast(stream, self._all["post"])
            out[r] = stream
        return out
