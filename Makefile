# Every target makes the virtual environment on first use (Python 3.11 or newer).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: app test test-slow test-browser lint bench verify clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,app]'
	touch $(STAMP)

test: $(STAMP)  ## the default suite (under five minutes)
	$(PY) -m pytest -q

test-slow: $(STAMP)  ## the slow statistical checks as well
	$(PY) -m pytest -q -m slow

test-browser: $(STAMP)  ## the dashboard in a real browser (needs Debian's chromium)
	$(PY) -m pytest -q -s -m browser tests/test_browser.py

app: $(STAMP)  ## the dashboard, in your browser
	$(VENV)/bin/streamlit run app.py

lint: $(STAMP)
	$(VENV)/bin/ruff check sim tests bench app.py
	$(VENV)/bin/ruff format --check sim app.py

verify: $(STAMP)  ## the verification and validation report, docs/validation.md
	$(PY) -m sim verify

bench: $(STAMP)
	$(PY) bench/speed.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache
