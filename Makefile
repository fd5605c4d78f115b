# Two set-up commands: `make plan` (offline plan of a stack, default Pulumi.shared.yaml) and `make test`.
# Both create ./venv and install requirements-dev.txt on first use (Pulumi.yaml uses the same ./venv).
#   make plan STACK=<name>              plans Pulumi.<name>.yaml (a member stack with the shared stack it reads)
#   make plan STACK=all [SHARED=<name>] plans the shared stack and every member stack reading it, together, all or
#                                       nothing (any invalid stack file fails it; SHARED= when the folder holds
#                                       several shared stacks); writes build/plan-all/<organization id>/
#   make plan-examples                  plans the example organization in examples/ (a member stack, then all)
#   make plan WHO=<your name>           names the sessions of the aws-config profiles it writes (default: your login)
#   make plan BASE=<file>               compares with what is deployed: `pulumi stack export` output, or an earlier
#                                       plan's build/plan-<stack>/state.json (README, "Day two")
#   make stacks ACCOUNTS=<file> [SHARED_ACCOUNT=<name|id> REGION=<region>] [OUS="<group>=<file> ..."] [PULUMI_ORG=]
#                                       writes the shared and member stack files from `aws organizations list-accounts`
#   make doctor STACK=<name> [PROFILE=<p>] [PLAN_PATH=1]  checks your credential chain, read-only (needs AWS access)
#   make orchestrate OP=preview|up [ARGS="--parallel 3"]  runs every stack in order (needs the Pulumi CLI, logged in)
PYTHON ?= python3
VENV ?= venv
PY := $(VENV)/bin/python
STACK ?= shared
SHARED ?=
STACKS ?= .
OUT ?=
OP ?= preview

.PHONY: plan plan-examples stacks doctor orchestrate test lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

plan: $(VENV)/.installed
	$(PY) -m plan --dir $(STACKS) --stack $(STACK) $(if $(SHARED),--shared $(SHARED)) $(if $(OUT),--out $(OUT)) \
		$(if $(WHO),--who '$(WHO)') $(if $(BASE),--base '$(BASE)')

plan-examples: $(VENV)/.installed
	$(PY) -m plan --dir examples --stack members-a --out build/examples/plan-members-a
	$(PY) -m plan --dir examples --stack all --out build/examples/plan-all

stacks: $(VENV)/.installed
	$(if $(ACCOUNTS),,$(error ACCOUNTS=<file> is needed: aws organizations list-accounts > list-accounts.json))
	$(PY) -m federation.organization write --accounts '$(ACCOUNTS)' --dir $(STACKS) --shared-stack $(or $(SHARED),shared) \
		$(if $(SHARED_ACCOUNT),--shared-account '$(SHARED_ACCOUNT)') $(if $(REGION),--region $(REGION)) \
		$(foreach ou,$(OUS),--ou '$(ou)') $(if $(PULUMI_ORG),--pulumi-organization '$(PULUMI_ORG)') \
		$(if $(DRY_RUN),--dry-run)

doctor: $(VENV)/.installed
	$(PY) -m federation doctor --stack-file $(STACKS)/Pulumi.$(STACK).yaml $(if $(PROFILE),--profile '$(PROFILE)') \
		$(if $(PLAN_PATH),--plan-path)

orchestrate: $(VENV)/.installed
	$(PY) -m orchestrate $(OP) --all --stacks-dir $(STACKS) $(if $(SHARED),--shared $(SHARED)) $(ARGS)

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
