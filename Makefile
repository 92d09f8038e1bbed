# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark

RAW_DIR ?= raw
WAREHOUSE ?= data/warehouse.duckdb

.PHONY: run test test-spark install lint build generate ui clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/kpi run --raw $(RAW_DIR) --warehouse $(WAREHOUSE)

test: $(STAMP)
	$(BIN)/ruff check dagster_project tests bench
	$(BIN)/ruff format --check dagster_project tests bench
	$(BIN)/pytest

# The extra `spark` (dbt-spark, pyspark) on top of the dev install; Spark needs Java 17.
$(SPARK_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $(SPARK_STAMP)

# The acceptance case built on Apache Spark (local mode): marts equal expected.json and DuckDB's.
test-spark: $(SPARK_STAMP)
	$(BIN)/pytest -m spark tests/test_spark.py

lint: $(STAMP)
	$(BIN)/ruff check dagster_project tests bench
	$(BIN)/ruff format --check dagster_project tests bench

build: $(STAMP)
	$(BIN)/kpi build --raw $(RAW_DIR) --warehouse $(WAREHOUSE)

ui: $(STAMP)
	$(BIN)/kpi ui

clean:
	rm -rf data dbt_models/target dbt_models/logs

# Build benchmark (issue 7, bench/README.md): not run by CI. `bench` generates a province-scale
# year on first use (about 20 min, reused afterwards) and takes an hour or more; `bench-small`
# runs the same comparison on about 2 million worklog rows (15-20 min on 2 cores).
.PHONY: bench bench-small

bench: $(STAMP)
	$(BIN)/python bench/bench_build.py --scale 30 --months 3,12

bench-small: $(STAMP)
	$(BIN)/python bench/bench_build.py --scale 1.8 --months 3,12 \
		--out bench/RESULTS-small.md --json bench/results-small.json
