"""cocotb tests for the PE (hdl/pe/) on Verilator: run a file of cases (tb/pe_harness.py) in one
simulator launch and compare each with its golden-model expectation.

Config (from tests/test_pe.py or bench/pe.py through sdk.builds.verilator.tb_config()):
    cases     path of a JSON list of cases (golden_case() dicts)
    results   path where the actual values of every case are written (JSON list)
    profile   the PE profile the PE was built for
    compare   false: only record (benchmarks)
    run_name  names the coverage files this run writes (tb/pe_coverage.py, build/coverage/)
"""

from __future__ import annotations

import json
import random

import cocotb

from hdl.profiles import get_profile
from sdk.builds.verilator import tb_config
from tb.pe_coverage import PeCoverage
from tb.pe_harness import PEHarness, compare


@cocotb.test()
async def run_cases(dut):
    cfg = tb_config()
    cases = json.loads(open(cfg["cases"]).read())
    prof = get_profile(cfg.get("profile", "small"))
    cov = PeCoverage(cfg.get("profile", "small"))
    h = PEHarness(dut, prof.colors, random.Random(cfg.get("seed", 1)), coverage=cov)
    await h.start()
    results, failures = [], []
    for case in cases:
        h.rng.seed(case.get("seed", 0))
        actual = await h.run_case(case)
        bad = [] if not cfg.get("compare", True) else compare(case, actual)
        if actual["timeout"] and case["expect"]["result"] != "waiting":
            bad.insert(0, f"timeout after {case['max_cycles']} cycles")
        actual["mismatches"] = bad
        actual["name"] = case["name"]
        results.append(actual)
        if bad:
            failures.append(f"case {case['name']} (seed {case.get('seed')}):\n  " + "\n  ".join(bad)
                            + (f"\nprogram:\n{case['source']}\ninputs: {case['inputs']}" if case.get("source") else ""))
            dut._log.error(failures[-1])
    with open(cfg["results"], "w") as fh:
        json.dump(results, fh)
    cov.save(cfg.get("run_name", "pe"))
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures[:5])
