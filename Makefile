# Two commands for a fresh machine with Python >= 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
# Tests run on every CPU (pytest-xdist); TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= auto

.PHONY: run test install install-dev dirs migrate seed lint typecheck check clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

dirs:
	mkdir -p var/celery/broker var/celery/processed var/celery/results

migrate: install dirs
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

## Start web (http://127.0.0.1:$(PORT)/), a Celery worker and Celery beat; Ctrl-C stops all three.
run: seed
	@echo ""
	@echo "Veinline is starting at http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	@echo ""
	PORT=$(PORT) $(BIN)/honcho start -f Procfile

## Run the whole test suite (SQLite by default; DATABASE_URL / CELERY_BROKER_URL switch).
test: install-dev dirs
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy .

check: install-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf var/celery var/celerybeat-schedule*
