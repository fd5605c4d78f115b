# Two set-up commands: `make plan` (offline plan of a stack, default Pulumi.shared.yaml) and `make test`.
# Both create ./venv and install requirements-dev.txt on first use (Pulumi.yaml uses the same ./venv).
#   make plan STACK=<name>              plans Pulumi.<name>.yaml (a member stack with the shared stack it reads)
#   make plan STACK=all [SHARED=<name>] plans the shared stack and every member stack reading it, together
#   make plan-examples                  plans the example organization in examples/ (a member stack, then all)
#   make plan WHO=<your name>           names the sessions of the aws-config profiles it writes (default: your login)
PYTHON ?= python3
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= shared
SHARED ?= shared
STACKS ?= .
OUT ?= build/plan-$(STACK)

.PHONY: plan plan-examples test lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(VENV)/.installed
	$(PY) -m plan --dir $(STACKS) --stack $(STACK) --shared $(SHARED) --out $(OUT) $(if $(WHO),--who '$(WHO)')

plan-examples: $(VENV)/.installed
	$(PY) -m plan --dir examples --stack members-a --out build/examples/plan-members-a
	$(PY) -m plan --dir examples --stack all --out build/examples/plan-all

test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) bench/scale.py
	$(PY) bench/plan_scale.py
	$(PY) bench/smt_scale.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
