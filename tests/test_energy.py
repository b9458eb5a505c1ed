"""The activity-based energy model (sdk/energy.py): every event priced as the default table says,
the breakdown adds up, overrides merge and bad ones are refused by name, the report's derived
figures and the wafer projection's scaling. Synthetic activities only: no simulator."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hdl.probe import COUNTER_NAMES, LINK_COUNTERS, PROBE
from hdl.profiles import get_profile
from hdl.wavelet import WAVELET_BITS
from sdk.activity import Activity
from sdk.energy import COMPONENTS, DEFAULTS_PATH, EnergyModel

with open(DEFAULTS_PATH) as _f:
    T = json.load(_f)


def scaled(name: str) -> float:
    """An event figure of the default table at the target node, in pJ."""
    e = T["events"][name]
    return e["value"] * (1.0 if e["scale"] == "none" else T["scaling"][e["scale"]]["value"])


def sram_read(kib: float) -> float:
    """The table's power law through the 8 KiB / 32 KiB / 1 MiB points (log energy vs log size)."""
    pts = [(8, scaled("sram_read_8kib")), (32, scaled("sram_read_32kib")), (1024, scaled("sram_read_1mib"))]
    (x0, e0), (x1, e1) = pts[:2] if kib <= 32 else pts[1:]
    return e0 * (kib / x0) ** (math.log(e1 / e0) / math.log(x1 / x0))


def instruction(profile: str) -> float:
    p = get_profile(profile)
    return (T["events"]["instruction_fetch_bits"]["value"] / 64 * sram_read(p.imem_words * 4 / 1024)
            + scaled("register_file") + scaled("decode_control"))


ROUTER = scaled("router_per_bit") * WAVELET_BITS
LINK = scaled("wire_per_bit_mm") * 1e-3 * WAVELET_BITS * T["events"]["pe_pitch_mm"]["value"]


def activity(rows=2, cols=3, cycles=0, **counts) -> Activity:
    """Counters given per tile (an array) or as one value for every tile."""
    counters = {n: np.zeros((rows, cols), dtype=np.int64) for n in COUNTER_NAMES}
    for name, v in counts.items():
        counters[name] = np.broadcast_to(np.asarray(v, dtype=np.int64), (rows, cols)).copy()
    zero = np.zeros((rows, cols), dtype=np.int64)
    return Activity(rows, cols, counters, zero, zero.copy(), zero.copy(), cycles)


# counter -> {component: pJ per event} for the "wse" profile
def expected_prices(profile: str) -> dict:
    p = get_profile(profile)
    bank = p.sram_kib / p.sram_banks
    lane = {"lanes_fmac_f32_f16": ("fmac", "fmac_f32_f16"), "lanes_fmac_f32": ("fmac", "fmac_f32"),
            "lanes_fmac_f16": ("fmac", "fmac_f16"), "lanes_mac_i32_i16": ("fmac", "mac_i32_i16"),
            "lanes_add_f16": ("fp_add_mul", "add_f16"), "lanes_add_f32": ("fp_add_mul", "add_f32"),
            "lanes_mul_f16": ("fp_add_mul", "mul_f16"), "lanes_mul_f32": ("fp_add_mul", "mul_f32"),
            "lanes_int": ("int", "int_op")}
    out = {c: {comp: scaled(ev)} for c, (comp, ev) in lane.items()}
    out["sram_rd0"] = out["sram_rd1"] = {"sram_read": sram_read(bank)}
    out["sram_wr"] = {"sram_write": sram_read(bank) * scaled("sram_write_over_read")}
    out["instructions"] = {"instructions": instruction(profile)}
    out["to_ramp"] = {"router": ROUTER}
    for c in LINK_COUNTERS:
        out[c] = {"router": ROUTER, "links": LINK}
    return out


PRICES = expected_prices("wse")
UNPRICED = [n for n in COUNTER_NAMES if n not in PRICES]


@pytest.mark.parametrize("counter", sorted(PRICES))
def test_each_event_is_priced_as_the_table_says(counter):
    n = np.array([[1, 2, 3], [40, 0, 7]])
    bd = EnergyModel().breakdown(activity(**{counter: n}), profile="wse")
    want = {comp: int(n.sum()) * pj * 1e-12 for comp, pj in PRICES[counter].items()}
    for comp in COMPONENTS:
        assert bd[comp] == pytest.approx(want.get(comp, 0.0), rel=1e-12, abs=0), comp


@pytest.mark.parametrize("counter", UNPRICED)
def test_other_counters_cost_nothing_but_leakage(counter):
    bd = EnergyModel().breakdown(activity(**{counter: 1000}), profile="wse")
    assert all(v == 0 for v in bd.values())


def test_probe_words_decode_into_the_same_prices():
    """An activity decoded from packed probe words (as an engine reads it) is priced alike."""
    counts = {"lanes_fmac_f32_f16": 4000, "sram_rd0": 900, "sram_rd1": 100, "sram_wr": 500, "instructions": 30,
              "link_e": 17, "to_ramp": 9}
    word = PROBE.pack(**{f"counters.{k}": v for k, v in counts.items()})
    act = Activity.from_ints(2, 2, [word] * 4)
    act.cycles = 2000
    bd = EnergyModel().breakdown(act, profile="small")
    prices = expected_prices("small")
    want = {comp: 0.0 for comp in COMPONENTS}
    for c, v in counts.items():
        for comp, pj in prices[c].items():
            want[comp] += 4 * v * pj * 1e-12
    want["leakage"] = 4 * 2000 * scaled("idle_pe_cycle") * 1e-12
    assert bd == pytest.approx(want, rel=1e-12)


def test_leakage_charges_every_pe_every_cycle():
    m = EnergyModel()
    bd = m.breakdown(activity(rows=3, cols=5), cycles=1234)
    assert bd["leakage"] == pytest.approx(15 * 1234 * scaled("idle_pe_cycle") * 1e-12, rel=1e-12)
    assert sum(v for k, v in bd.items() if k != "leakage") == 0


def test_cycles_come_from_the_activity_or_the_caller():
    m = EnergyModel()
    a = activity(cycles=None)
    with pytest.raises(ValueError, match="cycles"):
        m.breakdown(a)
    assert m.breakdown(a, cycles=10)["leakage"] == pytest.approx(6 * 10 * scaled("idle_pe_cycle") * 1e-12)
    a.cycles = 20
    assert m.breakdown(a)["leakage"] == pytest.approx(6 * 20 * scaled("idle_pe_cycle") * 1e-12)


def _busy(rows=2, cols=3, cycles=5000):
    rng = np.random.default_rng(7)
    counts = {n: rng.integers(0, 4 * cycles, size=(rows, cols)) for n in COUNTER_NAMES}
    return activity(rows, cols, cycles, **counts)


def test_breakdown_sums_to_the_total_and_per_pe_agrees():
    m = EnergyModel()
    a = _busy()
    bd = m.breakdown(a, profile="wse")
    assert list(bd) == list(COMPONENTS)
    r = m.report(a, profile="wse")
    assert r.breakdown == bd
    assert math.fsum(bd.values()) == pytest.approx(r.joules, rel=1e-15)
    tiles = m.per_pe(a, profile="wse")
    for comp in COMPONENTS:
        assert tiles[comp].shape == (2, 3)
        assert tiles[comp].sum() == pytest.approx(bd[comp], rel=1e-12)


def test_report_arithmetic():
    m = EnergyModel()
    a = activity(rows=2, cols=2, cycles=1000, lanes_fmac_f32_f16=3000, lanes_fmac_f32=500, lanes_mac_i32_i16=100,
                 lanes_add_f32=40, lanes_mul_f16=10, lanes_int=77, sram_rd0=800, sram_wr=400)
    r = m.report(a, profile="wse", freq_hz=500e6)
    macs = 4 * (3000 + 500 + 100)
    assert r.macs == macs
    assert r.flops == 4 * (2 * (3000 + 500) + 40 + 10)  # integer MACs are not FLOPs
    assert r.pj_per_mac == pytest.approx(r.joules * 1e12 / macs)
    assert r.watts == pytest.approx(r.joules / (1000 / 500e6))
    assert r.gflops_per_watt == pytest.approx(r.flops / r.joules / 1e9)
    # the same work at another clock: watts scale, per-MAC and per-FLOP figures do not
    r2 = m.report(a, profile="wse", freq_hz=1e9)
    assert r2.watts == pytest.approx(2 * r.watts) and r2.pj_per_mac == pytest.approx(r.pj_per_mac)
    useful = m.report(a, profile="wse", useful_macs=1000)
    assert useful.pj_per_mac == pytest.approx(r.joules * 1e12 / 1000)
    for key in ("target", "scaling", "sram", "instruction", "router", "links", "leakage", "useful_macs"):
        assert isinstance(r.assumptions[key], str) and r.assumptions[key]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["joules"] == pytest.approx(r.joules) and set(d["breakdown"]) == set(COMPONENTS)
    text = r.format()
    assert "pJ" in text and "W" in text and len(text.splitlines()) >= 3


def test_report_without_macs_or_cycles():
    r = EnergyModel().report(activity(cycles=0, sram_rd0=10))
    assert r.pj_per_mac is None and r.watts is None and r.flops == 0
    assert json.dumps(r.to_dict())
    r.format()


def test_sram_energy_follows_the_bank_size_of_the_profile():
    m = EnergyModel()
    small, wse = get_profile("small"), get_profile("wse")
    kib_small, kib_wse = small.sram_kib / small.sram_banks, wse.sram_kib / wse.sram_banks
    assert kib_small != kib_wse
    # exact at the published points, a power law between them
    for kib, name in ((8, "sram_read_8kib"), (32, "sram_read_32kib"), (1024, "sram_read_1mib")):
        assert m.sram_read_pj(kib) == pytest.approx(scaled(name), rel=1e-12)
    exponent = math.log(scaled("sram_read_32kib") / scaled("sram_read_8kib")) / math.log(4)
    assert m.sram_read_pj(kib_wse) / m.sram_read_pj(kib_small) == pytest.approx((kib_wse / kib_small) ** exponent)
    a = activity(sram_rd1=1000)
    assert (m.breakdown(a, profile="wse")["sram_read"] / m.breakdown(a, profile="small")["sram_read"]
            == pytest.approx(sram_read(kib_wse) / sram_read(kib_small)))
    assert m.sram_read_pj(64) == pytest.approx(sram_read(64))


def test_overrides_merge_onto_the_defaults(tmp_path):
    base = EnergyModel()
    m = EnergyModel({"events": {"fmac_f32": {"value": 1.25, "source": "my synthesis"},
                                "add_f16": 0.3},  # a bare number is the value
                     "scaling": {"logic": 0.1}})
    assert m.table["events"]["fmac_f32"]["source"] == "my synthesis"
    assert m.table["events"]["fmac_f32"]["unit"] == "pJ"
    assert m.event_pj()["fmac_f32"] == pytest.approx(1.25 * 0.1)
    assert m.event_pj()["add_f16"] == pytest.approx(0.3 * 0.1)
    assert m.event_pj()["sram_read"] == base.event_pj()["sram_read"]  # untouched
    # a figure already at the target node
    m = EnergyModel({"events": {"idle_pe_cycle": {"value": 1.0}, "mul_f32": {"value": 0.2, "scale": "none"}}})
    assert m.event_pj()["idle_pe_cycle"] == 1.0 and m.event_pj()["mul_f32"] == 0.2
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"events": {"pe_pitch_mm": {"value": 0.5}}}))
    loaded = EnergyModel.load(path)
    assert loaded.pe_pitch_mm == 0.5
    assert loaded.event_pj()["link_wavelet"] == pytest.approx(LINK / T["events"]["pe_pitch_mm"]["value"] * 0.5)
    assert EnergyModel.load().table == base.table == T


@pytest.mark.parametrize("override, needle", [
    ({"evnts": {}}, "evnts"),
    ({"events": {"fmac_f64": 1.0}}, "fmac_f64"),
    ({"events": {"fmac_f32": {"valu": 1.0}}}, "valu"),
    ({"events": {"fmac_f32": -1.0}}, "events.fmac_f32"),
    ({"events": {"add_f16": 0}}, "events.add_f16"),
    ({"events": {"sram_read_8kib": float("nan")}}, "events.sram_read_8kib"),
    ({"events": {"mul_f16": 1e9}}, "events.mul_f16"),
    ({"events": {"mul_f16": "1.1"}}, "events.mul_f16"),
    ({"events": {"mul_f16": True}}, "events.mul_f16"),
    ({"events": {"mul_f16": {"scale": "dram"}}}, "events.mul_f16.scale"),
    ({"events": {"mul_f16": {"unit": "fJ"}}}, "events.mul_f16.unit"),
    ({"events": {"instruction_fetch_bits": 31.5}}, "events.instruction_fetch_bits"),
    ({"scaling": {"sram": 500}}, "scaling.sram"),
    ({"scaling": {"wire": {"scale": "logic"}}}, "scale"),
    ({"reference": {"public_system_watts": -5}}, "reference.public_system_watts"),
    ({"events": 3}, "events"),
    ({"target": 7}, "target"),
])
def test_bad_overrides_are_refused_by_name(override, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        EnergyModel(override)


def test_bad_override_file_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"events": {"router_per_bit": 0}}))
    with pytest.raises(ValueError, match=r"bad\.json.*events\.router_per_bit"):
        EnergyModel.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        EnergyModel.load(path)


def test_wafer_projection_scales_linearly_with_pe_count():
    m = EnergyModel()
    a = _busy()
    w1 = m.wafer_projection(a, rows=100, cols=100)
    w2 = m.wafer_projection(a, rows=200, cols=100)
    assert w2["watts"] == pytest.approx(2 * w1["watts"], rel=1e-12)
    for comp in COMPONENTS:
        assert w2["watts_by_component"][comp] == pytest.approx(2 * w1["watts_by_component"][comp], rel=1e-12)
    # per PE-cycle energy of the measured run, times the wafer's PE-cycles per second
    bd = m.breakdown(a, profile="wse")
    pe_cycles = a.rows * a.cols * a.cycles
    assert w1["watts"] == pytest.approx(math.fsum(bd.values()) / pe_cycles * 100 * 100 * 850e6, rel=1e-12)
    assert math.fsum(w1["watts_by_component"].values()) == pytest.approx(w1["watts"], rel=1e-15)
    assert m.wafer_projection(a, rows=100, cols=100, freq_hz=425e6)["watts"] == pytest.approx(w1["watts"] / 2)


def test_wafer_projection_depends_on_rates_not_on_the_measured_mesh_size():
    m = EnergyModel()
    per_pe = dict(lanes_fmac_f32_f16=7000, sram_rd0=2600, sram_wr=1700, instructions=90, link_s=400, to_ramp=300)
    small_mesh = activity(rows=2, cols=2, cycles=4000, **per_pe)
    big_mesh = activity(rows=8, cols=8, cycles=4000, **per_pe)
    a, b = m.wafer_projection(small_mesh), m.wafer_projection(big_mesh)
    assert a["watts"] == pytest.approx(b["watts"], rel=1e-12)
    assert a["pes"] == 750 * 994 and a["profile"] == "wse"
    assert a["public_system_watts"] == 23000
    assert a["ratio_to_public_system"] == pytest.approx(a["watts"] / 23000)
    assert a["macs_per_pe_cycle"] == pytest.approx(7000 / 4000)
    assert a["pj_per_mac"] == pytest.approx(m.report(small_mesh, profile="wse").pj_per_mac, rel=1e-12)
    text = " ".join(a["assumptions"])
    for needle in ("mean", "edge", "KiB", "I/O", "clock tree", "cooling", "23 kW"):
        assert needle in text
    json.dumps(a)
    with pytest.raises(ValueError, match="cycle"):
        m.wafer_projection(activity(cycles=0))


def test_default_table_states_its_figures():
    for section in ("scaling", "events", "reference"):
        for name, e in T[section].items():
            assert e["source"].strip() and e["unit"], f"{section}.{name}"
    # the derivations the sources state
    assert T["events"]["pe_pitch_mm"]["value"] == pytest.approx(math.sqrt(46225 / 850_000), abs=1e-4)
    hp45 = 1.018 - 0.3107 + 0.1539
    hp7 = 0.1776 * 0.7**2 - 0.09097 * 0.7 + 0.02447
    assert T["scaling"]["logic"]["value"] == pytest.approx(hp7 / hp45, rel=1e-3)
    assert T["scaling"]["wire"]["value"] == pytest.approx(0.7**2)
    assert T["scaling"]["sram"]["value"] == pytest.approx(math.sqrt(0.027 / 0.346) * 0.49, rel=2e-3)
    ev = T["events"]
    assert ev["fmac_f32_f16"]["value"] == pytest.approx(ev["mul_f16"]["value"] + ev["add_f32"]["value"])
    assert ev["fmac_f32"]["value"] == pytest.approx(ev["mul_f32"]["value"] + ev["add_f32"]["value"])
    assert ev["fmac_f16"]["value"] == pytest.approx(ev["mul_f16"]["value"] + ev["add_f16"]["value"])
    hops = 2 * 4 / 3
    assert ev["router_per_bit"]["value"] == pytest.approx((0.6 - hops * 0.040 * 1.0) / (hops + 1), rel=1e-3)
