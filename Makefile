# The README's two commands. Each creates .venv and installs neuroport with every extra on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.neuroport-installed
PYTEST_WORKERS ?= 2
DEMO_OUT ?= build/demo

.PHONY: demo test install lint clean docs

install: $(STAMP)

# lava-nc 0.10.0 declares Requires-Python < 3.11, so it goes in last, alone, without dependency resolution
# (its dependencies come with the `loihi` extra); neuroport.backends.loihi.compat fixes its one 3.11 problem.
$(STAMP): pyproject.toml setup.py constraints.txt
	@echo "installing neuroport and its extras into $(VENV) (about a minute; log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@( $(BIN)/python -m pip install -q --upgrade pip \
	  && $(BIN)/python -m pip install -q -c constraints.txt -e ".[all,dev]" \
	  && $(BIN)/python -m pip install -q --no-deps --ignore-requires-python lava-nc==0.10.0 ) > $(VENV)/install.log 2>&1 \
	  || { tail -n 40 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $(STAMP)

# check → train (float e-prop) → compile for loihi-sim → verify (float vs fixed, Lava vs emulator) → report
demo: $(STAMP)
	$(BIN)/neuroport check examples/evidence_accumulation.yaml
	$(BIN)/neuroport train examples/evidence_accumulation.yaml --iterations 60 --batch-size 32 -o $(DEMO_OUT)/trained
	$(BIN)/neuroport compile $(DEMO_OUT)/trained/model.yaml --target loihi-sim -o $(DEMO_OUT)/loihi-sim
	$(BIN)/neuroport verify $(DEMO_OUT)/trained/model.yaml --target loihi-sim --samples 64
	$(BIN)/neuroport report $(DEMO_OUT)/trained/model.yaml --target loihi-sim --compare loihi1,loihi2

test: $(STAMP)
	bash .ci/pytest.sh $(BIN)/python $(PYTEST_WORKERS)

# The documentation site, built strictly (a broken link or reference fails it) into build/site; tests/test_docs.py
# runs the same build in `make test`.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/python -m mkdocs build --strict --quiet

lint: $(STAMP)
	$(BIN)/ruff check neuroport backends quantization tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache

# Neuromorphic digits end to end (issue 8): sklearn digits → N-MNIST-style events → float e-prop → Loihi fixed
# point → loihi-sim bit-exact check → EDP report; writes results/digits_events.{json,md} and _curve.png
.PHONY: digits
digits: $(STAMP)
	$(BIN)/python benchmarks/digits_events.py

# NEST past one process (issue 19): NEST 3.10 built from its source distribution with MPI into .nest-mpi/
# (the wheel `install` puts in .venv has no MPI).  Needs an MPI and GSL (Debian: apt install openmpi-bin
# libopenmpi-dev libgsl-dev libltdl-dev) and CMake; about 9 minutes of compiling on 2 idle cores.
# `neuroport train --engine nest --ranks R` then runs under mpirun with NEUROPORT_NEST_PREFIX=$(CURDIR)/.nest-mpi.
NEST_VERSION := 3.10.0
NEST_MPI     := $(CURDIR)/.nest-mpi
NEST_BUILD   := build/nest-mpi
.PHONY: nest-mpi test-nest-mpi
nest-mpi: $(NEST_MPI)/.built

$(NEST_MPI)/.built: $(STAMP)
	@command -v mpirun >/dev/null && command -v mpicc >/dev/null && command -v cmake >/dev/null \
	  || { echo "nest-mpi needs MPI and CMake: apt install openmpi-bin libopenmpi-dev libgsl-dev libltdl-dev cmake"; exit 1; }
	mkdir -p $(NEST_BUILD)
	$(BIN)/python -m pip download -q --no-deps --no-binary :all: -d $(NEST_BUILD) nest-simulator==$(NEST_VERSION)
	tar -xzf $(NEST_BUILD)/nest_simulator-$(NEST_VERSION).tar.gz -C $(NEST_BUILD)
	cmake -S $(NEST_BUILD)/nest_simulator-$(NEST_VERSION) -B $(NEST_BUILD)/cmake -DCMAKE_INSTALL_PREFIX=$(NEST_MPI) \
	  -Dwith-mpi=ON -Dwith-python=ON -Dwith-openmp=ON -Dwith-gsl=ON -Dwith-boost=OFF \
	  -DPython_EXECUTABLE=$(CURDIR)/$(BIN)/python > $(NEST_BUILD)/cmake.log
	cmake --build $(NEST_BUILD)/cmake -j $$(nproc) > $(NEST_BUILD)/build.log
	cmake --install $(NEST_BUILD)/cmake > $(NEST_BUILD)/install.log
	@touch $@

test-nest-mpi: $(NEST_MPI)/.built
	NEUROPORT_NEST_PREFIX=$(NEST_MPI) $(BIN)/python -m pytest -n 0 -q tests/nest_mpi
