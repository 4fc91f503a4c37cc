# The two commands: `make demo` and `make test`. Both set up .venv from the lock file first,
# and skip the install when neither pyproject.toml nor the lock file changed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed
WORKSPACE ?= demo-workspace
CUSTOMERS ?= 5000

.PHONY: demo test lint typecheck layers unit lock bench clean system-deps

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv
	@$(BIN)/uv pip sync -q --python $(BIN)/python $(LOCK)
	@$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $@

demo: $(STAMP)
	$(BIN)/cvm demo --workspace $(WORKSPACE) --customers $(CUSTOMERS) --seed 42 --force
	$(BIN)/cvm offers load examples/demo/offers.yaml --workspace $(WORKSPACE)
	$(BIN)/cvm run --workspace $(WORKSPACE)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# Debian packages the browser tests need (Chromium for Playwright/report screenshots).
# Installed only when missing and only where we may (root); otherwise those tests skip with a reason.
system-deps:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "note: chromium not installed; browser tests will skip"; }

unit: $(STAMP) system-deps
	$(BIN)/pytest -q || test $$? -eq 5  # exit 5 = nothing collected

test: lint typecheck layers unit

lock:
	uv pip compile pyproject.toml --extra dev --extra spark -o $(LOCK) --python-version 3.11

clean:
	rm -rf $(VENV) demo-workspace .pytest_cache .mypy_cache .ruff_cache
