from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from common.errors import ApplicationError
from ops.backup import METHODS, backup_create


class Command(BaseCommand):
    help = "Back up the database and uploaded files (MEDIA_ROOT) into one .tar.gz archive."

    def add_arguments(self, parser):
        parser.add_argument(
            "archive",
            nargs="?",
            help="Archive to write. Default: exocortex-<UTC date and time>.tar.gz here.",
        )
        parser.add_argument(
            "--method",
            choices=METHODS,
            default="auto",
            help="pg_dump (PostgreSQL, needs its client tools), dumpdata (any database), "
            "or auto: pg_dump where possible.",
        )

    def handle(self, *args, **options):
        name = options["archive"] or timezone.now().strftime("exocortex-%Y%m%dT%H%M%SZ.tar.gz")
        archive = Path(name).resolve()
        try:
            manifest = backup_create(archive=archive, method=options["method"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Backed up the database ({manifest['database']['method']}) and "
            f"{manifest['media_files']} media files to {archive}"
        )
