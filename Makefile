# Learnstats: `make run` serves the app with demo data; `make test` runs the whole suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8050
PIP := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run serve worker test test-count lint format system-test-deps bench clean translations lrs

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.installed-test: requirements-test.txt $(VENV)/.installed
	$(PIP) -r requirements-test.txt
	@touch $@

# The Ralph LRS in a virtual environment of its own (its pins clash with ours): the LRS sync
# tests start it (tests/system/test_lrs_sync.py), `make lrs` serves it. About 30 s to install.
RALPH_VENV ?= .venv-ralph
$(RALPH_VENV)/.installed: requirements-ralph.txt
	@test -x $(RALPH_VENV)/bin/python || python3 -m venv $(RALPH_VENV)
	$(RALPH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-ralph.txt
	@touch $@

run: $(VENV)/.installed
	PORT=$(PORT) $(PY) app.py

# Production mode (docs/deploy.md): gunicorn with LEARNSTATS_WORKERS workers (default 2 x cores)
# on PORT, settings from gunicorn.conf.py; LEARNSTATS_SECRET_KEY is required. The database
# (LEARNSTATS_DATABASE_URL, else the embedded SQLite file) is migrated first; no demo data.
serve: $(VENV)/.installed
	PORT=$(PORT) LEARNSTATS_ENV=$${LEARNSTATS_ENV:-production} $(VENV)/bin/gunicorn --config gunicorn.conf.py app:server

# The Celery worker of background jobs ("Receive by email", attestations) and, with -B, the
# periodic jobs' beat (jobs/periodic.py), when LEARNSTATS_REDIS_URL or
# LEARNSTATS_CELERY_BROKER_URL is set; same environment as `make serve`.
WORKER_CONCURRENCY ?= 2
worker: $(VENV)/.installed
	LEARNSTATS_ENV=$${LEARNSTATS_ENV:-production} $(VENV)/bin/celery --app jobs.worker worker -B \
	  --loglevel INFO --concurrency $(WORKER_CONCURRENCY) --hostname learnstats@%h

# As root, installs the browser, its driver, PostgreSQL, poppler, Redis and LibreOffice Calc
# (headless, for the spreadsheet read-back tests; test-only, about 300 MB) when they are missing.
system-test-deps:
	@missing=""; \
	command -v chromedriver >/dev/null || missing="$$missing chromium chromium-driver"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v soffice >/dev/null || missing="$$missing libreoffice-calc-nogui"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing system packages:$$missing (install them as root: apt-get install$$missing)"; exit 1; \
	  fi; \
	fi

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite with the data cache off, and the page, figure and cache tests once more with
# the in-process cache on (data/cache.py), in the same run (--cached-again, tests/conftest.py:
# their ids end in cache-off and cache-on): a figure must be the same either way. TEST_WORKERS
# pytest-xdist processes share the tests, one more than the cores: a browser test mostly waits
# for Chromium and the page, and the extra worker computes meanwhile; TEST_WORKERS=0 runs
# everything in this process (docs/testing.md).
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
CACHED_TESTS := tests/integration/dashboards/test_pages.py tests/integration/dashboards/test_learner_pages.py \
	tests/integration/dashboards/test_sessions_pages.py tests/integration/data/test_cache.py \
	tests/system/test_redis.py::test_cch013_redis_is_shared_between_apps_on_one_database \
	'tests/integration/data/test_summary_properties.py::test_sum001_every_figure_equals_the_reference_after_every_import[sqlite]'
# The two virtual environments are built side by side (each pip install keeps about one core
# busy), the lint following ours.
test: system-test-deps
	@$(MAKE) --no-print-directory -j2 lint $(RALPH_VENV)/.installed
	LEARNSTATS_CACHE=null $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup \
	  $(foreach t,$(CACHED_TESTS),--cached-again $(t)) $(PYTEST_ARGS)

# The suite's size, to compare before and after a change of the tests: the tests pytest collects,
# and the assertions written in them (assert, pytest.raises...), counted by folder (docs/testing.md).
test-count: $(VENV)/.installed-test
	$(PY) -m pytest --collect-only -q | tail -1
	$(PY) scripts/count_assertions.py

# The whole app on a demo platform of BENCH_LEARNERS learners, built once under instance/bench/
# (docs/performance.md). BENCH_ARGS="--repeat 5 --skip import" passes options; BENCH_ARGS="figures"
# or BENCH_ARGS="opco" runs the older benchmarks; BENCH_ARGS="serve" the 20-manager run against
# make serve (2 gunicorn workers, PostgreSQL, Redis: bench/serve.py); BENCH_ARGS="import" only
# issue 17's import-bundle, import-xapi and pages-after-imports figures (bench/imports.py).
BENCH_LEARNERS ?= 100000
bench: $(VENV)/.installed-test
	BENCH_LEARNERS=$(BENCH_LEARNERS) $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(RALPH_VENV) .pytest_cache

# A local Ralph LRS for trying the xAPI sync (README, docs/xapi.md): Ralph's own server with its
# file-system backend (scripts/ralph_lrs.py: `ralph runserver -b fs`, each POST appended) keeps
# its statements under LRS_DIR; Basic-auth credentials LRS_USERNAME / LRS_PASSWORD (demo values:
# change them for anything but a trial) are written once to LRS_DIR/auth.json. Statements at
# http://127.0.0.1:LRS_PORT/xAPI/statements; Ctrl-C stops it.
LRS_PORT ?= 8100
LRS_DIR ?= instance/lrs
LRS_USERNAME ?= learnstats
LRS_PASSWORD ?= demo-lrs-2026
lrs: $(RALPH_VENV)/.installed
	@mkdir -p $(LRS_DIR)/data
	@grep -qs '"username": *"$(LRS_USERNAME)"' $(LRS_DIR)/auth.json || \
	  RALPH_APP_DIR="$(abspath $(LRS_DIR))" RALPH_RUNSERVER_BACKEND=fs $(RALPH_VENV)/bin/ralph --verbosity WARNING auth \
	    -u "$(LRS_USERNAME)" -p "$(LRS_PASSWORD)" -s all -M "mailto:$(LRS_USERNAME)@example.org" -w
	@echo "Ralph LRS on http://127.0.0.1:$(LRS_PORT)/xAPI (user $(LRS_USERNAME)); statements kept in $(LRS_DIR)/data"
	RALPH_APP_DIR="$(abspath $(LRS_DIR))" $(RALPH_VENV)/bin/python scripts/ralph_lrs.py \
	  --data "$(LRS_DIR)/data" --host 127.0.0.1 --port $(LRS_PORT)

# The interface's texts (issue 12): extract them from the sources, merge them into each
# language's catalogue (translations/<lang>/LC_MESSAGES/messages.po: translate the new ones),
# and compile the .mo files the app reads (committed, so `make run` needs no build step).
BABEL := $(VENV)/bin/pybabel
translations: $(VENV)/.installed
	$(BABEL) extract -F babel.cfg -k N_ -k _l -k NP_:1c,2 --no-location --sort-output --omit-header \
	  --ignore-dirs ".venv .venv-ralph tests instance scripts" -o translations/messages.pot .
	$(BABEL) update --no-fuzzy-matching -i translations/messages.pot -d translations
	$(BABEL) compile -d translations
