# grid — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
ENV := source scripts/env.sh &&
DEMO_SPEC := examples/local-lab/cluster.yaml
# Two pytest workers (tests/conftest.py says how the work is shared); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PARALLEL := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: setup demo demo-down test test-fast e2e lint bench clean

setup:  ## install everything grid needs on this machine (idempotent, cached)
	bash scripts/setup.sh

demo: setup  ## bring up the local example cluster
	$(ENV) grid validate $(DEMO_SPEC)
	$(ENV) grid up $(DEMO_SPEC) --yes
	@echo
	@echo "The lab is up. Try:"
	@echo "  source scripts/env.sh"
	@echo "  grid ssh $(DEMO_SPEC) east-train-0000      # a shell on a node"
	@echo "  grid check $(DEMO_SPEC)                     # acceptance checks"
	@echo "  grid drift $(DEMO_SPEC)                     # compare with reality"
	@echo "  make demo-down                               # remove everything"

demo-down:
	$(ENV) grid destroy $(DEMO_SPEC) --yes

test: setup lint  ## everything: unit, property and end-to-end tests
	$(ENV) python -m pytest -q -p no:cacheprovider --durations=30 $(PARALLEL)

test-fast:  ## unit tests only (no podman/Pulumi/Ansible)
	$(ENV) python -m pytest -q -m "not e2e and not slow" $(PARALLEL)

e2e: setup
	$(ENV) python -m pytest -q -m e2e $(PARALLEL)

lint:
	$(ENV) ruff check --no-cache src cli stacks templates inventories tests bench
	$(ENV) mypy
	$(ENV) lint-imports

bench: setup
	$(ENV) python bench/plan_scale.py
	$(ENV) python bench/bringup.py
	$(ENV) python bench/drift.py
	$(ENV) python bench/up_phases.py
	$(ENV) python bench/slurm.py
	$(ENV) python bench/lifecycle.py
	$(ENV) python bench/scale.py
	$(ENV) python bench/existing_names.py
	$(ENV) python bench/policy_rego.py
	$(ENV) python bench/startup.py

clean:
	rm -rf .grid examples/*/.grid build dist .pytest_cache .mypy_cache .ruff_cache
