"""Demos: host programs written against the SDK only (never tb/): ``make sim`` (demo/gemm.py), ``make
sim-fabric`` (demo/fabric.py) and the programming guide's example (demo/axpy.py)."""
