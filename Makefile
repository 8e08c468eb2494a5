# The two commands: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install when the dependency list changes.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "AttnScope needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	touch $@ $(RUN_STAMP)

# The checkout is installed editable, so pip leaves its modules uncompiled; without .pyc files
# (PYTHONDONTWRITEBYTECODE, or a read-only checkout) every start compiles them again: +0.3 s to
# the window (issue 22). compileall only rewrites what changed, so this costs nothing when current.
COMPILE := $(BIN)/python -m compileall -q attnscope engine gui models

run: $(RUN_STAMP)
	@$(COMPILE)
	$(BIN)/attnscope gui

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# pytest exits 5 when it collects no tests: that is not a failure of the suite.
test: lint
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$status

# The benchmarks are a package of this checkout (benchmarks/, never installed); the editable
# install lets `attnscope bench` find them. See benchmarks/README.md.
bench: $(RUN_STAMP)
	@$(COMPILE)
	$(BIN)/attnscope bench --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
