# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PYTEST_ARGS ?=
WORKERS ?= 2

.PHONY: run test lint messages load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

## make run: install, migrate, load the demo world and serve on http://127.0.0.1:$(PORT), with a task
## worker (emails; send_reminders every hour) beside the server; stopping the server (Ctrl+C) stops the worker too.
run: $(VENV)/.run-installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	export DJANGO_DEBUG=$${DJANGO_DEBUG:-1} DJANGO_BASE_URL=$${DJANGO_BASE_URL:-http://127.0.0.1:$(PORT)}; \
	$(BIN)/python manage.py worker --no-reload --verbosity 0 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## The W3C Nu HTML Checker (vnu.jar, npm package vnu-jar pinned in tools/package-lock.json) that the
## valid-HTML test runs with Java; skipped with a message where npm is missing (the test then skips).
## --ignore-scripts: the package's postinstall would download a Java runtime; Debian's is used instead.
tools/node_modules/.installed: tools/package.json tools/package-lock.json
	@if command -v npm >/dev/null; then cd tools && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the Nu HTML checker is not installed (tests/security/test_html_valid.py skips)"; fi

## make test: install the dev requirements and run the whole suite (DATABASE_URL picks the database)
## (loadgroup: the replica tests share one worker, since one of them stops the replica)
test: $(VENV)/.dev-installed tools/node_modules/.installed
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make messages: re-extract and compile translations (needs gettext; the .mo files are committed)
messages: $(VENV)/.dev-installed
	$(BIN)/python manage.py makemessages -l en -l zh_Hans --ignore=.venv --ignore=staticfiles --no-obsolete --no-location
	for po in locale/*/LC_MESSAGES/django.po; do msgcat --sort-output --no-wrap -o $$po $$po; done
	$(BIN)/python manage.py compilemessages --ignore=.venv

$(VENV)/.load-installed: requirements.txt requirements-load.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-load.txt
	touch $@

## make load: 50 users for 60 s against gunicorn on loopback (DATABASE_URL must be PostgreSQL)
load: $(VENV)/.load-installed
	$(BIN)/python -m loadtest

## make screenshots: run the browser tests and keep their screenshots in docs/screenshots (tracked)
.PHONY: screenshots
screenshots: $(VENV)/.dev-installed
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots REQUIRE_BROWSER=1 $(BIN)/python -m pytest -n $(WORKERS) -m browser $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles .pytest_cache tools/node_modules

## make replica: a PostgreSQL primary (127.0.0.1:5441) and its streaming replica (:5442, replaying
## 3 s late) for the replica tests and for trying the router by hand; idempotent. make replica-stop.
.PHONY: replica replica-stop
replica:
	scripts/replica-pair start
replica-stop:
	scripts/replica-pair stop

## make bench: the performance benchmark (docs/performance.md). PostgreSQL only: DATABASE_URL names the
## server; the bench builds and reuses its own database <name>_bench. BENCH_ARGS="--only lists --quick" narrows it.
.PHONY: bench
bench: $(VENV)/.run-installed
	$(BIN)/python -m bench $(BENCH_ARGS)
