# `make run`  : create .venv, install clipdesk, start the desktop app
# `make test` : create .venv, install clipdesk with test extras, run the test suite
# `make lint` : the rules tools check: ruff (bugs, not style), mypy (clipcore's types),
#               import-linter (clipcore never imports Qt or desktop; clipcore's layers as
#               DESIGN.md draws them)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'

run: install
	$(BIN)/clipdesk

test: install
	HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/python -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

clean:
	rm -rf $(VENV) build *.egg-info
