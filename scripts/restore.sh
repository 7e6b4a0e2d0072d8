#!/bin/sh
# Replace the database and the uploaded files with a backup made by scripts/backup.sh.
# Everything in them now is lost; it asks first unless given --yes.
#
#   scripts/restore.sh ARCHIVE [--yes]
#
# With docker compose, stop everything that uses the database, restore in a one-off web
# container (it mounts the `backups` and `media` volumes), then start again:
#   docker compose stop web worker speech-worker beat
#   docker compose run --rm web scripts/restore.sh /var/lib/exocortex/backups/nightly.tar.gz
#   docker compose up -d
set -eu
cd "$(dirname "$0")/.."
python=python
[ -x .venv/bin/python ] && python=.venv/bin/python
exec "$python" manage.py restore "$@"
