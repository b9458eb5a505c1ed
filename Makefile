# Tessera — the two commands are `make sim` and `make test`; both set up .venv from pyproject.toml.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tessera-installed
MPI_STAMP := $(VENV)/.tessera-mpi-installed

# `make sim` knobs: mesh, GEMM shape (C = A.B, A is M x K), input type, GEMV density
ROWS     ?= 4
COLS     ?= 4
M        ?= 64
K        ?= 64
N        ?= 64
DTYPE    ?= f16
PROFILE  ?= small
DENSITY  ?= 0.1
SEED     ?= 1
WAVES    ?= 0
# TRACE=1: a Perfetto timeline of the GEMM's first TRACE_CYCLES cycles; ENERGY=file.json overrides
# the energy table (docs/observability.md)
TRACE    ?= 0
TRACE_CYCLES ?= 4000
ENERGY   ?=
# WAFER="--spares 1/4 --defect-rate 0.02 --die 2x4": run on a repaired wafer with dies (docs/wafer.md)
WAFER    ?=
# RANKS=N: the native mesh in bands of rows over N MPI ranks (docs/mesh.md); installs the mpi extra
RANKS    ?= 1
# `make decode PRESET=wse`: the decode's named configuration (bench/decode.py --preset; small or wse)
PRESET   ?= small
# `make sim-fabric` knob
WAVELETS ?= 20000
# pytest-xdist workers for `make test`
JOBS     ?= 2

.PHONY: all sim sim-fabric test test-quick test-all verilog lint wave bench decode formal mutate fpga clean distclean venv help

all: help

help:
	@echo "make sim      GEMM + sparse GEMV on a PE mesh, bit-exact vs golden, heat maps and energy (ROWS COLS M K N DTYPE PROFILE DENSITY SEED WAVES=1 TRACE=1 ENERGY=file.json WAFER=\"...\" RANKS=n)"
	@echo "make sim-fabric  fabric traffic demo vs the golden routing model (ROWS COLS PROFILE WAVELETS SEED WAVES=1)"
	@echo "make test     the regression CI runs: everything but the slow tests (pytest -n $(JOBS); docs/verification.md \"Test tiers\")"
	@echo "make test-quick  no simulator: golden models, RTL units in Amaranth's simulator, SDK in pure Python, import rules (under 3 min)"
	@echo "make test-all the regression and the slow tests (large meshes, soaks)"
	@echo "make verilog  emit Verilog under build/verilog"
	@echo "make lint     verilator --lint-only -Wall on the emitted Verilog, and ruff"
	@echo "make wave TEST=tests/test_router.py::'test_router[fair_arbitration-small]'   rerun one test with FST waves"
	@echo "make bench [BENCH=name ARGS=\"...\"]   a bench (python -m bench.<name> ARGS) into build/bench/; default fabric:"
	@$(PYTHON) -m bench | sed 's/^/    /'
	@echo "make decode   transformer decode on an 8x8 mesh, bit-exact vs golden: tokens, cycles/token, tokens/s, tokens/J (build/bench/decode.json; PRESET=wse: the larger model on 8x8 wse, decode_wse.json)"
	@echo "make formal   router, loader and bridge properties proven with SymbiYosys (build/formal/summary.json; installs the formal extra for z3)"
	@echo "make mutate [BLOCK=router|mgmt|fpu|bridge|pe] [SAMPLE=n SEED=s]   mutation testing of the RTL against its unit tests (build/mutate/<block>.json; fails below 90 % killed)"
	@echo "make fpga BOARD=ulx3s [ROWS=1 COLS=1 PROFILE=fpga FREQ=MHz FABRIC=1]   bitstream under build/fpga/ (docs/fpga.md)"
	@echo "make clean    remove build products; make distclean also removes .venv"

venv: $(STAMP)

# (Re)create the virtual environment whenever pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

# The mpi extra (mpi4py and the mpich wheel: mpiexec, libmpi) for runs on MPI ranks.
$(MPI_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .[mpi]
	@touch $@

sim: $(STAMP) $(if $(filter-out 1,$(RANKS)),$(MPI_STAMP),)
	$(PY) -m demo.gemm --rows $(ROWS) --cols $(COLS) --m $(M) --k $(K) --n $(N) --dtype $(DTYPE) \
	    --profile $(PROFILE) --density $(DENSITY) --seed $(SEED) $(if $(filter-out 0,$(WAVES)),--waves,) \
	    $(if $(filter-out 0,$(TRACE)),--trace --trace-cycles $(TRACE_CYCLES),) $(if $(ENERGY),--energy $(ENERGY),) \
	    $(WAFER) $(if $(filter-out 1,$(RANKS)),--ranks $(RANKS),)

sim-fabric: $(STAMP)
	$(PY) -m demo.fabric --rows $(ROWS) --cols $(COLS) --profile $(PROFILE) \
	    --wavelets $(WAVELETS) --seed $(SEED) $(if $(filter-out 0,$(WAVES)),--waves,)

# The test tiers (tests/conftest.py, docs/verification.md "Test tiers"): quick, regression, all.
test: $(STAMP) $(MPI_STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup --durations=15 --tier regression

test-quick: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup --durations=15 --tier quick

test-all: $(STAMP) $(MPI_STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup --durations=30 --tier all

verilog: $(STAMP)
	$(PY) -m hdl.emit --out build/verilog

lint: verilog
	@set -e; root=$$($(PY) -c 'from sdk.builds.verilator import setup_verilator; print(setup_verilator())'); \
	export VERILATOR_ROOT=$$root PATH=$$root/bin:$$PATH; \
	for d in build/verilog/*/; do \
	    echo "verilator --lint-only -Wall $$d"; \
	    verilator --lint-only -Wall hdl/lint.vlt $$d/tessera_router.v; \
	    verilator --lint-only -Wall hdl/lint.vlt $$d/router_mesh_*/*.v --top-module router_mesh; \
	done; \
	echo "verilator --lint-only -Wall build/verilog/tessera_fplane.v"; \
	verilator --lint-only -Wall hdl/lint.vlt build/verilog/tessera_fplane.v
	$(VENV)/bin/ruff check hdl golden sdk fpga demo tb tests bench

wave: $(STAMP)
	@test -n "$(TEST)" || { echo "usage: make wave TEST=<pytest node id>, e.g." \
	    "TEST=tests/test_router.py::'test_router[fair_arbitration-small]'"; exit 2; }
	TESSERA_WAVES=1 $(PY) -m pytest -s -q -p no:xdist $(TEST)

BENCH_STAMP := $(VENV)/.tessera-bench-installed
$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@touch $@

# `make bench BENCH=pe ARGS="--json build/bench/pe.json"`: any bench of `python -m bench`, with its options
BENCH ?= fabric
ARGS  ?= $(if $(filter fabric,$(BENCH)),--json build/bench/fabric.json,)

bench: $(BENCH_STAMP)
	@$(PY) -m bench --check '$(BENCH)'
	$(PY) -m bench.$(BENCH) $(ARGS)

decode: $(STAMP)
	$(PY) -m bench.decode --preset $(PRESET) $(if $(filter small,$(PRESET)),--phases,)

FORMAL_STAMP := $(VENV)/.tessera-formal-installed
$(FORMAL_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[formal]'
	@touch $@

# formal properties of the router, the management loader and the bridge's frame decoder with
# SymbiYosys (tb/formal/, docs/verification.md); `--faults` shows each check failing on its fault
formal: $(FORMAL_STAMP)
	$(PY) -m tb.formal.run

# `make mutate` knobs (tb/mutate/, docs/verification.md "Mutation testing"): the blocks, and the
# sample size and seed when given on the command line (default: the tool's fixed sample)
BLOCK ?= all

mutate: $(STAMP)
	$(PY) -m tb.mutate.run --block $(BLOCK) \
	    $(if $(SAMPLE),--sample $(SAMPLE),) $(if $(filter command line environment,$(origin SEED)),--seed $(SEED),)

# `make fpga` knobs. ROWS/COLS default to 1x1 and PROFILE to fpga here (the `make sim` defaults
# do not fit or route on an ECP5): only values given on the command line or in the environment
# are taken.
BOARD  ?= ulx3s
FPGA_ROWS := $(if $(filter command line environment,$(origin ROWS)),$(ROWS),1)
FPGA_COLS := $(if $(filter command line environment,$(origin COLS)),$(COLS),1)
FPGA_PROFILE := $(if $(filter command line environment,$(origin PROFILE)),$(PROFILE),fpga)
FPGA_STAMP := $(VENV)/.tessera-fpga-installed
$(FPGA_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[fpga]'
	@touch $@

fpga: $(FPGA_STAMP)
	nice -n 10 $(PY) -m fpga.build --board $(BOARD) --rows $(FPGA_ROWS) --cols $(FPGA_COLS) --profile $(FPGA_PROFILE) \
	    $(if $(FREQ),--freq $(FREQ),) $(if $(filter-out 0,$(FABRIC)),--fabric,) \
	    $(if $(SYNTH_OPTS),--synth-opts="$(SYNTH_OPTS)",)

clean:
	rm -rf build sim_build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
