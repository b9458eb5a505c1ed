"""AXPY, y = a * x + y in f32 over a row of PEs: the programming guide's worked example.

Written against the SDK only (docs/programming.md walks through it). Runs the same host code on
each engine named and checks that every engine returns the same bits.

Usage:
    python -m demo.axpy [golden] [native] [flat] [fpga-sim] [fpga:/dev/ttyUSB0]   (default: golden native)
"""

import sys

import numpy as np

from sdk import Layout, Runtime, routes

AXPY = """
    .task 1, on_a, A              ; data task: the scalar a arrives on color A
    .dsr  d0, mem.f32, y, len_y, 1
    .dsr  d1, mem.f32, x, len_x, 1
    .text
on_a:
    fmacs.f32 d0, d1, r15         ; y += x * a  (r15 = the wavelet's payload)
    end
"""


def axpy(engine, x, y, a, cols=4):
    lay = Layout(rows=1, cols=cols, profile="small")
    A = lay.color("A")                                  # a free color
    lay.route(A, routes.row_broadcast(from_edge="W"))   # a enters row 0's west link, reaches every PE
    n = len(x) // cols                                  # elements per PE
    prog = lay.program(AXPY, symbols={"x": f"f32[{n}]", "y": f"f32[{n}]"}, params={"A": A})
    lay.place(prog, lay.all())
    with Runtime(lay, engine=engine) as rt:
        rt.h2d("x", x)                                  # n elements to each PE, PEs in row order
        rt.h2d("y", y)
        rt.send("W0", A, np.float32([a]))               # one wavelet: starts the data task everywhere
        rt.run(until="idle")
        return rt.d2h("y")                              # read back through the edge


def main(argv=None) -> int:
    engines = (argv if argv is not None else sys.argv[1:]) or ["golden", "native"]
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(64).astype(np.float32), rng.standard_normal(64).astype(np.float32)
    results = {e: axpy(e, x, y, 0.5) for e in engines}
    for e, out in results.items():
        print(f"{e:>10}: y[:4] = {out[:4]}")
    same = all(np.array_equal(out.view(np.uint32), results[engines[0]].view(np.uint32)) for out in results.values())
    print("identical bits on every engine" if same else "ENGINES DISAGREE")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
