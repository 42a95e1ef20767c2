# Two commands are all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := $(CURDIR)/.venv
BIN    := $(VENV)/bin
WEB    := services/web
FLASK  := cd $(WEB) && $(BIN)/flask --app docdraft
STAMP  := $(VENV)/.installed
PORT   ?= 5000

.PHONY: install run test lint bench model seed-model create-admin worker beat prod-local prod-smoke faults clean

$(STAMP): $(WEB)/requirements.txt $(WEB)/requirements-web.txt $(WEB)/requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r $(WEB)/requirements-dev.txt
	touch $@

install: $(STAMP)

## Development server on 127.0.0.1:$(PORT) with the in-process worker.
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) serve --port $(PORT)

## A Celery worker (JOB_BACKEND=celery; REDIS_URL, DATABASE_URL from the environment).
worker: install
	cd $(WEB) && JOB_BACKEND=celery PYTHONPATH=. $(BIN)/celery -A docdraft.jobs.worker worker \
		--pool solo --queues $(or $(JOB_QUEUE),generate) --loglevel INFO

## The sweeper for Celery deployments: exactly one per deployment.
beat: install
	cd $(WEB) && JOB_BACKEND=celery PYTHONPATH=. $(BIN)/celery -A docdraft.jobs.worker beat \
		--schedule $(CURDIR)/$(WEB)/instance/celerybeat-schedule --loglevel INFO

## The production topology without Docker: nginx (TLS), gunicorn, Celery, supervised.
prod-local: install
	bash services/prodlocal/run.sh

## CI: prod-local on a free port, a smoke walk through nginx, then stop.
prod-smoke: install
	bash services/prodlocal/with_prod_local.sh $(BIN)/python services/prodlocal/smoke.py

## The fault walk: SIGKILL the worker, restart Redis and PostgreSQL, deliver
## twice; every job ends done exactly once. Restarts this machine's services.
faults: install
	JOB_LEASE_SECONDS=10 JOB_SWEEP_SECONDS=5 JOB_REDELIVER_AFTER=15 \
		bash services/prodlocal/with_prod_local.sh $(BIN)/python services/prodlocal/faults.py

## The first admin: make create-admin EMAIL=you@example.org NAME="Your Name"
create-admin: install
	@test -n "$(EMAIL)" && test -n "$(NAME)" || \
		{ echo 'usage: make create-admin EMAIL=you@example.org NAME="Your Name"'; exit 2; }
	$(FLASK) db upgrade
	$(FLASK) create-admin --email "$(EMAIL)" --name "$(NAME)"

test: install
	cd $(WEB) && $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	cd $(WEB) && $(BIN)/ruff check . && $(BIN)/ruff format --check .

## Generation speed: prints a table, then one JSON line.
bench: install
	cd $(WEB) && $(BIN)/python bench/bench_textgen.py $(BENCH_ARGS)

## Save a hub model for offline use: make model MODEL=gpt2
model: install
	cd $(WEB) && $(BIN)/python -m textgen download $(or $(MODEL),gpt2) \
		--out models/hub/$(or $(MODEL),gpt2)

## Rebuild the bundled seed model from Debian documentation (about 30 minutes).
seed-model: install
	cd $(WEB) && $(BIN)/python -m pipeline train --force --max-minutes $(or $(MINUTES),25)

clean:
	rm -rf $(VENV) $(WEB)/.pytest_cache
