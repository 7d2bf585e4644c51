# recipemut: `make demo` runs the main job on a shipped example, `make test` runs every check.
# Each target creates its own virtualenv (.venv) on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recipemut validate recipes/checkout/recipe.yaml
	$(BIN)/recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz --out demo-plan.json

lint: $(STAMP)
	$(BIN)/ruff check recipemut tests benchmarks
	$(BIN)/mypy recipemut

test: lint
	$(BIN)/pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_suggest.py
	$(BIN)/python benchmarks/bench_otlp.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
