# Two commands are all the set-up: `make run` and `make test`.
PYTHON ?= python3
VENV   := $(CURDIR)/.venv
BIN    := $(VENV)/bin
WEB    := services/web
FLASK  := cd $(WEB) && $(BIN)/flask --app docdraft
STAMP  := $(VENV)/.installed
PORT   ?= 5000

.PHONY: install run test lint bench bench-pages bench-step bench-bf16 bench-gpu model seed-model create-admin worker mailer beat prod-local prod-smoke faults load throughput clean

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

## The mail worker (JOB_BACKEND=celery; MAIL_* settings; no TensorFlow needed).
mailer: install
	cd $(WEB) && JOB_BACKEND=celery PYTHONPATH=. $(BIN)/celery -A docdraft.mail.worker worker \
		--pool solo --queues $(or $(MAIL_QUEUE),mail) --loglevel INFO

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

## Load: 50 Locust users through nginx for 2 minutes while the worker
## generates with the GPT-2 124M architecture; one JSON line of figures.
LOAD_VENV := $(CURDIR)/.venv-load
$(LOAD_VENV)/.installed: services/prodlocal/load/requirements.txt
	test -x $(LOAD_VENV)/bin/python || $(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

# The 50 users log in from one address within a minute: past the default
# login limit (30/minute per address) a third of them would get 429.
load: install $(LOAD_VENV)/.installed
	$(BIN)/python services/prodlocal/load/load.py model $(CURDIR)/$(WEB)/instance/load-124m
	TEXTGEN_MODEL=$(CURDIR)/$(WEB)/instance/load-124m RATELIMIT_LOGIN=120/minute \
		bash services/prodlocal/with_prod_local.sh $(BIN)/python services/prodlocal/load/load.py run

## Throughput: on prod-local with the GPT-2 124M architecture, one sponsor
## saves 24 documents at once, then a second sponsor saves one; then make
## bench's 124m figures on the same machine; one JSON line. The per-sponsor
## limit of waiting suggestions is raised to 24, so that all 24 are queued.
throughput: install
	$(BIN)/python services/prodlocal/load/load.py model $(CURDIR)/$(WEB)/instance/load-124m
	TEXTGEN_MODEL=$(CURDIR)/$(WEB)/instance/load-124m JOB_MAX_WAITING_PER_USER=24 \
		bash services/prodlocal/with_prod_local.sh $(BIN)/python services/prodlocal/throughput.py

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
	cd $(WEB) && $(BIN)/bandit --quiet --recursive docdraft textgen pipeline --severity-level medium
	cd $(WEB) && $(BIN)/python scripts/audit_requirements.py

## Generation speed: prints a table, then one JSON line.
bench: install
	cd $(WEB) && $(BIN)/python bench/bench_textgen.py $(BENCH_ARGS)

## Page speed at 100,000 characters (server and Chromium): a table, one JSON line.
bench-pages: install
	cd $(WEB) && $(BIN)/python bench/page_speed.py $(BENCH_ARGS)

## Where one decoding step's time goes (GPT-2 124M, random weights).
bench-step: install
	cd $(WEB) && $(BIN)/python bench/step_parts.py

## Does XLA gain from bfloat16 weights on this CPU (one step's products, 124M shapes)?
bench-bf16: install
	cd $(WEB) && $(BIN)/python bench/bf16_products.py

# CTranslate2 (and PyTorch, where installed) on a CUDA GPU; no TensorFlow needed.
bench-gpu: install
	cd $(WEB) && $(BIN)/python -m bench.bench_gpu $(BENCH_ARGS)

## Save a hub model for offline use: make model MODEL=gpt2
model: install
	cd $(WEB) && $(BIN)/python -m textgen download $(or $(MODEL),gpt2) \
		--out models/hub/$(or $(MODEL),gpt2)

## Rebuild the bundled seed model from Debian documentation (about 30 minutes).
seed-model: install
	cd $(WEB) && $(BIN)/python -m pipeline train --force --max-minutes $(or $(MINUTES),25)

clean:
	rm -rf $(VENV) $(LOAD_VENV) $(WEB)/.pytest_cache
