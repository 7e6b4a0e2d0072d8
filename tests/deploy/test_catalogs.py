"""Every UI string is translated into every shipped language."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.LOCALE_PATHS[0])


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES if code != "en"])
def test_catalog_is_complete_and_has_no_fuzzy_entries(language):
    catalog = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))

    assert [e.msgid for e in catalog.untranslated_entries()] == []
    assert [e.msgid for e in catalog.fuzzy_entries()] == []
    assert catalog.percent_translated() == 100
