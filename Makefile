# Every target makes the virtual environment on first use (Python 3.11 or newer).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test test-slow lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)  ## the default suite (under five minutes)
	$(PY) -m pytest -q

test-slow: $(STAMP)  ## the slow statistical checks as well
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check sim tests bench
	$(VENV)/bin/ruff format --check sim

bench: $(STAMP)
	$(PY) bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
