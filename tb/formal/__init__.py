"""Formal verification: property harnesses (router.py) and the SymbiYosys runner (run.py,
``make formal``). docs/verification.md says what is proven and to what depth."""
