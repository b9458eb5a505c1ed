"""The house is one-way (docs/architecture.md "Layers"), checked from the code's own imports (an AST
walk, nothing is imported): golden imports nothing of ours; hdl nothing but hdl; sdk only hdl and
golden; fpga and demo only sdk, hdl and golden; tb and bench the layers below them; no cycle between
packages; project imports at the top of a module; tests import no other test module; no function in
hdl/ longer than 300 lines (a block that long is several components), none in sdk/ longer than 120
(a function that long is several steps, each worth a name); no module of the programs (bench,
demo, fpga) edits sys.path: they run as ``python -m <package>.<name>`` from the repository root;
``import sdk`` loads no cocotb (the simulator side imports it); every ``TESSERA_*`` environment
variable the code reads is in docs/configuration.md's table, and the table names no other.

Inside sdk (docs/architecture.md, the sdk's three rooms): sdk/builds (simulator builds) imports none of
sdk's kernels, runtime, layout, collectives, engines or simulator side (sdk/cosim); no module of sdk
outside sdk/cosim imports sdk.cosim, and cocotb is imported at module level only in sdk/cosim and tb
(sdk/builds launches simulators with cocotb's runner, imported inside the functions that do); the
programs and testbenches (demo, bench, fpga, tb) import no ``_private`` name or module from sdk."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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
PROGRAMS = ("bench", "demo", "fpga")
#: code handed to another interpreter (``python -c``) that edits sys.path
SYS_PATH_IN_TEXT = re.compile(r"sys\.path\s*(\.\s*(insert|append|extend|remove|pop|clear)\b|\[[^]]*\]\s*=|\+=|=[^=])")
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


def _is_sys_path(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(node.value, ast.Name) \
        and node.value.id == "sys"


def _sys_path_edits(tree):
    """Lines where a module edits sys.path: a call of one of its methods, an assignment to it or to
    a slice of it, ``from sys import path``, or code in a string that does one of these."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_sys_path(node.func.value):
            yield node.lineno
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_sys_path(t) or (isinstance(t, ast.Subscript) and _is_sys_path(t.value)) for t in targets):
                yield node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "path" for a in node.names):
            yield node.lineno
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SYS_PATH_IN_TEXT.search(node.value):
            yield node.lineno


def _programs_editing_sys_path():
    return [f"{path.relative_to(REPO)}:{line}" for pkg in PROGRAMS for path in _modules(pkg)
            for line in _sys_path_edits(ast.parse(path.read_text()))]


def test_programs_do_not_edit_sys_path():
    """bench, demo and fpga run as ``python -m <package>.<name>`` from the repository root, so they
    import the project without putting it on sys.path."""
    bad = _programs_editing_sys_path()
    assert not bad, f"modules editing sys.path (run them with python -m instead): {bad}"


@pytest.mark.parametrize("source,edits", [
    ("import sys\nsys.path.insert(0, '..')\n", True),
    ("import sys\nsys.path.append('x')\n", True),
    ("import sys\nsys.path[:0] = ['x']\n", True),
    ("import sys\nsys.path += ['x']\n", True),
    ("import sys\nsys.path = ['x']\n", True),
    ("from sys import path\n", True),
    ("CHILD = 'import sys\\nsys.path.insert(0, {repo!r})\\n'\n", True),
    ("import sys\nprint(sys.path[0], len(sys.path) == 1)\n", False),
    ('"""Runs as python -m bench.x: no sys.path edits; sys.path == [] is a test."""\n', False),
])
def test_the_sys_path_checker_catches_what_it_should(tmp_path, monkeypatch, source, edits):
    for pkg in OURS:
        (tmp_path / pkg).mkdir()
    (tmp_path / "bench" / "x.py").write_text(source)
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    assert bool(_programs_editing_sys_path()) == edits, _programs_editing_sys_path()


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


def test_import_sdk_needs_no_cocotb():
    """The SDK's host side runs where cocotb is not installed: ``import sdk`` with cocotb made
    unimportable succeeds and loads no module of cocotb's (the simulator side imports it)."""
    probe = ("import sys\n"
             "class NoCocotb:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('cocotb', 'cocotb_tools'):\n"
             "            raise ImportError('cocotb is not installed')\n"
             "sys.meta_path.insert(0, NoCocotb())\n"
             "import sdk, sdk.runtime, sdk.collectives, sdk.kernels, sdk.pgo_training\n"
             "import sdk.builds.engine_builds, sdk.builds.mpi_ranks, sdk.engines.bridge, sdk.engines.sim\n"
             "print(sorted(m for m in sys.modules if m.startswith('cocotb')))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout


#: what sdk/builds may not import: the SDK above it and the simulator side
BUILDS_MAY_NOT = ("sdk.kernels", "sdk.runtime", "sdk.layout", "sdk.collectives", "sdk.cosim", "sdk.engines")
COSIM = "sdk.cosim"
COCOTB = ("cocotb", "cocotb_tools")
#: the packages where cocotb may be imported at module level (they run inside the simulator)
COCOTB_HOMES = ("sdk/cosim", "tb")
PUBLIC_ONLY = ("demo", "bench", "fpga", "tb")


def _dotted(path: Path) -> list[str]:
    """The module's dotted name as a list: sdk/builds/engine_builds.py -> ["sdk", "builds", "engine_builds"]."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _full_imports(path: Path, tree):
    """(dotted name, imported names, line, at module level?) of every import, relative ones
    resolved against ``path``; at module level means outside any function (run on import)."""
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path)[:-1]
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, [], node.lineno, id(node) not in in_function
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, [a.name for a in node.names], node.lineno, id(node) not in in_function


def _within(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _sdk_room_problems():
    problems = []
    for pkg in OURS:
        for path in _modules(pkg):
            rel = path.relative_to(REPO)
            in_sdk, in_builds = rel.parts[0] == "sdk", rel.parts[:2] == ("sdk", "builds")
            in_cosim = rel.parts[:2] == ("sdk", "cosim")
            for module, names, line, module_level in _full_imports(path, ast.parse(path.read_text())):
                where = f"{rel}:{line}"
                # ``from sdk import cosim`` names a module too
                targets = [module] + [f"{module}.{n}" for n in names]
                if in_builds and any(_within(t, BUILDS_MAY_NOT) for t in targets):
                    problems.append(f"{where}: sdk/builds imports {module} (the SDK above the builds: the "
                                    "caller passes in what a build needs)")
                if in_sdk and not in_cosim and any(_within(t, (COSIM,)) for t in targets):
                    problems.append(f"{where}: {module} imported outside sdk/cosim (the simulator side: "
                                    "named by string where a simulator runs it)")
                if _within(module, COCOTB) and module_level and not any(
                        rel.as_posix().startswith(home + "/") for home in COCOTB_HOMES):
                    problems.append(f"{where}: cocotb imported at module level outside {' and '.join(COCOTB_HOMES)}")
                if rel.parts[0] in PUBLIC_ONLY and _within(module, ("sdk",)):
                    private = [p for p in module.split(".") + names
                               if p.startswith("_") and not (p.startswith("__") and p.endswith("__"))]
                    if private:
                        problems.append(f"{where}: {rel.parts[0]} imports {', '.join(private)} from {module} "
                                        "(private to the sdk: use its public names)")
    return problems


def test_sdk_rooms_and_public_names():
    problems = _sdk_room_problems()
    assert not problems, "\n".join(problems)


def _room_problems_of(tmp_path, monkeypatch, where, source):
    """The sdk room checker's problems in a tree of empty packages holding one module."""
    for pkg in OURS:
        (tmp_path / pkg).mkdir()
    module = tmp_path / where
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(source)
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    return _sdk_room_problems()


@pytest.mark.parametrize("where,source,needle", [
    ("sdk/builds/bad.py", "from ..kernels.cases import gemm_case\n", "sdk/builds imports sdk.kernels"),
    ("sdk/builds/bad.py", "from .. import runtime\n", "sdk/builds imports sdk"),
    ("sdk/builds/bad.py", "from sdk.cosim.edge import EdgeHarness\n", "sdk/builds imports sdk.cosim"),
    ("sdk/engines/bad.py", "from ..cosim import sim_server\n", "imported outside sdk/cosim"),
    ("sdk/bad.py", "import cocotb\n", "cocotb imported at module level"),
    ("sdk/builds/bad.py", "try:\n    from cocotb.triggers import Timer\nexcept ImportError:\n    pass\n",
     "cocotb imported at module level"),
    ("bench/bad.py", "from sdk.builds.verilator import _locked\n", "bench imports _locked"),
    ("demo/bad.py", "from sdk.builds._hidden import x\n", "demo imports _hidden"),
])
def test_the_room_checker_catches_what_it_should(tmp_path, monkeypatch, where, source, needle):
    """The sdk room checker, fed a module that breaks a rule, reports it."""
    problems = _room_problems_of(tmp_path, monkeypatch, where, source)
    assert any(needle in p for p in problems), problems


@pytest.mark.parametrize("where,source", [
    ("sdk/builds/ok.py", "def f():\n    import cocotb\n    from cocotb_tools.runner import get_runner\n"),
    ("sdk/cosim/ok.py", "import cocotb\nfrom ..builds.verilator import tb_config\n"),
    ("sdk/engines/ok.py", "from ..builds.engine_builds import mesh_build\n"),
    ("tb/ok.py", "import cocotb\nfrom sdk.cosim.edge import EdgeHarness\nfrom sdk.builds.paths import BUILD\n"),
    ("bench/ok.py", "from sdk.builds.paths import BUILD\nfrom sdk import __version__\n"),
])
def test_the_room_checker_passes_what_it_should(tmp_path, monkeypatch, where, source):
    assert _room_problems_of(tmp_path, monkeypatch, where, source) == []


def test_the_length_check_counts_a_function_s_lines(tmp_path, monkeypatch):
    """A function of the limit's lines passes, one line more is reported."""
    (tmp_path / "sdk").mkdir()
    body = "    x = 0\n" * (MAX_SDK_FUNCTION - 2)
    fits = f"def fits():\n{body}    return x\n"
    too_long = f"def too_long():\n{body}    x += 1\n    return x\n"
    (tmp_path / "sdk" / "long.py").write_text(fits + "\n\n" + too_long)
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    assert [s.split()[1] for s in _functions_longer_than("sdk", MAX_SDK_FUNCTION)] == ["too_long:"]


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


#: the README's "Layout" table names every module of these folders; bench/ is listed by
#: ``python -m bench`` itself, and tests/ are the pytest entry points
INDEXED = ("golden", "hdl", "sdk", "demo", "fpga", "tb")


def _package_members(folder: Path) -> list[str]:
    return sorted({p.stem for p in folder.glob("*.py") if p.stem not in ("__init__", "__main__")}
                  | {p.name for p in folder.iterdir() if (p / "__init__.py").exists()})


def test_folder_indexes_name_every_module():
    """The README's Layout row of each package names each of its modules (`name.py` or `name/`),
    and each sub-package's docstring names each of its modules: an index a newcomer can trust."""
    readme = (REPO / "README.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)/` \| (.*) \|$", readme, re.M)}
    missing = []
    for pkg in INDEXED:
        missing += [f"README.md Layout row {pkg}/: {n}" for n in _package_members(REPO / pkg)
                    if not re.search(rf"`{n}(\.py|/)`", rows.get(pkg, ""))]
        for init in sorted((REPO / pkg).glob("*/__init__.py")):
            doc = ast.get_docstring(ast.parse(init.read_text())) or ""
            missing += [f"{init.relative_to(REPO)} docstring: {n}" for n in _package_members(init.parent)
                        if not re.search(rf"\b{n}\b", doc)]
    assert not missing, "modules missing from their folder's index:\n" + "\n".join(missing)
