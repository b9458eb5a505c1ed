"""Defect repair of a wafer: spare columns per row segment, defect maps, the logical-to-physical map.

Role
----
A wafer is built with more PE columns than software sees. Each row is cut into segments of
``segment`` logical columns; every segment carries ``spares`` spare columns at its east end. When
tiles of a segment are defective, the segment's working tiles, west to east, take the segment's
logical columns in order: the tiles east of a defect shift one place toward the spares. A segment
is repairable while it has at most ``spares`` defective tiles (spare tiles may be defective too).
Software addresses logical PEs only (docs/wafer.md).

This module is pure Python and imports no HDL: the generator, the golden models (which receive
the map as data), the SDK and the yield bench (bench/yield.py) share it.

Costs of a logical hop under this scheme (docs/wafer.md):
    a hop along a row skips the defective and unused spare tiles between the two logical
    neighbours (at most ``spares``); a hop between rows joins tiles whose physical columns
    differ by at most ``spares``.

Interface
---------
SpareScheme(segment, spares)    .physical_cols(cols); .overhead_pct(cols); .segments(cols);
                                .segment_span(s, cols) -> (first physical col, end); SpareScheme.parse("2/132")
DefectMap(rows, cols, scheme, defects)   defects: physical (row, col); checked on construction
    .repair() -> RepairMap
    DefectMap.load(path, rows, cols, scheme); DefectMap.random(rows, cols, scheme, rate, seed)
RepairMap                        .phys[r][c] -> physical column of logical (r, c);
                                 .logical_of(r, p) -> logical column or None; .hop_skips(r, c) -> tiles
                                 skipped by the hop from logical (r, c) to (r, c + 1);
                                 .max_shift; .to_json()
RepairError                      a map that cannot be repaired or is malformed (names the row/segment/value)
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SpareScheme", "DefectMap", "RepairMap", "RepairError", "MAX_DEFECT_RATE"]

#: a defect rate above this is a typo, not a wafer (1 PE in 10 dead)
MAX_DEFECT_RATE = 0.1


class RepairError(ValueError):
    """A spare scheme, defect map or rate that cannot be used; the message names what is wrong."""


@dataclass(frozen=True)
class SpareScheme:
    segment: int  # logical columns per segment
    spares: int = 1  # spare columns at the east end of every segment

    def __post_init__(self):
        if not isinstance(self.segment, int) or self.segment < 1:
            raise RepairError(f"spare scheme: segment must be a positive number of columns, got {self.segment!r}")
        if not isinstance(self.spares, int) or self.spares < 0 or self.spares > 4:
            raise RepairError(f"spare scheme: spares per segment must be 0..4, got {self.spares!r}")

    @classmethod
    def parse(cls, text: str) -> SpareScheme:
        """"K/S": K spare columns per S logical columns (e.g. "1/66", "2/132")."""
        try:
            k, s = (int(x) for x in str(text).split("/"))
        except ValueError:
            raise RepairError(f"spare scheme {text!r}: expected SPARES/SEGMENT, e.g. 2/132") from None
        return cls(s, k)

    def __str__(self) -> str:
        return f"{self.spares}/{self.segment}"

    def segments(self, cols: int) -> int:
        return math.ceil(cols / self.segment)

    def physical_cols(self, cols: int) -> int:
        return cols + self.spares * self.segments(cols)

    def overhead_pct(self, cols: int) -> float:
        """Spare PEs as a percentage of the physical PEs."""
        return 100.0 * (self.physical_cols(cols) - cols) / self.physical_cols(cols)

    def segment_span(self, s: int, cols: int) -> tuple[int, int]:
        """Physical columns [first, end) of segment s (its logical columns, then its spares)."""
        first = s * (self.segment + self.spares)
        width = min(self.segment, cols - s * self.segment) + self.spares
        return first, first + width


@dataclass
class RepairMap:
    rows: int
    cols: int
    scheme: SpareScheme
    phys: list = field(default_factory=list)  # phys[r][c]: physical column of logical (r, c)

    def __post_init__(self):
        self._logical = [{p: c for c, p in enumerate(row)} for row in self.phys]

    def logical_of(self, r: int, p: int):
        return self._logical[r].get(p)

    def hop_skips(self, r: int, c: int) -> int:
        """Physical tiles between logical (r, c) and (r, c + 1): defective or unused spares."""
        return self.phys[r][c + 1] - self.phys[r][c] - 1

    @property
    def max_shift(self) -> int:
        """The largest |physical - logical-position-in-segment| shift, i.e. how far a row moved."""
        S, k = self.scheme.segment, self.scheme.spares
        return max((p - (c // S) * (S + k) - c % S for row in self.phys for c, p in enumerate(row)), default=0)

    def to_json(self) -> str:
        return json.dumps({"rows": self.rows, "cols": self.cols, "scheme": str(self.scheme), "phys": self.phys})


@dataclass
class DefectMap:
    rows: int
    cols: int  # logical columns
    scheme: SpareScheme
    defects: frozenset = frozenset()  # physical (row, col)

    def __post_init__(self):
        if self.rows < 1 or self.cols < 1:
            raise RepairError(f"defect map: mesh must be at least 1 x 1, got {self.rows} x {self.cols}")
        pcols = self.scheme.physical_cols(self.cols)
        clean = set()
        for d in self.defects:
            try:
                r, c = (int(x) for x in d)
            except (TypeError, ValueError):
                raise RepairError(f"defect map: {d!r} is not a (row, column) pair") from None
            if not (0 <= r < self.rows and 0 <= c < pcols):
                raise RepairError(f"defect map: PE ({r}, {c}) is outside the physical mesh of {self.rows} rows x "
                                  f"{pcols} columns ({self.cols} logical + spares {self.scheme})")
            clean.add((r, c))
        self.defects = frozenset(clean)

    @classmethod
    def load(cls, path, rows: int, cols: int, scheme: SpareScheme) -> DefectMap:
        """A JSON file: {"defects": [[row, col], ...]} (physical coordinates) or a bare list."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RepairError(f"defect map {path}: {e}") from None
        items = data.get("defects") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise RepairError(f"defect map {path}: expected a list of [row, col] under \"defects\"")
        return cls(rows, cols, scheme, frozenset(tuple(x) if isinstance(x, list) else x for x in items))

    @classmethod
    def random(cls, rows: int, cols: int, scheme: SpareScheme, rate: float, seed: int = 1) -> DefectMap:
        """Each physical PE defective with probability ``rate``, independently."""
        if not isinstance(rate, (int, float)) or math.isnan(rate) or not 0 <= rate <= MAX_DEFECT_RATE:
            raise RepairError(f"defect rate {rate!r}: expected a probability per PE in [0, {MAX_DEFECT_RATE}]")
        rng = random.Random(seed)
        pcols = scheme.physical_cols(cols)
        return cls(rows, cols, scheme, frozenset((r, c) for r in range(rows) for c in range(pcols)
                                                 if rng.random() < rate))

    def repair(self) -> RepairMap:
        S, k = self.scheme.segment, self.scheme.spares
        phys = []
        for r in range(self.rows):
            row = []
            for s in range(self.scheme.segments(self.cols)):
                first, end = self.scheme.segment_span(s, self.cols)
                good = [p for p in range(first, end) if (r, p) not in self.defects]
                need = min(S, self.cols - s * S)
                if len(good) < need:
                    bad = end - first - len(good)
                    raise RepairError(f"row {r}, segment {s} (physical columns {first}..{end - 1}): {bad} defective "
                                      f"PEs but only {k} spare column{'s' if k != 1 else ''}: not repairable")
                row += good[:need]
            phys.append(row)
        return RepairMap(self.rows, self.cols, self.scheme, phys)
