"""Mutation testing of the RTL (`make mutate`, docs/verification.md "Mutation testing").

A mutant is the Amaranth source of one block with one small change made by a mutation operator
(``operators.py``); the block's kill tests (fast Amaranth-simulator unit tests, ``blocks.py``) run
against it in an overlay copy of the ``hdl`` package (``run.py``). A mutant the tests do not kill
is checked for equivalence with the original (identical RTLIL, a Yosys ``equiv_*`` proof or a
documented argument, ``equiv.py``); a survivor that is not equivalent is a hole in the tests.

Modules:
    operators.py   mutation operators and the sites they apply to
    blocks.py      the blocks: source files, kill tests, the configurations elaborated
    elab.py        subprocess entry: elaborate a block's configurations to RTLIL
    equiv.py       equivalence of an original and a mutant RTLIL with Yosys
    run.py         the command line: sample, run, classify, write build/mutate/<block>.json
"""
