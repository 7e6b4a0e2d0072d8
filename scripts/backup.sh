#!/bin/sh
# Back up the database and the uploaded files into one archive (ops/backup.py).
#
#   scripts/backup.sh [ARCHIVE] [--method auto|pg_dump|dumpdata]
#
# With docker compose, run it in the web container; the `backups` volume keeps archives
# and `docker compose cp` copies one off the machine (docs/admin.md, "Backup and restore"):
#   docker compose exec web scripts/backup.sh /var/lib/exocortex/backups/nightly.tar.gz
# On the embedded default, run it from the repository: scripts/backup.sh
set -eu
cd "$(dirname "$0")/.."
python=python
[ -x .venv/bin/python ] && python=.venv/bin/python
exec "$python" manage.py backup "$@"
