# The README's two commands. Each creates .venv and installs neuroport with every extra on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.neuroport-installed
PYTEST_WORKERS ?= 2
DEMO_OUT ?= build/demo

.PHONY: demo test install lint clean

install: $(STAMP)

# lava-nc 0.10.0 declares Requires-Python < 3.11, so it goes in last, alone, without dependency resolution
# (its dependencies come with the `loihi` extra); neuroport.backends.loihi.compat fixes its one 3.11 problem.
$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all,dev]"
	$(BIN)/python -m pip install -q --no-deps --ignore-requires-python lava-nc==0.10.0
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neuroport demo examples/evidence_accumulation.yaml --out $(DEMO_OUT)

test: $(STAMP)
	bash .ci/pytest.sh $(BIN)/python $(PYTEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check neuroport backends quantization tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache
