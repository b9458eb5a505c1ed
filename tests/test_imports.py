"""The house is one-way (docs/architecture.md "Layers"), checked from the code's own imports (an AST
walk, nothing is imported): golden imports nothing of ours; hdl nothing but hdl; sdk only hdl and
golden; fpga and demo only sdk, hdl and golden; tb and bench the layers below them; no cycle between
packages; project imports at the top of a module; tests import no other test module; no function in
hdl/ longer than 300 lines (a block that long is several components); every ``TESSERA_*``
environment variable the code reads is in docs/configuration.md's table, and the table names no
other."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = ("golden", "hdl", "sdk", "fpga", "demo", "tb", "bench")
ALLOWED = {
    "golden": set(),
    "hdl": set(),
    "sdk": {"hdl", "golden"},
    "fpga": {"sdk", "hdl", "golden"},
    "demo": {"sdk", "hdl", "golden"},
    "tb": {"sdk", "hdl", "golden", "fpga"},
    "bench": {"tb", "sdk", "hdl", "golden", "fpga"},
}
MAX_HDL_FUNCTION = 300


def _modules(pkg):
    return sorted(p for p in (REPO / pkg).rglob("*.py"))


def _imports(tree, pkg):
    """(top-level package, line, at module top?) of every import of ours (relative ones are
    ``pkg``'s own)."""
    top_nodes = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            names = [pkg]
        for name in names:
            top = name.split(".")[0]
            if top in OURS or top.startswith("test_") or top == "conftest":
                yield top, node.lineno, id(node) in top_nodes


def _edges():
    edges, problems = {}, []
    for pkg in OURS:
        for path in _modules(pkg):
            tree = ast.parse(path.read_text())
            for top, line, at_top in _imports(tree, pkg):
                where = f"{path.relative_to(REPO)}:{line}"
                if top != pkg:
                    edges.setdefault((pkg, top), where)
                    if top not in ALLOWED[pkg]:
                        problems.append(f"{where}: {pkg} imports {top}")
                if not at_top:
                    problems.append(f"{where}: an import of {top} inside a function or block (project imports go "
                                    "at the top of the module)")
    return edges, problems


def test_layers_import_one_way_at_module_top():
    _, problems = _edges()
    assert not problems, "\n".join(problems)


def test_no_cycle_between_packages():
    edges, _ = _edges()
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reaches(a, b, seen=()):
        return any(n == b or (n not in seen and reaches(n, b, seen + (n,))) for n in graph.get(a, ()))

    cycles = [f"{a} <-> {b} ({edges[(a, b)]})" for a, b in edges if reaches(b, a)]
    assert not cycles, cycles


def test_tests_import_no_other_test_module():
    bad = []
    for path in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(m.split(".")[0].startswith("test_") or m.split(".")[0] in ("conftest", "tests") for m in mods):
                bad.append(f"{path.name}:{node.lineno}")
    assert not bad, f"tests importing test modules: {bad}"


def test_hdl_functions_are_components_not_monoliths():
    longest = []
    for path in _modules("hdl"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_HDL_FUNCTION:
                    longest.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {n} lines")
    assert not longest, longest


@pytest.mark.parametrize("source,needle", [
    ("from tb.fabric import FabricHarness\n", "sdk imports tb"),
    ("def f():\n    from hdl.isa import Opcode\n", "inside a function"),
])
def test_the_checker_catches_what_it_should(tmp_path, monkeypatch, source, needle):
    """The rule checker, fed a module that breaks a rule, reports it."""
    fake = tmp_path / "sdk"
    fake.mkdir()
    (fake / "bad.py").write_text(source)
    for pkg in OURS:
        if pkg != "sdk":
            (tmp_path / pkg).mkdir()
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    _, problems = _edges()
    assert any(needle in p for p in problems), problems


# ---- environment variables --------------------------------------------------------------------

_NAME = re.compile(r"TESSERA_[A-Z0-9_]+")
#: Python lines that read (or set, for a process that reads) the environment, and module constants
#: that name a variable for such a line ("WAVES_ENV = 'TESSERA_WAVES'")
_PY_ENV_LINE = re.compile(r"environ|getenv|setenv|^[A-Z_]*_ENV\s*=")
_C_GETENV = re.compile(r"getenv\(\s*\"(TESSERA_[A-Z0-9_]+)\"")


def _environment_variables() -> dict:
    """{name: first file:line} of every TESSERA_* name the code reads from the environment."""
    found = {}
    for path in sorted(p for pkg in (*OURS, "tests") for p in (REPO / pkg).rglob("*") if p.is_file()):
        if path.suffix == ".py":
            lines = [(i, line) for i, line in enumerate(path.read_text().splitlines(), 1)
                     if _PY_ENV_LINE.search(line.strip())]
            names = [(i, n) for i, line in lines for n in _NAME.findall(line)]
        elif path.suffix in (".cpp", ".h"):
            names = [(i, n) for i, line in enumerate(path.read_text().splitlines(), 1) for n in _C_GETENV.findall(line)]
        else:
            continue
        for i, n in names:
            found.setdefault(n, f"{path.relative_to(REPO)}:{i}")
    makefile = (REPO / "Makefile").read_text()
    for n in re.findall(r"\b(TESSERA_[A-Z0-9_]+)=", makefile):
        found.setdefault(n, "Makefile")
    return found


def _documented_variables() -> set:
    text = (REPO / "docs" / "configuration.md").read_text()
    table = text.split("## Environment variables", 1)[1]
    return set(re.findall(r"^\| `(TESSERA_[A-Z0-9_]+)`", table, re.M))


def test_every_environment_variable_is_in_the_configuration_table():
    read, documented = _environment_variables(), _documented_variables()
    assert len(read) >= 10, read  # the scan still finds the variables (os.environ, getenv, *_ENV)
    missing = {n: where for n, where in read.items() if n not in documented}
    assert not missing, f"not in docs/configuration.md's environment table: {missing}"
    stale = documented - set(read)
    assert not stale, f"docs/configuration.md's environment table names variables nothing reads: {sorted(stale)}"
