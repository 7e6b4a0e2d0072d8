#!/usr/bin/env bash
# Run the product on the embedded default: the inference worker (real vLLM on the CPU with
# the packaged SmolLM2 model) and the ASGI web server. Celery tasks run in-process here.
# Ctrl-C stops both.
#
# The web server is uvicorn, as in production, with config.settings.embedded: debug off.
# uvicorn hands a request body over as it arrives, so an oversized one is refused before
# it is read (config.asgi); Daphne's `runserver` holds a whole body in memory first.
# `--dev` (make dev) serves config.settings.dev with `runserver` instead: debug pages,
# and reloading when the code changes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
WEB_ADDR="${WEB_ADDR:-127.0.0.1:8000}"

if [[ "${1:-}" == "--dev" ]]; then
  web=(env DJANGO_SETTINGS_MODULE=config.settings.dev "$PY" manage.py runserver "$WEB_ADDR")
else
  host="${WEB_ADDR%:*}"
  host="${host#[}"
  host="${host%]}"
  # No proxy in front: X-Forwarded-* headers come from clients and are not believed.
  web=(env DJANGO_SETTINGS_MODULE=config.settings.embedded "$PY" -m uvicorn
       config.asgi:application --host "$host" --port "${WEB_ADDR##*:}" --no-proxy-headers)
fi

trap 'kill 0' EXIT INT TERM

"$PY" -m inference serve &
echo "Inference worker starting (first start converts the packaged model once)…"
echo "Exocortex: http://${WEB_ADDR}/"
"${web[@]}"
