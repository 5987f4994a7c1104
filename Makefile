# Every target that runs project code depends on `setup`, so on a fresh machine
# `make recommend` and `make test` work with nothing run before them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The entry points ([project.scripts] in pyproject.toml), installed by `make setup`.
BIN := $(VENV)/bin
JARS_DIR := .jars
DELTA_VERSION := 4.0.1
# JDBC driver of the shared Hive metastore (cluster mode).
MARIADB_JDBC_VERSION := 3.5.6
# The Hive version of pyspark's own jars: Spark 4.0 ships without hive-llap-common, whose absence breaks
# the Thrift Server when Hive's function registry first loads (a session's close), SPARK-51041.
HIVE_VERSION := 2.3.10
SETUP_STAMP := $(VENV)/.setup-done
JARS_STAMP := $(JARS_DIR)/.delta-$(DELTA_VERSION)-mariadb-$(MARIADB_JDBC_VERSION)-hive-$(HIVE_VERSION)
# The Thrift Server's guard (jvm/): analysts read the chain's schemas but do not write them.
GUARD_JAR := $(JARS_DIR)/recolake-guard.jar

ROWS ?= 1M
DAYS ?= 30
SEED ?= 42
RAW_DIR ?= $(CURDIR)/data/raw
LAKEHOUSE_DIR ?= $(CURDIR)/lakehouse
REPORTS_DIR ?= $(CURDIR)/reports
# embedded (one process, Derby metastore) or cluster (`make cluster-up` first: Spark master and
# workers, Thrift Server for dbt, shared Hive metastore in MariaDB).
LAKEHOUSE_ENGINE ?= embedded
export RAW_DIR LAKEHOUSE_DIR REPORTS_DIR LAKEHOUSE_ENGINE
export LAKEHOUSE_JARS_DIR := $(CURDIR)/$(JARS_DIR)

DBT_ARGS ?= build
# Business rules and tunables for this run, e.g. VARS="min_event_date=1995-01-01 max_price=50000"
# (names: the vars in dbt_project/dbt_project.yml; the README's settings table).
VARS ?=
export VARS

ML_ARGS ?=
# FULL=1: `make train` / `make recommend` refit the model even when the last one could be updated.
FULL ?=
# TUNE=1: `make recommend` runs `python -m ml tune` (TUNE_ARGS) before training on the tuned choice.
TUNE ?=
TUNE_ARGS ?=

DASHBOARD_ARGS ?=

# `make test` runs its modules on this many processes (0: one process). On this 2-core box two took the
# suite from 3,639 s to 2,944 s: the suite keeps both cores busy, so more workers gain little.
TEST_WORKERS ?= 2

# Hadoop's S3A connector must match pyspark's hadoop-client (3.4.1); the SDK bundle is the one it was built with.
HADOOP_AWS_VERSION := 3.4.1
AWS_SDK_VERSION := 2.24.6
S3_STAMP := $(JARS_DIR)/.s3-$(HADOOP_AWS_VERSION)-$(AWS_SDK_VERSION)

SCALES ?= 100k 1M
STAGES ?=
# ENGINES="embedded cluster": each scale in both modes, side by side in bench/results/latest.md.
ENGINES ?= embedded
BENCH_STAMP := $(VENV)/.bench-deps-done

.PHONY: help setup data ingest transform check dbt docs train tune recommend sync tableau tableau-extract mysql-start mysql-stop mysql-grant \
	cluster-up cluster-down cluster-status s3-setup test-s3 dashboard doctor test test-fast test-faults lint bench clean clean-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

setup: $(SETUP_STAMP) $(JARS_STAMP) $(GUARD_JAR) ## venv + project install, Java 17, MariaDB, slapd, Delta, MariaDB JDBC and Hive LLAP jars (idempotent)

$(SETUP_STAMP): pyproject.toml dbt_plugin/pyproject.toml dbt_plugin/dbt_recolake.py scripts/setup/ensure_java.sh scripts/setup/ensure_mariadb.sh \
		scripts/setup/ensure_slapd.sh scripts/setup/apt_install.sh
	bash scripts/setup/ensure_java.sh
	bash scripts/setup/ensure_mariadb.sh
	bash scripts/setup/ensure_slapd.sh
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	# The dbt plugin (the lakehouse lock for plain dbt) as a real module: dbt does not see editable ones.
	$(PY) -m pip install --quiet --no-deps ./dbt_plugin
	@$(PY) -c "import importlib.metadata as m, sys; v = m.version('delta-spark'); \
	  sys.exit(0 if v == '$(DELTA_VERSION)' else f'delta-spark {v} installed but Makefile DELTA_VERSION is $(DELTA_VERSION)')"
	touch $@

$(JARS_STAMP):
	bash scripts/setup/fetch_jars.sh $(DELTA_VERSION) $(MARIADB_JDBC_VERSION) $(HIVE_VERSION) $(JARS_DIR)

$(GUARD_JAR): jvm/recolake/ChainTablesGuard.java scripts/setup/build_guard.sh $(SETUP_STAMP) $(JARS_STAMP)
	bash scripts/setup/build_guard.sh $(PY) $(JARS_DIR)
	touch $@

data: setup ## generate ROWS events over DAYS daily CSV files into RAW_DIR (SEED for another data set)
	$(BIN)/recolake-generate --rows $(ROWS) --days $(DAYS) --seed $(SEED)

ingest: setup ## load new CSV files from RAW_DIR into the Delta table raw.events
	$(BIN)/recolake-ingest

transform: setup ## dbt build: models, their tests and the data-health verdict (VARS="name=value ..." for settings)
	$(BIN)/recolake-dbt build

check: setup ## every dbt test over every row (an incremental `make transform` tests only the dates it rebuilt)
	$(BIN)/recolake-dbt test

dbt: setup ## any dbt command on the lakehouse, e.g. make dbt DBT_ARGS="run --select marts"
	$(BIN)/recolake-dbt $(DBT_ARGS)

docs: setup ## dbt docs generate (open dbt_project/target/index.html)
	$(BIN)/recolake-dbt docs generate

train: setup ## refit (evaluate ALS, EASE, popularity and the oracle, retrain the serving model on all data) or, between refits, update it for the users who changed; FULL=1 refits; ML_ARGS for options
	$(BIN)/recolake-ml run $(if $(FULL),--full) $(ML_ARGS)

tune: setup ## choose model + parameters on a validation split of the training part; `make train` then uses them
	$(BIN)/recolake-ml tune $(TUNE_ARGS) $(ML_ARGS)

recommend: setup ## the whole chain in one process (generates data when RAW_DIR is empty); run again for new files; TUNE=1 tunes first
	@if [ -z "$$(find $(RAW_DIR) -name '*.csv*' -print -quit 2>/dev/null)" ]; then \
	  $(MAKE) --no-print-directory data; fi
	$(BIN)/recolake-recommend $(if $(TUNE),--tune) $(if $(FULL),--full) $(ML_ARGS) $(TUNE_ARGS)
	@$(PY) -c "import json; r = json.load(open('$(REPORTS_DIR)/last_run.json')); print('recommend: done, run', r['run_id'], '- metrics in $(REPORTS_DIR)/last_run.json, marts in MySQL database', '$${MYSQL_DATABASE:-lakehouse_marts}')"

sync: setup ## copy the marts tagged mysql_sync to MySQL (private MariaDB unless MYSQL_HOST is set)
	$(BIN)/recolake-sync

tableau: setup ## a Tableau data source (.tds) per synced mart and the dashboard workbook (.twb) in REPORTS_DIR/tableau (after make sync)
	$(BIN)/recolake-tableau

tableau-extract: setup ## the synced marts in one Hyper extract, REPORTS_DIR/tableau/recolake_marts.hyper (Tableau Public, offline)
	$(BIN)/recolake-tableau extract

mysql-start: setup ## start the private MariaDB (127.0.0.1:33306, data in .mysql/)
	$(BIN)/recolake-mysql start

mysql-stop: setup ## stop the private MariaDB
	$(BIN)/recolake-mysql stop

mysql-grant: setup ## create the read-only reporting user (MYSQL_REPORTING_USER, MYSQL_REPORTING_PASSWORD)
	$(BIN)/recolake-mysql grant

cluster-up: setup ## start a Spark master + CLUSTER_WORKERS workers, the Thrift Server and the shared metastore; then LAKEHOUSE_ENGINE=cluster
	$(BIN)/recolake-cluster up

cluster-down: setup ## stop the Thrift Server, the workers and the master (MariaDB keeps serving the marts)
	$(BIN)/recolake-cluster down

cluster-status: setup ## one line per cluster piece: master, workers, applications, Thrift Server, metastore
	$(BIN)/recolake-cluster status

s3-setup: setup $(S3_STAMP) ## S3A jars (560 MB) and moto, for an s3a:// warehouse (LAKEHOUSE_WAREHOUSE_DIR) and make test-s3

$(S3_STAMP):
	bash scripts/setup/fetch_s3_jars.sh $(HADOOP_AWS_VERSION) $(AWS_SDK_VERSION) $(JARS_DIR)
	$(PY) -m pip install --quiet -e ".[test,s3]"
	touch $@

test-s3: s3-setup ## the cluster test with its warehouse on a local S3 (moto): s3a:// Delta tables end to end
	S3=1 $(PY) -m pytest tests/test_cluster.py

test: setup ## the test suite (real Spark, Delta, dbt, MariaDB, headless Chromium) on TEST_WORKERS processes
	bash scripts/setup/ensure_chromium.sh
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not long_fault"

test-faults: setup ## the fault tests with their longer variants (a worker killed during training, ...)
	$(PY) -m pytest tests/test_faults.py tests/test_cluster.py

test-fast: setup ## the pure tests only (no Java, MariaDB or Chromium): seconds
	$(PY) -m pytest -m "not spark and not mysql and not browser"

lint: setup ## ruff on the Python code, sqlfluff (sparksql, .sqlfluff) on the dbt SQL; both pinned in the test extra
	$(PY) -m ruff check pipeline ml bench scripts tests dbt_plugin .ci
	$(PY) -m sqlfluff lint dbt_project/models dbt_project/tests

bench: setup $(BENCH_STAMP) ## time every stage at SCALES="100k 1M" (add 10M) with DuckDB/implicit/raw-load peers; STAGES for a subset; ENGINES="embedded cluster" for both modes
	$(BIN)/recolake-bench --scales "$(SCALES)" --engines "$(ENGINES)" $(if $(STAGES),--stages "$(STAGES)")

$(BENCH_STAMP): pyproject.toml
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $@

doctor: ## check Java, packages, Delta jars, lakehouse lock, MySQL and dbt manifest; print what to fix
	@test -x $(PY) || { echo "FIX  .venv missing: run make setup"; exit 1; }
	$(BIN)/recolake-doctor

dashboard: setup ## reports/dashboard.html from the synced MySQL marts (DASHBOARD_ARGS="--source delta" for Delta)
	$(BIN)/recolake-dashboard $(DASHBOARD_ARGS)

clean-data: ## delete generated data, the lakehouse, the local cluster's state and the private MariaDB (keeps the venv and jars)
	-$(BIN)/recolake-cluster down
	-$(BIN)/recolake-mysql stop
	rm -rf data lakehouse reports .mysql .cluster bench/work

clean: clean-data ## also delete the venv and the jar cache
	rm -rf $(VENV) $(JARS_DIR)
