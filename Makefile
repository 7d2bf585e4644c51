# recipemut: `make demo` runs the main job on a shipped example, `make test` runs every check.
# Each target creates its own virtualenv (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN    := $(VENV)/.installed-run
PIP    := $(BIN)/pip --quiet --disable-pip-version-check

.PHONY: demo test lint bench clean

# setuptools>=77 (pyproject's build-system.requires) in the venv too: the PEP 639 license fields
# need it, and `pip wheel --no-build-isolation .` builds with the venv's own setuptools
# demo: the runtime dependencies only (no pytest, mypy, ruff or stubs)
$(RUN): pyproject.toml
	@echo "creating .venv and installing recipemut (about a minute, once)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip 'setuptools>=77'
	@$(PIP) install -e .
	@touch $(RUN)

# test, lint, bench: the dev tools too
$(STAMP): pyproject.toml
	@echo "creating .venv and installing recipemut with its dev tools (a few minutes, once)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip 'setuptools>=77'
	@$(PIP) install -e '.[dev,dask]'
	@touch $(STAMP) $(RUN)

demo: $(RUN)
	$(BIN)/recipemut validate recipes/checkout/recipe.yaml
	$(BIN)/recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz --out demo-plan.json

lint: $(STAMP)
	$(BIN)/ruff check recipemut tests benchmarks
	$(BIN)/mypy recipemut

# the report's browser test (tests/test_report.py) opens the HTML in Debian's headless chromium
test: lint
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || { echo "installing chromium for the browser test..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_suggest.py
	$(BIN)/python benchmarks/bench_otlp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
