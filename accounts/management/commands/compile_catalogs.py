"""Compile the .po message catalogs to .mo without needing GNU gettext on the machine."""

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compile every locale/*/LC_MESSAGES/*.po to .mo (pure Python, no msgfmt needed)."

    def handle(self, *args, **options) -> None:
        count = 0
        for locale_dir in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po")):
                catalog = polib.pofile(str(po_path))
                untranslated = [e.msgid for e in catalog.untranslated_entries() if not e.obsolete]
                if untranslated:
                    # Django falls back to English for these; tests require none.
                    self.stderr.write(
                        f"{po_path}: {len(untranslated)} untranslated message(s), "
                        f"first: {untranslated[0]!r}"
                    )
                catalog.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
        self.stdout.write(f"Compiled {count} catalog(s).")
