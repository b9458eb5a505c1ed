"""Elaborate configurations of a block to RTLIL (run in a subprocess over a mutant's overlay).

    python -P -m tb.mutate.elab OUT_DIR '[["name", "module", "expression"], ...]'

For each configuration it imports ``module`` (from the overlay first on PYTHONPATH), evaluates
``expression`` in the module's namespace and writes OUT_DIR/<name>.il with the ``src`` attributes
removed (they name the overlay's path and the source lines, which a mutant may shift), so two
designs compare equal exactly when their netlists do. Exit status 3 with the traceback on stderr
when a configuration does not elaborate (the mutant is stillborn).
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["rtlil_text", "main"]


def rtlil_text(design) -> str:
    text = rtlil.convert(design, name="top")
    return "".join(line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("attribute \\src "))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    out, configs = Path(argv[0]), json.loads(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    try:
        for name, module, expression in configs:
            namespace = vars(importlib.import_module(module))
            (out / f"{name}.il").write_text(rtlil_text(eval(expression, dict(namespace))))
    except BaseException:  # noqa: B036 -- any failure to elaborate makes the mutant stillborn
        traceback.print_exc()
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
