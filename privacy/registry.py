"""Which apps hold personal data, and the three functions each exposes for it.

Every module listed in PERSONAL_DATA_MODULES defines:

* ``personal_data_export(*, user) -> PersonalData`` — everything the app holds about
  `user` (never another learner's records), as JSON-ready parts and files;
* ``personal_data_erase(*, user) -> dict[str, int]`` — delete (or anonymise) all of it,
  returning counts by kind. Runs inside the erasure's transaction: files are deleted
  with ``delete_files_on_commit``, never before the rows are gone for good;
* ``retention_purge(*, school_id, cutoffs) -> dict[str, int]`` — delete the data of the
  school's learners (school_id None: learners without a school) older than the cutoff
  of its kind (`Cutoffs`), returning counts by kind.

The list is in erasure order: the owners of records that point at others come first, and
accounts (the user row itself) last. A new app with personal data adds its module here
and a test in tests/privacy.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from types import ModuleType
from typing import Any

from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

PERSONAL_DATA_MODULES = [
    "voice.privacy",  # before tutor: clips point at tutor sessions
    "tutor.privacy",
    "learning.privacy",
    "privacy.contrib",
    "sso.privacy",  # before accounts: identities point at the user row
    "lti.privacy",
    "accounts.privacy",
]


@dataclass(frozen=True)
class Cutoffs:
    """Records written before these moments are past their retention date."""

    transcripts: datetime
    photos: datetime
    memory: datetime


@dataclass
class PersonalData:
    """One app's part of an export: `parts` become ``<name>.json`` in the archive,
    `files` are copied under their archive path."""

    parts: dict[str, Any] = field(default_factory=dict)
    files: dict[str, FieldFile] = field(default_factory=dict)


def personal_data_modules() -> Iterator[ModuleType]:
    for name in PERSONAL_DATA_MODULES:
        yield import_module(name)


def delete_files_on_commit(files: Iterable[FieldFile]) -> int:
    """Delete stored files once the surrounding transaction commits (at once outside
    one): a rolled-back erasure keeps rows and files together. Returns how many."""
    names: list[tuple[Storage, str]] = [(f.storage or default_storage, f.name) for f in files if f]

    def delete() -> None:
        for storage, name in names:
            storage.delete(name)

    transaction.on_commit(delete)
    return len(names)
