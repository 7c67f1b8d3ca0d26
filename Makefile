# The two commands (see README):
#   make demo   install Antiphon and run it on the bundled sample calls
#   make test   install everything (Debian packages too) and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test system-deps bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[server]'

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[all,test]'

system-deps:
	./scripts/system-deps.sh

demo: install
	$(BIN)/antiphon demo $(DEMO_ARGS)

# Everything is installed here, so a skipped test is a failure (CI=1, see tests/conftest.py).
test: system-deps install-test
	CI=$${CI:-1} $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python benchmarks/bench_vad.py
