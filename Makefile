# Quanyi — `make run` starts the product, `make test` runs the checks and tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run dev prepare test lint format worker beat migrate messages clean

help:
	@echo "make run     - install, migrate, load demo data, serve on 127.0.0.1:8000 (+ worker, beat)"
	@echo "make test    - ruff check, ruff format --check, lint-imports (app layers), pytest"
	@echo "make dev     - as make run, with Django's auto-reloading server instead of gunicorn"
	@echo "make worker  - a Celery worker;  make beat - the (single) beat scheduler"
	@echo "make messages - refresh and compile the zh-hans translations"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

.env: | $(STAMP)
	$(PY) -m config.envfile

prepare: $(STAMP) .env
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo

run: prepare
	$(PY) -m config.devserver

dev: prepare
	$(PY) -m config.devserver --reload

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrate: $(STAMP) .env
	$(PY) manage.py migrate --noinput

worker: $(STAMP)
	$(VENV)/bin/celery -A config worker --loglevel INFO

beat: $(STAMP)
	$(VENV)/bin/celery -A config beat --loglevel INFO

messages: $(STAMP)
	$(PY) manage.py makemessages --locale zh_Hans --ignore ".venv/*" --ignore "var/*"
	$(PY) manage.py compilemessages --locale zh_Hans --ignore ".venv/*"

clean:
	rm -rf $(VENV) var
