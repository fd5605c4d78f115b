# Two set-up commands: `make plan` (offline plan of a stack, default Pulumi.shared.yaml) and `make test`.
# Both create ./venv and install requirements-dev.txt on first use (Pulumi.yaml uses the same ./venv).
PYTHON ?= python3
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= shared

.PHONY: plan test lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(VENV)/.installed
	$(PY) -m plan --stack-file Pulumi.$(STACK).yaml --out build/plan-$(STACK)

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) bench/scale.py
	$(PY) bench/plan_scale.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
