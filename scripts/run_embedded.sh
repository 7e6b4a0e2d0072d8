#!/usr/bin/env bash
# Run the product on the embedded default: the inference worker (real vLLM on the CPU with
# the packaged SmolLM2 model) and the ASGI web server. Celery tasks run in-process here.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
WEB_ADDR="${WEB_ADDR:-127.0.0.1:8000}"

trap 'kill 0' EXIT INT TERM

"$PY" -m inference serve &
echo "Inference worker starting (first start converts the packaged model once)…"
echo "Exocortex: http://${WEB_ADDR}/"
"$PY" manage.py runserver --noreload "$WEB_ADDR"
