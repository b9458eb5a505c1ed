"""Activity-based energy model: a run's activity counters (sdk/activity.py) priced in joules.

Role
----
Every event the tiles count (hdl/probe.py) is given an energy: lane operations per FMAC mode and
per add/multiply type, 64-bit SRAM row reads and writes, retired instructions, wavelets leaving a
router and crossing a link, and an idle/leakage charge for every PE in every cycle. The figures
come from published 45 nm measurements (Horowitz, ISSCC 2014, and public NoC and wire figures) scaled to the
target node (WSE-2: TSMC 7 nm) with a stated factor per category (logic, SRAM, wires). Every
number, its unit, its source and its scaling live in ``sdk/energy_defaults.json``; a user
overrides any of them with a partial JSON file of the same shape. docs/observability.md
("Energy model") explains each figure.

Interface:
    DEFAULTS_PATH                         the default table (package data)
    COMPONENTS                            the breakdown's components, in order
    EnergyModel(overrides=None)           defaults merged with a partial table (dict)
        EnergyModel.load(path=None)       ... with a partial table read from a JSON file
        .table                            the merged table (dict; .to_dict() a copy)
        .scaling                          {"logic"|"sram"|"wire": factor}
        .pe_pitch_mm                      the PE pitch the links are priced at
        .sram_read_pj(bank_kib)           pJ per 64-bit read of a bank of that size (target node)
        .event_pj(profile)                {event: pJ at the target node} for a profile
        .breakdown(activity, cycles=None, profile="small") -> {component: joules}
        .per_pe(activity, cycles=None, profile="small")    -> {component: (rows, cols) joules}
        .report(activity, cycles=None, profile="small", useful_macs=None, freq_hz=850e6)
                                          -> EnergyReport
        .wafer_projection(activity, cycles=None, profile="wse", rows=750, cols=994,
                          freq_hz=850e6) -> dict
    EnergyReport   joules, watts, pj_per_mac, flops, gflops_per_watt, breakdown, assumptions,
                   macs, cycles, pes, profile, freq_hz, event_pj;  .to_dict(), .format()

``cycles``: the clock cycles the activity covers; ``Activity.cycles`` when None (a run's delta
carries it). A reading without cycles and no ``cycles=`` argument is refused.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hdl.probe import LANE_COUNTERS, LINK_COUNTERS
from hdl.profiles import Profile, get_profile
from hdl.wavelet import WAVELET_BITS

from .errors import SdkError

__all__ = ["EnergyModel", "EnergyReport", "COMPONENTS", "DEFAULTS_PATH"]

DEFAULTS_PATH = Path(__file__).with_name("energy_defaults.json")

COMPONENTS = ("fmac", "fp_add_mul", "int", "sram_read", "sram_write", "instructions", "router", "links",
              "leakage")

# counter -> the event that prices it, per component. Each counter appears once except the link
# counters: a wavelet leaving on a side pays a router traversal and a link traversal.
_LANE_EVENTS = {
    "lanes_fmac_f32_f16": "fmac_f32_f16", "lanes_fmac_f32": "fmac_f32", "lanes_fmac_f16": "fmac_f16",
    "lanes_mac_i32_i16": "mac_i32_i16",
    "lanes_add_f16": "add_f16", "lanes_add_f32": "add_f32", "lanes_mul_f16": "mul_f16", "lanes_mul_f32": "mul_f32",
    "lanes_int": "int_op",
}
# A lane class added to the probe without a price here would silently cost nothing.
if set(_LANE_EVENTS) != set(LANE_COUNTERS):
    raise ImportError(f"sdk.energy prices lane counters {sorted(_LANE_EVENTS)}, the probe counts {LANE_COUNTERS}")

_MAC_COUNTERS = ("lanes_fmac_f32_f16", "lanes_fmac_f32", "lanes_fmac_f16", "lanes_mac_i32_i16")
_FP_MAC_COUNTERS = _MAC_COUNTERS[:3]
_FP_OP_COUNTERS = ("lanes_add_f16", "lanes_add_f32", "lanes_mul_f16", "lanes_mul_f32")

_PRICED = {
    "fmac": [(c, _LANE_EVENTS[c]) for c in _MAC_COUNTERS],
    "fp_add_mul": [(c, _LANE_EVENTS[c]) for c in _FP_OP_COUNTERS],
    "int": [("lanes_int", "int_op")],
    "sram_read": [("sram_rd0", "sram_read"), ("sram_rd1", "sram_read")],
    "sram_write": [("sram_wr", "sram_write")],
    "instructions": [("instructions", "instruction")],
    # every wavelet leaving a router output: the four links and the RAMP (ramp_in/ramp_out are the
    # same wavelets seen from the PE, so they are not priced again)
    "router": [(c, "router_wavelet") for c in LINK_COUNTERS] + [("to_ramp", "router_wavelet")],
    "links": [(c, "link_wavelet") for c in LINK_COUNTERS],
}

_CATEGORIES = ("logic", "sram", "wire")
# Plausible range per unit: a value outside it is a typo (a factor of 1000, a unit mix-up), not a
# design point. (low, high]: every figure is strictly positive.
_RANGES = {"x": 10.0, "pJ": 1e4, "pJ/bit": 100.0, "fJ/bit/mm": 1e4, "mm": 50.0, "bits": 1024,
           "pJ/FLOP": 1e3, "W": 1e7}
_ENTRY_KEYS = {"value", "unit", "source", "scale"}


def _defaults() -> dict:
    with open(DEFAULTS_PATH) as f:
        return json.load(f)


def _is_entry(node) -> bool:
    return isinstance(node, dict) and "value" in node


def _check_value(path: str, value, unit: str):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SdkError(f"energy table: {path} must be a number ({unit}), not {value!r}")
    high = _RANGES[unit]
    if not (math.isfinite(value) and 0 < value <= high):
        raise SdkError(f"energy table: {path} = {value!r} {unit} is out of range: must be > 0 and <= {high:g} "
                         f"{unit}")
    if unit == "bits" and value != int(value):
        raise SdkError(f"energy table: {path} = {value!r} must be a whole number of bits")


def _merge(table: dict, overrides: dict, where: str = ""):
    """Merge a partial table onto ``table`` in place; unknown keys and wrong types raise SdkError."""
    if not isinstance(overrides, dict):
        raise SdkError(f"energy table: {where.rstrip('.') or 'the override'} must be a JSON object")
    for key, val in overrides.items():
        path = f"{where}{key}"
        if key not in table:
            raise SdkError(f"energy table: unknown key {path!r}; known here: {', '.join(table)}")
        cur = table[key]
        if isinstance(cur, str):
            if not isinstance(val, str):
                raise SdkError(f"energy table: {path} must be a string")
            table[key] = val
        elif _is_entry(cur):
            # a bare number is shorthand for {"value": number}
            val = val if isinstance(val, dict) else {"value": val}
            for k, v in val.items():
                if k not in _ENTRY_KEYS or (k == "scale" and "scale" not in cur):
                    allowed = ", ".join(k2 for k2 in ("value", "source", "scale") if k2 in cur)
                    raise SdkError(f"energy table: unknown key {path}.{k!r}; an entry takes {allowed}")
                if k == "unit" and v != cur["unit"]:
                    raise SdkError(f"energy table: {path}.unit is {cur['unit']!r}; give the value in that unit")
                cur[k] = v
        else:
            _merge(cur, val, f"{path}.")


def _validate(table: dict):
    for section in ("scaling", "events", "reference"):
        for name, e in table[section].items():
            path = f"{section}.{name}"
            _check_value(path, e["value"], e["unit"])
            if not isinstance(e.get("source", ""), str):
                raise SdkError(f"energy table: {path}.source must be a string")
            if section == "events" and e["scale"] not in _CATEGORIES + ("none",):
                raise SdkError(f"energy table: {path}.scale = {e['scale']!r}; one of "
                                 f"{', '.join(_CATEGORIES + ('none',))}")


def _resolve_cycles(activity, cycles) -> int:
    c = cycles if cycles is not None else activity.cycles
    if c is None:
        raise SdkError("energy: the activity does not say how many cycles it covers; pass cycles=")
    c = int(c)
    if c < 0:
        raise SdkError(f"energy: cycles={c} is negative")
    return c


def _none_if_nan(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _fmt_j(j: float) -> str:
    for unit, scale in (("J", 1.0), ("mJ", 1e-3), ("uJ", 1e-6), ("nJ", 1e-9)):
        if abs(j) >= scale:
            return f"{j / scale:.4g} {unit}"
    return f"{j / 1e-12:.4g} pJ"


@dataclass
class EnergyReport:
    joules: float
    watts: float | None  # None when the activity covers 0 cycles
    pj_per_mac: float | None  # None without MACs
    flops: int
    gflops_per_watt: float | None  # None when no energy was spent
    breakdown: dict
    assumptions: dict
    macs: int = 0  # the MACs pj_per_mac is counted against
    cycles: int = 0
    pes: int = 0
    profile: str = ""
    freq_hz: float = 0.0
    event_pj: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("watts", "pj_per_mac", "gflops_per_watt"):
            d[k] = _none_if_nan(d[k])
        return d

    def format(self) -> str:
        total = self.joules or 1.0
        parts = sorted(self.breakdown.items(), key=lambda kv: -kv[1])
        watts = "n/a" if self.watts is None else f"{self.watts:.4g} W"
        mac = "n/a" if self.pj_per_mac is None else f"{self.pj_per_mac:.4g} pJ"
        gfw = "n/a" if self.gflops_per_watt is None else f"{self.gflops_per_watt:.4g} GFLOPS/W"
        return "\n".join([
            f"energy {_fmt_j(self.joules)} over {self.cycles:,} cycles on {self.pes} PEs (profile {self.profile}): "
            f"{watts} at {self.freq_hz / 1e6:g} MHz",
            f"per MAC {mac} ({self.macs:,} MACs); {self.flops:,} FLOP; {gfw}",
            "breakdown: " + ", ".join(f"{k} {100 * v / total:.1f} %" for k, v in parts if v),
            f"figures: {self.assumptions.get('target', '')}; see docs/observability.md",
        ])


class EnergyModel:
    def __init__(self, overrides: dict | None = None):
        table = _defaults()
        if overrides:
            _merge(table, overrides)
        _validate(table)
        self.table = table

    @classmethod
    def load(cls, path=None) -> EnergyModel:
        if path is None:
            return cls()
        try:
            with open(path) as f:
                overrides = json.load(f)
        except json.JSONDecodeError as e:
            raise SdkError(f"energy table {path}: not valid JSON: {e}") from None
        try:
            return cls(overrides)
        except ValueError as e:
            raise SdkError(f"{path}: {e}") from None

    def to_dict(self) -> dict:
        return copy.deepcopy(self.table)

    # ---- per-event energies at the target node ----------------------------------------------------
    @property
    def scaling(self) -> dict:
        return {k: float(self.table["scaling"][k]["value"]) for k in _CATEGORIES}

    def _pj(self, name: str) -> float:
        """An event figure at the target node: its value times its category's scaling factor."""
        e = self.table["events"][name]
        return float(e["value"]) * (1.0 if e["scale"] == "none" else self.scaling[e["scale"]])

    @property
    def pe_pitch_mm(self) -> float:
        return float(self.table["events"]["pe_pitch_mm"]["value"])

    def sram_read_pj(self, bank_kib: float) -> float:
        """pJ per 64-bit read of an SRAM bank of ``bank_kib`` KiB, at the target node.

        Piecewise power law through the published 8 KiB / 32 KiB / 1 MiB points: linear in
        log(energy) against log(size), extended past the ends along the nearest segment. Read energy
        grows about as sqrt(size) (exponent 0.5 from 8 to 32 KiB, 0.46 from 32 KiB to 1 MiB): bit and
        word lines lengthen as the square root of the array. A plain linear-in-log(size) curve would
        reach zero at 2 KiB; the power law stays positive for the small banks a PE has."""
        if not bank_kib > 0:
            raise SdkError(f"energy: SRAM bank size {bank_kib} KiB must be > 0")
        pts = [(8.0, self._pj("sram_read_8kib")), (32.0, self._pj("sram_read_32kib")),
               (1024.0, self._pj("sram_read_1mib"))]
        (x0, e0), (x1, e1) = pts[:2] if bank_kib <= 32 else pts[1:]
        t = math.log(bank_kib / x0) / math.log(x1 / x0)
        return math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0)))

    def event_pj(self, profile="small") -> dict:
        """{event: pJ at the target node}: the price of one event of each priced kind, for a profile."""
        p: Profile = get_profile(profile)
        ev = {name: self._pj(name) for name in _LANE_EVENTS.values()}
        bank_kib = p.sram_kib / p.sram_banks
        ev["sram_read"] = self.sram_read_pj(bank_kib)
        ev["sram_write"] = ev["sram_read"] * self._pj("sram_write_over_read")
        # an instruction: its word read from instruction memory (a profile-sized SRAM on the same
        # curve, a fraction bits/64 of a 64-bit read), a register-file access, decode and control
        imem_kib = p.imem_words * 4 / 1024
        ev["instruction"] = (self._pj("instruction_fetch_bits") / 64 * self.sram_read_pj(imem_kib)
                             + self._pj("register_file") + self._pj("decode_control"))
        ev["router_wavelet"] = self._pj("router_per_bit") * WAVELET_BITS
        # fJ/bit/mm x bits x mm -> pJ
        ev["link_wavelet"] = self._pj("wire_per_bit_mm") * 1e-3 * WAVELET_BITS * self.pe_pitch_mm
        ev["idle_pe_cycle"] = self._pj("idle_pe_cycle")
        return ev

    # ---- pricing an activity ---------------------------------------------------------------------
    def breakdown(self, activity, cycles=None, profile="small") -> dict:
        """{component: joules} over the activity (COMPONENTS order)."""
        cycles = _resolve_cycles(activity, cycles)
        ev = self.event_pj(profile)
        out = {}
        for comp, items in _PRICED.items():
            # counts as Python ints (exact), one multiplication per counter
            out[comp] = math.fsum(activity.total(c) * ev[e] for c, e in items) * 1e-12
        out["leakage"] = activity.rows * activity.cols * cycles * ev["idle_pe_cycle"] * 1e-12
        return {k: out[k] for k in COMPONENTS}

    def per_pe(self, activity, cycles=None, profile="small") -> dict:
        """{component: (rows, cols) float array of joules}: the breakdown tile by tile (heat maps)."""
        cycles = _resolve_cycles(activity, cycles)
        ev = self.event_pj(profile)
        shape = (activity.rows, activity.cols)
        out = {}
        for comp, items in _PRICED.items():
            acc = np.zeros(shape)
            for c, e in items:
                acc += activity.counters[c].astype(np.float64) * ev[e]
            out[comp] = acc * 1e-12
        out["leakage"] = np.full(shape, cycles * ev["idle_pe_cycle"] * 1e-12)
        return {k: out[k] for k in COMPONENTS}

    def _assumptions(self, profile: Profile, ev: dict) -> dict:
        s = self.scaling
        bank = profile.sram_kib / profile.sram_banks
        return {
            "target": self.table["target"],
            "scaling": (f"45 nm figures x logic {s['logic']:g}, SRAM {s['sram']:g}, wires {s['wire']:g} "
                        "(sources in the table's scaling section)"),
            "sram": (f"profile {profile.name}: {profile.sram_kib} KiB in {profile.sram_banks} banks of {bank:g} KiB; "
                     f"{ev['sram_read']:.4g} pJ per 64-bit read (power law through 8 KiB / 32 KiB / 1 MiB), "
                     f"write = read x {self._pj('sram_write_over_read'):g}"),
            "instruction": (f"{ev['instruction']:.4g} pJ: a {self._pj('instruction_fetch_bits'):g}-bit fetch from "
                            f"{profile.imem_words * 4 / 1024:g} KiB instruction memory + register file + decode"),
            "router": (f"{ev['router_wavelet']:.4g} pJ per wavelet leaving a router output (links and RAMP; "
                       f"{WAVELET_BITS} bits; a multicast pays per copy)"),
            "links": (f"{ev['link_wavelet']:.4g} pJ per wavelet per link: {self._pj('wire_per_bit_mm'):.4g} fJ/bit/mm "
                      f"x {WAVELET_BITS} bits x {self.pe_pitch_mm:g} mm PE pitch"),
            "leakage": f"{ev['idle_pe_cycle']:.4g} pJ per PE per cycle, every PE, busy or idle",
            "flops": "2 per floating-point MAC lane op + 1 per floating-point add/mul lane op; integer MACs "
                     "count as MACs, not FLOPs",
            "not_modelled": "vector-pipeline registers and control beyond the idle term, data-dependent toggling, "
                            "stalls (only leakage), clock tree beyond the idle term, I/O, host",
        }

    def report(self, activity, cycles=None, profile="small", useful_macs=None, freq_hz=850e6) -> EnergyReport:
        cycles = _resolve_cycles(activity, cycles)
        if not freq_hz > 0:
            raise SdkError(f"energy: freq_hz={freq_hz} must be > 0")
        p = get_profile(profile)
        ev = self.event_pj(p)
        bd = self.breakdown(activity, cycles, p)
        joules = math.fsum(bd.values())
        counted_macs = sum(activity.total(c) for c in _MAC_COUNTERS)
        macs = counted_macs if useful_macs is None else int(useful_macs)
        if macs < 0:
            raise SdkError(f"energy: useful_macs={macs} is negative")
        flops = 2 * sum(activity.total(c) for c in _FP_MAC_COUNTERS) + sum(activity.total(c) for c in _FP_OP_COUNTERS)
        seconds = cycles / freq_hz
        assumptions = self._assumptions(p, ev)
        assumptions["useful_macs"] = ("counted MAC lane operations (every fmac mode)" if useful_macs is None
                                      else f"given by the caller: {macs:,} (counted: {counted_macs:,})")
        chip = self.table["reference"]["chip_pj_per_flop_7nm"]["value"]
        if flops:
            assumptions["cross_check"] = (f"{joules * 1e12 / flops:.3g} pJ/FLOP here against ~{chip:g} pJ/FLOP for a "
                                          "7 nm AI chip at chip level (HFP8)")
        return EnergyReport(
            joules=joules,
            watts=joules / seconds if cycles else None,
            pj_per_mac=joules * 1e12 / macs if macs else None,
            flops=flops,
            gflops_per_watt=flops / joules / 1e9 if joules > 0 else None,
            breakdown=bd, assumptions=assumptions, macs=macs, cycles=cycles,
            pes=activity.rows * activity.cols, profile=p.name, freq_hz=float(freq_hz), event_pj=ev)

    def wafer_projection(self, activity, cycles=None, profile="wse", rows=750, cols=994, freq_hz=850e6) -> dict:
        """Power of a rows x cols wafer whose every PE runs at the measured mean event rates."""
        cycles = _resolve_cycles(activity, cycles)
        if cycles == 0:
            raise SdkError("energy: a wafer projection needs an activity covering at least one cycle")
        if rows < 1 or cols < 1 or not freq_hz > 0:
            raise SdkError(f"energy: rows={rows}, cols={cols}, freq_hz={freq_hz} must be positive")
        p = get_profile(profile)
        measured_pes = activity.rows * activity.cols
        pe_cycles = measured_pes * cycles
        pes = rows * cols
        bd = self.breakdown(activity, cycles, p)
        # J per PE-cycle at the measured mean rates, times PE-cycles per second of the wafer
        by_comp = {k: v / pe_cycles * pes * freq_hz for k, v in bd.items()}
        watts = math.fsum(by_comp.values())
        macs = sum(activity.total(c) for c in _MAC_COUNTERS)
        flops = 2 * sum(activity.total(c) for c in _FP_MAC_COUNTERS) + sum(activity.total(c) for c in _FP_OP_COUNTERS)
        flops_per_s = flops / pe_cycles * pes * freq_hz
        public = float(self.table["reference"]["public_system_watts"]["value"])
        priced = sorted({c for items in _PRICED.values() for c, _ in items})
        return {
            "rows": rows, "cols": cols, "pes": pes, "profile": p.name, "freq_hz": float(freq_hz),
            "measured_mesh": [activity.rows, activity.cols], "measured_cycles": cycles,
            "watts": watts,
            "watts_by_component": by_comp,
            "rates_per_pe_cycle": {c: activity.total(c) / pe_cycles for c in priced},
            "macs_per_pe_cycle": macs / pe_cycles,
            "tflops": flops_per_s / 1e12,
            "gflops_per_watt": flops_per_s / watts / 1e9 if watts > 0 else None,
            "pj_per_mac": watts / (macs / pe_cycles * pes * freq_hz) * 1e12 if macs else None,
            "public_system_watts": public,
            "ratio_to_public_system": watts / public,
            "assumptions": [
                f"every one of the {rows} x {cols} = {pes:,} PEs runs at the mean event rates measured on the "
                f"{activity.rows} x {activity.cols} mesh over {cycles:,} cycles",
                "edge effects ignored (wavelets leaving the measured mesh's edge are priced as ordinary links)",
                f"profile {p.name}: SRAM banks of {p.sram_kib / p.sram_banks:g} KiB, instruction memory "
                f"{p.imem_words * 4 / 1024:g} KiB, priced at the target node ({self.table['target']})",
                f"clock {freq_hz / 1e6:g} MHz; leakage is charged per PE-cycle as in the table",
                "not modelled: I/O and the host, the clock tree beyond the leakage term, power delivery "
                "(regulator and distribution losses), cooling, spare cores",
                f"the public ~{public / 1e3:g} kW CS-3 system figure includes all of those (and a WSE-3 with "
                "SIMD-8 FP16 at up to 1.1 GHz): the ratio compares orders of magnitude, not a calibration",
            ],
        }
