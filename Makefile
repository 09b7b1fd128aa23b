# Two commands on a fresh machine: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo-bucket
DEMO_DB := demo.db

.PHONY: setup demo test check bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/shadow demo --out $(DEMO_DIR)
	$(BIN)/shadow scan --once --source dir:$(DEMO_DIR) --db $(DEMO_DB)
	$(BIN)/shadow report --db $(DEMO_DB)
	-$(BIN)/shadow verdict --db $(DEMO_DB) > /dev/null; echo "shadow verdict exit code: $$?"

test: $(STAMP)
	$(BIN)/pytest -q

check: $(STAMP)
	$(BIN)/ruff check shadow tests bench dashboards
	$(BIN)/ruff format --check shadow tests bench dashboards
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/compare.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(DEMO_DB) .pytest_cache .mypy_cache .ruff_cache
