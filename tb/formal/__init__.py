"""Formal verification: property harnesses of the router (router.py), the management loader
(mgmt.py) and the host bridge's frame decoder (bridge.py), shared helpers (common.py) and the
SymbiYosys runner (run.py, ``make formal``). docs/verification.md says what is proven and to what
depth."""
