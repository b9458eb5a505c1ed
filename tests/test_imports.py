"""The house is one-way (docs/architecture.md "Layers"), checked from the code's own imports (an AST
walk, nothing is imported): golden imports nothing of ours; hdl nothing but hdl; sdk only hdl and
golden; fpga and demo only sdk, hdl and golden; tb and bench the layers below them; no cycle between
packages; project imports at the top of a module; tests import no other test module; no function in
hdl/ longer than 300 lines (a block that long is several components), none in sdk/ longer than 120
(a function that long is several steps, each worth a name)."""

from __future__ import annotations

import ast
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
MAX_SDK_FUNCTION = 120


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


def _functions_longer_than(pkg, limit):
    longest = []
    for path in _modules(pkg):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > limit:
                    longest.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {n} lines")
    return longest


def test_hdl_functions_are_components_not_monoliths():
    longest = _functions_longer_than("hdl", MAX_HDL_FUNCTION)
    assert not longest, longest


def test_sdk_functions_are_named_steps_not_monoliths():
    longest = _functions_longer_than("sdk", MAX_SDK_FUNCTION)
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


def test_the_length_check_counts_a_function_s_lines(tmp_path, monkeypatch):
    """A function of the limit's lines passes, one line more is reported."""
    (tmp_path / "sdk").mkdir()
    body = "    x = 0\n" * (MAX_SDK_FUNCTION - 2)
    fits = f"def fits():\n{body}    return x\n"
    too_long = f"def too_long():\n{body}    x += 1\n    return x\n"
    (tmp_path / "sdk" / "long.py").write_text(fits + "\n\n" + too_long)
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    assert [s.split()[1] for s in _functions_longer_than("sdk", MAX_SDK_FUNCTION)] == ["too_long:"]
