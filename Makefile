# The shop's commands. `make run` and `make test` bootstrap everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQUIREMENTS := requirements-dev.txt constraints.txt pyproject.toml services/common/pyproject.toml \
	services/advertisements/requirements.txt services/frontend/requirements.txt

.DEFAULT_GOAL := help
.PHONY: help install run test lint lock clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): $(REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 9))' || { echo "Python 3.9 or newer is needed ($(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e services/common -e .
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with the pinned dependencies

run: $(STAMP) ## Run the shop: frontend on :3000, advertisements 1.0 on :5002
	@echo "Shop: http://127.0.0.1:3000  (Ctrl-C stops it)"
	@trap 'kill 0' INT TERM EXIT; \
	(cd services/advertisements && PORT=5002 ADS_VERSION=1.0 ../../$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app) & \
	(cd services/frontend && PORT=3000 ADS_URL=http://127.0.0.1:5002 ../../$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app) & \
	wait

test: $(STAMP) ## Run the whole test suite
	$(BIN)/pytest

lint: $(STAMP) ## Check the code with ruff
	$(BIN)/ruff check .

lock: $(STAMP) ## Re-pin every transitive dependency into constraints.txt
	@{ echo "# Every transitive package pinned, so a fresh machine gets what CI tested."; \
	   echo "# Regenerate with 'make lock' after changing a requirements file."; \
	   $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
