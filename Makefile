# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

RAW_DIR ?= raw
WAREHOUSE ?= data/warehouse.duckdb

.PHONY: run test install lint build generate ui clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kpi run --raw $(RAW_DIR) --warehouse $(WAREHOUSE)

test: $(STAMP)
	$(BIN)/ruff check dagster_project tests
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check dagster_project tests
	$(BIN)/ruff format --check dagster_project tests

build: $(STAMP)
	$(BIN)/kpi build --raw $(RAW_DIR) --warehouse $(WAREHOUSE)

ui: $(STAMP)
	$(BIN)/kpi ui

clean:
	rm -rf data dbt_models/target dbt_models/logs
