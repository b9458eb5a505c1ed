"""The benches: `python -m bench` lists each one with the first line of its docstring.

A bench is a module of this package that runs as a program (``if __name__ == "__main__":``), run as
``python -m bench.<name>`` from the repository root. The list is read from the sources (nothing is
imported), so it costs no simulator or synthesis import.

    python -m bench                 every bench: name and what it measures
    python -m bench --names         the names alone, one per line
    python -m bench --check NAME    exit 0 if NAME is a bench; else an error listing the benches (exit 2)
    python -m bench --json FILE     the list as JSON too ({name: what it measures})
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _runs_as_main(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [node.test.left, *node.test.comparators]
            if any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and \
                    any(isinstance(n, ast.Constant) and n.value == "__main__" for n in names):
                return True
    return False


def benches() -> dict[str, str]:
    """{name: first line of its module docstring} of every bench, by name."""
    out = {}
    for path in sorted(HERE.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        tree = ast.parse(path.read_text())
        if _runs_as_main(tree):
            doc = (ast.get_docstring(tree) or "").strip()
            out[path.stem] = doc.splitlines()[0] if doc else ""
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--names", action="store_true", help="the bench names alone, one per line")
    ap.add_argument("--check", metavar="NAME", help="exit 0 if NAME is a bench, else list the benches (exit 2)")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write {name: what it measures} as JSON")
    args = ap.parse_args(argv)
    found = benches()
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(found, indent=1) + "\n")
    if args.check is not None:
        if args.check in found:
            return 0
        print(f"error: unknown bench {args.check!r}; the benches: {', '.join(found)}", file=sys.stderr)
        return 2
    if args.names:
        print("\n".join(found))
        return 0
    width = max(map(len, found), default=0)
    for name, line in found.items():
        print(f"{name:<{width}}  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
