"""Backup and restore: the database and the uploaded files (MEDIA_ROOT) in one archive.

An archive is a gzipped tar:

    manifest.json        format, date, database vendor and method, applied migrations
    database.pgdump      PostgreSQL: `pg_dump --format=custom` (method "pg_dump")
    database.json        otherwise: `manage.py dumpdata` of every model (method "dumpdata")
    media/...            every file under MEDIA_ROOT

pg_dump is used on PostgreSQL when its client tools are installed (the web image has
them); dumpdata works on any database, including the embedded SQLite, and is also the
way to move a school from SQLite to PostgreSQL (restore its archive there).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from common.errors import ApplicationError

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.pgdump"
DUMPDATA_FILE = "database.json"
MEDIA_DIR = "media"
METHODS = ("auto", "pg_dump", "dumpdata")


def _is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _pg_env() -> dict[str, str]:
    """libpq's variables for Django's database (the password never appears in `ps`)."""
    db = connection.settings_dict
    env = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if db.get(key):
            env[variable] = str(db[key])
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ApplicationError(f"{name} is not installed; use --method dumpdata.")
    return path


def _migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def _resolve_method(method: str) -> str:
    if method not in METHODS:
        raise ApplicationError(f"Unknown backup method {method!r}.")
    if method == "auto":
        return "pg_dump" if _is_postgresql() and shutil.which("pg_dump") else "dumpdata"
    if method == "pg_dump" and not _is_postgresql():
        raise ApplicationError("pg_dump backs up PostgreSQL only; use --method dumpdata.")
    return method


def backup_create(*, archive: Path, method: str = "auto") -> dict[str, Any]:
    """Write a backup of the database and MEDIA_ROOT to `archive` (created with mode
    0600: it holds personal data) and return its manifest. The archive appears only
    once complete. The database is read in one snapshot (pg_dump's, or dumpdata's
    transaction); uploads made while it runs may or may not be in it."""
    method = _resolve_method(method)
    archive = Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archive.parent, prefix=".backup-") as work:
        work_dir = Path(work)
        if method == "pg_dump":
            database_file = PG_DUMP_FILE
            subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                [
                    _pg_tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={work_dir / database_file}",
                ],
                env=_pg_env(),
                check=True,
            )
        else:
            database_file = DUMPDATA_FILE
            with transaction.atomic():  # one consistent snapshot on PostgreSQL
                call_command(
                    "dumpdata", output=str(work_dir / database_file), indent=None, verbosity=0
                )
        media_root = Path(settings.MEDIA_ROOT)
        media_files = (
            sorted(p for p in media_root.rglob("*") if p.is_file()) if media_root.is_dir() else []
        )
        manifest = {
            "format": FORMAT,
            "created_at": timezone.now().isoformat(),
            "database": {"vendor": connection.vendor, "method": method, "file": database_file},
            "migrations": _migrations(),
            "media_files": len(media_files),
        }
        partial = work_dir / "archive.tar.gz"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            info.mtime = int(timezone.now().timestamp())
            tar.addfile(info, io.BytesIO(body))
            tar.add(work_dir / database_file, arcname=database_file)
            for path in media_files:
                relative = path.relative_to(media_root).as_posix()
                tar.add(path, arcname=f"{MEDIA_DIR}/{relative}", recursive=False)
        os.replace(partial, archive)
    return manifest


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.load(member) if member is not None else None
    except (KeyError, ValueError) as exc:
        raise ApplicationError("Not an Exocortex backup: no readable manifest.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ApplicationError("Unsupported backup format.")
    return manifest


def _check_members(tar: tarfile.TarFile, database_file: str) -> None:
    """Only the files an archive of ours holds: regular files and folders under media/,
    no absolute paths, no `..`, no links or devices."""
    for member in tar.getmembers():
        path = PurePosixPath(member.name)
        allowed = member.name in (MANIFEST, database_file) or (
            path.parts[:1] == (MEDIA_DIR,) and not path.is_absolute() and ".." not in path.parts
        )
        if not allowed or not (member.isfile() or member.isdir()):
            raise ApplicationError(f"Unexpected entry in the backup: {member.name!r}.")


def _restore_database(manifest: dict[str, Any], database_path: Path) -> None:
    method = manifest["database"]["method"]
    if method == "pg_dump":
        if not _is_postgresql():
            raise ApplicationError("This backup is a PostgreSQL dump; restore it to PostgreSQL.")
        # pg_restore works on its own connection; ours must not hold the tables.
        connection.close()
        subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [
                _pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                f"--dbname={connection.settings_dict['NAME']}",
                str(database_path),
            ],
            env=_pg_env(),
            check=True,
        )
        # A dump from an older release: bring its schema up to this code.
        call_command("migrate", interactive=False, verbosity=0)
    elif method == "dumpdata":
        call_command("migrate", interactive=False, verbosity=0)
        with transaction.atomic():
            # Content types and permissions come from the archive with their ids, so the
            # flush must not recreate them.
            call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
            call_command("loaddata", str(database_path), verbosity=0)
    else:
        raise ApplicationError(f"Unknown backup method {method!r}.")


def _replace_media(source: Path) -> None:
    media_root = Path(settings.MEDIA_ROOT)
    media_root.mkdir(parents=True, exist_ok=True)
    # MEDIA_ROOT itself may be a mount point (a compose volume): empty it, keep it.
    for child in media_root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    if source.is_dir():
        shutil.copytree(source, media_root, dirs_exist_ok=True)


def backup_restore(*, archive: Path) -> dict[str, Any]:
    """Replace the database and MEDIA_ROOT with the contents of `archive`; return its
    manifest. The caller must have confirmed with the operator: everything now in the
    database and MEDIA_ROOT is lost. Stop the web and worker services first. The
    database is restored in one transaction (a failure leaves it as it was); media are
    replaced only after the database succeeded."""
    archive = Path(archive)
    if not archive.is_file():
        raise ApplicationError(f"No backup at {archive}.")
    with tarfile.open(archive, mode="r:gz") as tar:
        manifest = _read_manifest(tar)
        database_file = manifest["database"]["file"]
        _check_members(tar, database_file)
        with tempfile.TemporaryDirectory(prefix="exocortex-restore-") as work:
            work_dir = Path(work)
            tar.extractall(work_dir, filter="data")
            _restore_database(manifest, work_dir / database_file)
            _replace_media(work_dir / MEDIA_DIR)
    return manifest
