# Two entry points for newcomers: `make demo` (set up + run the main job on the bundled demo corpus)
# and `make test` (set up + run the whole test suite). Both create ./.venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU wheel of torch that installs offline here; on a GPU machine set TORCH_SPEC to your CUDA build.
TORCH_SPEC ?= torch==2.13.0
SPFT_DATA_ROOT ?= $(abspath ../shared/data)
export SPFT_DATA_ROOT

.PHONY: setup setup-train demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.setup: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(VENV)/.setup-train: pyproject.toml $(VENV)/.setup
	$(BIN)/pip install -q '$(TORCH_SPEC)'
	$(BIN)/pip install -q -e '.[dev,train]'
	touch $@

setup: $(VENV)/.setup
setup-train: $(VENV)/.setup-train

demo: setup
	$(BIN)/synth generate --db demo --n 300 --val-size 40 --out out/demo --seed 0
	$(BIN)/synth validate out/demo
	@echo "Demo data written to out/demo (train.jsonl, val.jsonl, templates.jsonl, manifest.json)"

# lint and format checks first (seconds), then the suite (tests/test_docs.py runs every module's doctests)
test: setup-train
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	SPFT_REQUIRE_DATA=1 $(BIN)/python -m pytest -q

# Every benchmark, with what each needs (TRL and datasets for bench_selfplay's comparison arms).
# bench_suite builds TS suites for the present Spider dev databases in a temp folder (~25 s).
$(VENV)/.setup-bench: pyproject.toml $(VENV)/.setup-train
	$(BIN)/pip install -q -e '.[dev,train,bench]'
	touch $@

bench: $(VENV)/.setup-bench
	$(BIN)/python benchmarks/bench_evaluate.py
	$(BIN)/python benchmarks/bench_generate.py
	$(BIN)/python benchmarks/bench_prompt.py
	$(BIN)/python benchmarks/bench_quality.py --generate --n 3000
	$(BIN)/python benchmarks/bench_suite.py
	$(BIN)/synth generate --db demo --n 300 --val-size 40 --out out/bench/data --seed 0
	$(BIN)/train init-tiny --data out/bench/data --out out/bench/tiny
	$(BIN)/train sft --data out/bench/data --model out/bench/tiny --out out/bench/sft --epochs 2 --resume
	$(BIN)/python benchmarks/bench_selfplay.py --data out/bench/data --model out/bench/sft

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
