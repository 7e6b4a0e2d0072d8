from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from common.errors import ApplicationError
from ops.backup import backup_restore


class Command(BaseCommand):
    help = (
        "Replace the database and uploaded files (MEDIA_ROOT) with a backup made by "
        "`manage.py backup`. Everything there now is lost."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="A .tar.gz written by `manage.py backup`.")
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (scripts)."
        )

    def handle(self, *args, **options):
        archive = Path(options["archive"]).resolve()
        if not options["yes"]:
            answer = input(
                f"Replace the database and MEDIA_ROOT with {archive}? "
                "Everything in them now is lost. Type 'yes' to go on: "
            )
            if answer.strip() != "yes":
                raise CommandError("Restore cancelled; nothing changed.")
        try:
            manifest = backup_restore(archive=archive)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Restored the database ({manifest['database']['method']}, backup of "
            f"{manifest['created_at']}) and {manifest['media_files']} media files."
        )
