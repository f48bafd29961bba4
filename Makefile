# The two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test worker dispatch bench migrate install clean translations

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"' \
	  || { echo "Python 3.11 or newer is required (set PYTHON=python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

migrate: install
	@mkdir -p instance
	CADENCE_DEMO=$${CADENCE_DEMO-1} $(BIN)/flask db upgrade

run: install migrate
	CADENCE_DEMO=$${CADENCE_DEMO-1} $(BIN)/flask demo load
	@echo "Console:    http://$(HOST):$(PORT)/console/  (staff: nurse, coordinator, admin)"
	@echo "API docs:   http://$(HOST):$(PORT)/api/v1/docs"
	@echo "OpenAPI:    http://$(HOST):$(PORT)/api/v1/openapi.json"
	CADENCE_DEMO=$${CADENCE_DEMO-1} $(BIN)/python -m backend.serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/python -m notifications.worker

dispatch: install
	$(BIN)/flask reminders dispatch

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/enrollment.py
	$(BIN)/python bench/reminders.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/results.py

# Re-extract the console's strings and merge them into the .po catalogs (compiled when the app starts).
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k N_ -k Np_:1,2 -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d backend/translations

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
