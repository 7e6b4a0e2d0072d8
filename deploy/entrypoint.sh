#!/bin/sh
# Entry point of the web image (web, Celery workers, beat), run before the command:
# - an empty Prometheus multiprocess directory (values of processes from a previous run
#   would otherwise be added to this one's);
# - for the web server only (the command starts with uvicorn or daphne): migrations, then
#   static files if the image's were not collected (STATIC_ROOT pointed elsewhere).
#   One web service runs migrations; workers and beat wait for it to be healthy.
# Anything else (`manage.py ...`, `scripts/backup.sh`) runs as given.
set -eu

if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"/*
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

case "${1:-}" in
    uvicorn | daphne)
        python manage.py migrate --noinput
        if [ ! -f "${STATIC_ROOT:-/app/static}/staticfiles.json" ]; then
            python manage.py collectstatic --noinput --verbosity 0
        fi
        ;;
esac

exec "$@"
