# Hotel guest-service assistant. Quick start: `make run` (start everything) and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MODEL_STAMP := models/.trained
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
# Rasa must never send telemetry or crash reports (they can carry guest text) off the machine.
export RASA_TELEMETRY_ENABLED := false

# What the trained model depends on: retrain only when one of these changed.
MODEL_INPUTS := config.yml $(shell find domain data hotel_nlu -type f \( -name '*.yml' -o -name '*.py' \) 2>/dev/null | sort)

.PHONY: help install migrate train run chat test test-unit test-e2e validate test-stories test-nlu eval clean bench bench-gateway bench-scheduler chaos

help:
	@echo "make run     start the assistant (installs, migrates and trains when needed)"
	@echo "make chat    chat with it as a guest from the terminal (in a second terminal)"
	@echo "make test    run every test (unit, integration, Rasa stories, NLU split, end-to-end)"
	@echo "make train   train the Rasa model if data, domain, config or hotel_nlu changed"
	@echo "make eval    evaluate the NLU (held-out split, cross-validation, baseline, typos) into docs/nlu-results.md"

install: $(STAMP)

$(STAMP): requirements/requirements.in requirements/constraints.txt scripts/bootstrap.sh
	@bash scripts/bootstrap.sh

migrate: install
	$(PY) -m bot migrate

train: $(MODEL_STAMP)

$(MODEL_STAMP): $(MODEL_INPUTS) | $(STAMP)
	@mkdir -p models
	$(PY) scripts/train.py
	@touch $@

run: install train
	$(PY) -m bot run $(if $(PROFILE),--profile $(PROFILE),)

chat: install
	$(if $(PROFILE),PROFILE=$(PROFILE) ,)$(PY) -m bot chat $(if $(AS),--as $(AS),)

validate: install
	$(PY) scripts/validate_data.py

test-unit: install
	$(PY) -m pytest tests/unit tests/integration -q

test-stories: train
	$(PY) scripts/test_stories.py

test-nlu: train
	PYTHONWARNINGS=ignore $(PY) scripts/nlu_report.py

# NLU evaluation: held-out split, 5-fold cross-validation, TF-IDF baseline, typo robustness, latency.
eval: train
	PYTHONWARNINGS=ignore $(PY) scripts/eval_nlu.py

test-e2e: train
	$(PY) -m pytest tests/e2e -q

test: install train validate
	$(PY) -m pytest tests -q
	$(MAKE) --no-print-directory test-stories test-nlu

clean:
	rm -rf models/*.tar.gz $(MODEL_STAMP) var/results

# Full benchmark (about 20 min): guests on Telegram and REST at 1/20/50, bare Rasa comparison, scheduler, outbound;
# writes docs/benchmarks.md. PROFILE=prod is passed to `python -m bot run`. Smoke run: scripts/bench.py --quick
bench: train
	PYTHONWARNINGS=ignore $(if $(PROFILE),PROFILE=$(PROFILE) ,)$(PY) scripts/bench.py

bench-gateway: train
	PYTHONWARNINGS=ignore $(PY) scripts/bench_gateway.py

bench-scheduler: install
	$(PY) scripts/bench_scheduler.py

# Fault tests (about 15 min): 50 guests on Telegram while each process of the production profile is SIGKILLed in
# turn and a private PostgreSQL is stopped for 10 s; ends with `chaos: kills=... unanswered=...` (docs/chaos.md).
chaos: train
	PYTHONWARNINGS=ignore $(PY) scripts/chaos.py $(CHAOS_ARGS)
