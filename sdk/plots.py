"""Pictures of a run: per-PE heat maps, per-link traffic, energy breakdowns (PNG files).

Drawn with matplotlib's Agg canvas on Figure objects of their own (no pyplot, no global backend
switch), so they work headless and from several threads. The mesh is drawn as on the wafer:
row 0 at the top (north), column 0 at the left (west).

Interface (every function returns the Path written; a path without a suffix gets ".png"; shapes
that do not fit raise ValueError):
    heat_map(values, path, title, label, vmin=None, vmax=None)
        one value per PE from a (rows, cols) array; the value is written in each cell of a mesh of
        at most 16x16
    link_map(activity, path, title="wavelets per link", cycles=None)
        the wavelets that left each tile on each side (``activity.links``, or a (rows, cols, 4)
        array in hdl/wavelet.py EDGE_SIDES order), per cycle when ``cycles`` is given: two
        parallel arrows between neighbours, one per direction, traffic keeping to the right;
        stubs out of the mesh for the edge links; idle links grey
    activity_maps(activity, outdir, prefix, cycles=None) -> {name: Path}
        "vec_busy" (<prefix>_vec_busy.png: fraction of cycles the vector engine was busy),
        "sram" (<prefix>_sram.png: SRAM row accesses rd0 + rd1 + wr per cycle),
        "macs" (<prefix>_macs.png: multiply-accumulate lane operations per cycle),
        "instructions" (<prefix>_instructions.png: instructions retired per cycle),
        "links" (<prefix>_links.png: link_map); ``cycles`` defaults to ``activity.cycles``; without
        it the maps show totals
    energy_bar(breakdowns, path, title="energy by component", unit="J")
        {kernel: {component: energy}}: one stacked bar per kernel, one colour per component,
        scaled to an SI prefix of ``unit`` ("J" -> "nJ", ...)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from hdl.wavelet import EDGE_SIDES, STEP, Port

__all__ = ["heat_map", "link_map", "activity_maps", "energy_bar", "ANNOTATE_MAX"]

#: meshes up to this many rows and columns get their values written in the cells
ANNOTATE_MAX = 16
_DPI = 100


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    return path


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return ""
    if float(v).is_integer() and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3g}"


def _mesh_size(rows: int, cols: int, extra: float = 0.0) -> tuple[float, float]:
    """A figure size that grows with the mesh, within sensible bounds."""
    cell = 0.55 if max(rows, cols) <= ANNOTATE_MAX else max(0.12, 9.0 / max(rows, cols))
    w = min(max(cols * cell + 1.8 + extra, 3.5), 18.0)
    h = min(max(rows * cell + 1.2, 2.8), 16.0)
    return w, h


def _grid_axes(ax, rows: int, cols: int):
    ax.set_xlabel("col")
    ax.set_ylabel("row")
    # integer ticks on the tiles, at most about 16 per axis
    ax.set_xticks(np.arange(0, cols, max(1, math.ceil(cols / 16))))
    ax.set_yticks(np.arange(0, rows, max(1, math.ceil(rows / 16))))
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")


def heat_map(values, path, title: str, label: str, vmin=None, vmax=None) -> Path:
    """One value per PE from a (rows, cols) array; row 0 at the top, column 0 at the left."""
    a = np.asarray(values)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"heat_map needs a (rows, cols) array, not shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"heat_map needs numbers, not {a.dtype}")
    if vmin is not None and vmax is not None and not vmax > vmin:
        raise ValueError(f"heat_map scale: vmax ({vmax!r}) must exceed vmin ({vmin!r})")
    a = a.astype(float)
    rows, cols = a.shape
    finite = a[np.isfinite(a)]
    lo = float(vmin) if vmin is not None else float(finite.min()) if finite.size else 0.0
    hi = float(vmax) if vmax is not None else float(finite.max()) if finite.size else 1.0
    if hi <= lo:  # a uniform map (or vmin >= vmax): a scale from 0 to the value
        lo, hi = (min(lo, 0.0), max(lo, 0.0)) if lo else (0.0, 1.0)
    norm = Normalize(lo, hi)
    cmap = colormaps["viridis"]

    fig = _figure(*_mesh_size(rows, cols, extra=1.0))
    ax = fig.add_subplot()
    im = ax.imshow(a, cmap=cmap, norm=norm, origin="upper", interpolation="nearest", aspect="equal")
    _grid_axes(ax, rows, cols)
    ax.set_title(title, pad=22 if rows > 1 else 26)
    fig.colorbar(im, ax=ax, label=label, fraction=0.046, pad=0.04)
    if rows <= ANNOTATE_MAX and cols <= ANNOTATE_MAX:
        size = 9 if max(rows, cols) <= 8 else 6.5
        for r in range(rows):
            for c in range(cols):
                v = a[r, c]
                if not math.isfinite(v):
                    continue
                # dark text on the bright end of viridis, light text on the dark end
                text_color = "black" if norm(v) > 0.6 else "white"
                ax.text(c, r, _fmt(v), ha="center", va="center", fontsize=size, color=text_color)
    return _save(fig, path)


def _links_array(activity) -> np.ndarray:
    links = activity.links if hasattr(activity, "links") else activity
    a = np.asarray(links)
    if a.ndim != 3 or a.shape[2] != len(EDGE_SIDES) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"link counts must be a (rows, cols, {len(EDGE_SIDES)}) array "
                         f"(sides {', '.join(p.name for p in EDGE_SIDES)}), not shape {a.shape}")
    return a.astype(float)


def _cycles(cycles):
    if cycles is None:
        return None
    if isinstance(cycles, bool) or not isinstance(cycles, (int, np.integer, float)) or not cycles > 0:
        raise ValueError(f"cycles must be a positive number of clock cycles, not {cycles!r}")
    return cycles


# Tiles are squares of side _TILE centred on integer (col, row) points; a link's two arrows run
# in the gap between neighbours, _OFF either side of the line joining their centres. Traffic
# keeps to the right of its direction of travel: eastbound below the line, westbound above,
# northbound to the right (east), southbound to the left (west).
_TILE = 0.5
_OFF = 0.11
_RIGHT = {Port.N: (1, 0), Port.S: (-1, 0), Port.E: (0, 1), Port.W: (0, -1)}  # (dx, dy), y grows south
_MARKER = {Port.N: "^", Port.S: "v", Port.E: ">", Port.W: "<"}


def link_map(activity, path, title: str = "wavelets per link", cycles=None) -> Path:
    """Per-link traffic: for every tile and side, the wavelets that left it that way (per cycle
    if ``cycles`` is given), as a coloured arrow toward the neighbour (or out of the mesh)."""
    a = _links_array(activity)
    cycles = _cycles(cycles)
    if cycles is not None:
        a = a / cycles
    rows, cols, _ = a.shape
    hi = float(a.max()) if a.size else 0.0
    norm = Normalize(0.0, hi if hi > 0 else 1.0)
    cmap = colormaps["plasma"]

    fig = _figure(*_mesh_size(rows, cols, extra=1.2))
    ax = fig.add_subplot()
    ax.add_collection(PatchCollection(
        [Rectangle((c - _TILE / 2, r - _TILE / 2), _TILE, _TILE) for r in range(rows) for c in range(cols)],
        facecolor="#e8e8e8", edgecolor="#888888", linewidth=0.6 if max(rows, cols) <= 32 else 0.2))

    half = _TILE / 2
    segs, vals, heads = [], [], {p: ([], [], []) for p in EDGE_SIDES}
    for r in range(rows):
        for c in range(cols):
            for i, side in enumerate(EDGE_SIDES):
                dr, dc = STEP[side]
                inside = 0 <= r + dr < rows and 0 <= c + dc < cols
                # from the tile's edge to the neighbour's edge, or a short stub out of the mesh
                length = 1 - _TILE if inside else 0.3
                ox, oy = _RIGHT[side]
                x0, y0 = c + dc * half + ox * _OFF, r + dr * half + oy * _OFF
                x1, y1 = x0 + dc * length, y0 + dr * length
                segs.append(((x0, y0), (x1, y1)))
                vals.append(a[r, c, i])
                hx, hy, hv = heads[side]
                hx.append(x1 - dc * 0.05)
                hy.append(y1 - dr * 0.05)
                hv.append(a[r, c, i])
    vals = np.array(vals)
    colors = np.where(vals[:, None] > 0, cmap(norm(vals)), np.array([0.75, 0.75, 0.75, 1.0]))
    scale = min(1.0, 12.0 / max(rows, cols))  # thinner strokes for big meshes
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=np.where(vals > 0, 3.2, 1.2) * scale,
                                     capstyle="butt"))
    for side, (hx, hy, hv) in heads.items():
        hv = np.array(hv)
        head_colors = np.where(hv[:, None] > 0, cmap(norm(hv)), np.array([0.75, 0.75, 0.75, 1.0]))
        ax.scatter(hx, hy, marker=_MARKER[side], s=(30 if max(rows, cols) <= 8 else 14) * scale ** 2,
                   c=head_colors, linewidths=0, zorder=3)

    ax.set_xlim(-0.75, cols - 0.25)
    ax.set_ylim(rows - 0.25, -0.75)  # row 0 at the top
    ax.set_aspect("equal")
    _grid_axes(ax, rows, cols)
    ax.set_title(title, pad=22)
    # the arrows are drawn with explicit colours: the colorbar needs a mappable of its own
    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04,
                 label="wavelets per cycle" if cycles is not None else "wavelets")
    ax.text(0.0, -0.02, "arrows: traffic keeps right (eastbound below, northbound right); grey: idle",
            transform=ax.transAxes, ha="left", va="top", fontsize=7, color="#555555")
    return _save(fig, path)


def activity_maps(activity, outdir, prefix: str, cycles=None) -> dict:
    """Heat maps and the link map of a run's activity (sdk/activity.py Activity); see the module
    docstring for the files. Returns {name: Path}."""
    if not (hasattr(activity, "counters") and hasattr(activity, "links")):
        raise ValueError(f"activity_maps needs an sdk.activity.Activity, not {type(activity).__name__}")
    rows, cols = activity.rows, activity.cols
    for name, arr in activity.counters.items():
        if np.shape(arr) != (rows, cols):
            raise ValueError(f"counter {name} has shape {np.shape(arr)}, the mesh is {rows}x{cols}")
    cycles = _cycles(activity.cycles if cycles is None else cycles)
    outdir = Path(outdir)
    ctr = activity.counters

    def per_cycle(x):
        return np.asarray(x, dtype=float) / cycles if cycles is not None else np.asarray(x)

    out = {}
    busy_label = "fraction of cycles" if cycles is not None else "cycles"
    out["vec_busy"] = heat_map(per_cycle(ctr["vec_busy"]), outdir / f"{prefix}_vec_busy.png",
                               "vector engine busy", busy_label,
                               vmin=0.0 if cycles is not None else None, vmax=1.0 if cycles is not None else None)
    sram = ctr["sram_rd0"] + ctr["sram_rd1"] + ctr["sram_wr"]
    unit = " per cycle" if cycles is not None else ""
    out["sram"] = heat_map(per_cycle(sram), outdir / f"{prefix}_sram.png", "SRAM row accesses (rd0 + rd1 + wr)",
                           "row accesses" + unit)
    out["macs"] = heat_map(per_cycle(activity.macs), outdir / f"{prefix}_macs.png",
                           "multiply-accumulates (lane operations)", "MACs" + unit)
    out["instructions"] = heat_map(per_cycle(ctr["instructions"]), outdir / f"{prefix}_instructions.png",
                                   "instructions retired", "instructions" + unit)
    out["links"] = link_map(activity, outdir / f"{prefix}_links.png",
                            title="wavelets per link" + (" per cycle" if cycles is not None else ""), cycles=cycles)
    return out


_PREFIXES = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T"}


def energy_bar(breakdowns: dict, path, title: str = "energy by component", unit: str = "J") -> Path:
    """A stacked bar per kernel (the keys of ``breakdowns``), one colour per component."""
    if not isinstance(breakdowns, dict) or not breakdowns:
        raise ValueError("energy_bar needs a non-empty {kernel: {component: energy}} dict")
    components = []
    for kernel, parts in breakdowns.items():
        if not isinstance(parts, dict):
            raise ValueError(f"kernel {kernel!r}: the breakdown must be a {{component: energy}} dict")
        for comp, v in parts.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v < 0:
                raise ValueError(f"kernel {kernel!r}, component {comp!r}: energy must be a finite number >= 0, "
                                 f"not {v!r}")
            if comp not in components:
                components.append(comp)
    kernels = list(breakdowns)
    table = np.array([[float(breakdowns[k].get(comp, 0.0)) for comp in components] for k in kernels])
    if not components:
        table = np.zeros((len(kernels), 0))
    totals = table.sum(axis=1)
    top = float(totals.max()) if totals.size else 0.0
    # an SI prefix that keeps the largest bar between 1 and 1000
    exp = 0 if top <= 0 else max(-15, min(12, 3 * math.floor(math.log10(top) / 3)))
    scaled = table / 10.0 ** exp
    label_unit = f"{_PREFIXES[exp]}{unit}"

    fig = _figure(min(max(2.0 + 1.0 * len(kernels), 5.0), 18.0) + 2.0, 4.5)
    ax = fig.add_subplot()
    x = np.arange(len(kernels))
    cmap = colormaps["tab20" if len(components) > 10 else "tab10"]
    bottom = np.zeros(len(kernels))
    for j, comp in enumerate(components):
        ax.bar(x, scaled[:, j], bottom=bottom, width=0.6, label=str(comp), color=cmap(j % cmap.N),
               edgecolor="white", linewidth=0.5)
        bottom += scaled[:, j]
    for xi, t in zip(x, bottom, strict=True):
        ax.text(xi, t, f"{t:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [str(k) for k in kernels], rotation=30 if len(kernels) > 4 else 0,
                  ha="right" if len(kernels) > 4 else "center")
    ax.set_ylabel(f"energy ({label_unit})")
    ax.set_title(title)
    ax.set_ylim(0, (bottom.max() if bottom.size and bottom.max() > 0 else 1.0) * 1.12)
    if components:
        # legend top to bottom in stacking order (the first component is the bottom of each bar)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False)
    return _save(fig, path)
