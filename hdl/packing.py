"""Integer packing of ``amaranth.lib.data`` layouts, for the Python side (hosts, models, tests).

Every binary format of Tessera (wavelets, instruction fields, DSRs, status words, management
headers, router configuration words, load-bus words) is defined once as a ``lib.data`` layout that
the RTL uses. ``Packer(layout)`` reads the layout's own field offsets and widths, once, and packs
and unpacks plain integers with them, so the host never writes a shift of its own. (Amaranth's
``Layout.const`` does the same but costs tens of microseconds a call, too slow for per-wavelet
use.)

Fields are named by their path: ``"kind"``, ``"target.mem.base"``. Union alternatives overlap;
``unpack`` decodes every alternative and the caller reads the one that applies.

Interface:
    Packer(layout)
        .width                       the layout's size in bits
        .fields                      {path: (offset, width, signed)} of the leaf fields
        .pack(mapping=None, **values) -> int   unknown names and values that do not fit raise ValueError
        .unpack(word) -> {path: int}           signed fields come back signed
        .get(word, path) -> int
"""

from __future__ import annotations

from amaranth import Shape
from amaranth.lib import data

__all__ = ["Packer"]


class Packer:
    def __init__(self, layout: data.Layout):
        self.layout = layout
        self.width = layout.size
        self.fields: dict[str, tuple[int, int, bool]] = {}
        self._walk(layout, 0, "")

    def _walk(self, layout, base, prefix):
        for name, f in layout:
            path = f"{prefix}{name}"
            if isinstance(f.shape, data.Layout):
                self._walk(f.shape, base + f.offset, path + ".")
            else:
                shape = Shape.cast(f.shape)
                self.fields[path] = (base + f.offset, shape.width, shape.signed)

    def pack(self, mapping: dict | None = None, **values) -> int:
        items = dict(mapping or {})
        items.update(values)
        word = 0
        for path, value in items.items():
            try:
                offset, width, signed = self.fields[path]
            except KeyError:
                raise ValueError(f"{path!r} is not a field of {self.layout!r}") from None
            value = int(value)
            lo = -(1 << (width - 1)) if signed else 0
            hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
            if not lo <= value <= hi:
                raise ValueError(f"field {path}={value} does not fit {width} bits"
                                 + (" (signed)" if signed else ""))
            word |= (value & ((1 << width) - 1)) << offset
        return word

    def get(self, word: int, path: str) -> int:
        offset, width, signed = self.fields[path]
        v = (int(word) >> offset) & ((1 << width) - 1)
        if signed and v >> (width - 1):
            v -= 1 << width
        return v

    def unpack(self, word: int) -> dict:
        return {path: self.get(word, path) for path in self.fields}
