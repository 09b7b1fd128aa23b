# Two commands on a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-bucket
DEMO_DB := demo.db

LOCK := requirements/dev.lock
# uv pip compile, the same way for every lock: hashes, any platform, Python 3.11 (requirements/README.md).
COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock"

.PHONY: setup demo test check docs bench clean lock

# The locked versions, hashes checked (the ones CI tests and the image ships), then shadow itself.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/shadow demo --out $(DEMO_DIR)
	$(BIN)/shadow scan --once --source dir:$(DEMO_DIR) --db $(DEMO_DB)
	$(BIN)/shadow report --db $(DEMO_DB)
	-$(BIN)/shadow verdict --db $(DEMO_DB) > /dev/null; echo "shadow verdict exit code: $$?"

# The suite needs Debian packages (tests/tools.py lists them): provision installs what is missing.
# One worker per core (pytest-xdist): the suite waits on servers more than it computes.
test: provision $(STAMP)
	$(BIN)/pytest -q -n auto

# The pure tier (PURE_TIER in tests/conftest.py: no tool, no server), without the slow tests.
UNIT_TESTS := tests/unit tests/property
test-unit: $(STAMP)
	$(BIN)/pytest -q -m "not slow" $(UNIT_TESTS)

provision:
	@PYTHON=$(PYTHON) bash scripts/provision.sh

.PHONY: test-unit provision

check: $(STAMP)
	$(BIN)/ruff check shadow tests bench dashboards deploy
	$(BIN)/ruff format --check shadow tests bench dashboards deploy
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cog --check --diff --check-fail-msg "docs/cli.md is stale: run make docs" docs/cli.md
	$(BIN)/python dashboards/generate.py --check
	$(BIN)/python deploy/prometheus/generate.py --check
	$(BIN)/python deploy/kubernetes/validate.py
	$(BIN)/hadolint Dockerfile

# docs/cli.md from the parser's --help (make check fails while it differs).
docs: $(STAMP)
	$(BIN)/cog -r docs/cli.md

# Re-resolve the lock files after a dependency change in pyproject.toml (needs the registry).
lock:  # uses the uv in .venv (`make setup` installs it)
	$(COMPILE) pyproject.toml --extra postgres --extra events -o requirements/runtime.lock
	$(COMPILE) pyproject.toml --extra postgres --extra events --extra dev -c requirements/runtime.lock \
		-o requirements/dev.lock
	$(COMPILE) requirements/build.in -o requirements/build.lock

bench: $(STAMP)
	$(BIN)/python bench/compare.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_DB) .pytest_cache .mypy_cache .ruff_cache
