"""Backup -> wipe -> restore, on SQLite (embedded default) and on PostgreSQL (services
mode, with pg_dump and with dumpdata): a user, a course, an attempt and a media file
come back."""

import io
import json
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth import authenticate
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from common.errors import ApplicationError
from courses.models import Course, CourseAsset
from learning import selectors as learning_selectors
from learning import services as learning_services
from learning.models import Attempt
from ops.backup import backup_create, backup_restore
from tests.factories import PASSWORD
from tests.learning.conftest import build_world

ROOT = Path(__file__).resolve().parents[2]
IMAGE = b"\x89PNG\r\n\x1a\n not really a png, bytes are bytes"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return settings.MEDIA_ROOT


def _school_data():
    world = build_world()
    cmap = learning_selectors.course_map(course=world.course)
    presentation = learning_services.presentation_for_lesson(
        learner=world.student, lesson=world.lesson, cmap=cmap
    )
    learning_services.attempt_submit(presentation=presentation, response="0.75")
    asset = CourseAsset(course=world.course, name="diagram", content_type="image/png")
    asset.file.save("diagram.png", ContentFile(IMAGE))
    return world, asset


def _methods():
    if connection.vendor == "postgresql":
        return ["pg_dump", "dumpdata"]
    return ["dumpdata"]


@pytest.mark.parametrize("method", ["auto", "pg_dump", "dumpdata"])
def test_backup_wipe_restore_brings_back_users_courses_attempts_and_media(media, tmp_path, method):
    if method != "auto" and method not in _methods():
        pytest.skip(f"{method} needs PostgreSQL (services mode)")
    if (
        method in ("auto", "pg_dump")
        and connection.vendor == "postgresql"
        and not shutil.which("pg_dump")
    ):
        pytest.skip("PostgreSQL client tools are not installed")
    # given a school with a student's attempt and a course image
    world, asset = _school_data()
    attempt = Attempt.objects.get()
    asset_path = Path(asset.file.path)
    archive = tmp_path / "backups" / "school.tar.gz"

    # when it is backed up
    manifest = backup_create(archive=archive, method=method)

    expected = (
        "pg_dump" if connection.vendor == "postgresql" and method != "dumpdata" else "dumpdata"
    )
    assert manifest["database"]["method"] == expected
    assert manifest["media_files"] == 1
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # personal data inside
    assert "learning" in manifest["migrations"]

    # and everything is wiped: rows and files
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(media)
    assert (User.objects.count(), Course.objects.count(), Attempt.objects.count()) == (0, 0, 0)
    assert not asset_path.exists()

    # and restored
    backup_restore(archive=archive)

    # then the user can log in again with the same password
    student = User.objects.get(pk=world.student.pk)
    assert student.email == world.student.email
    assert authenticate(username=student.email, password=PASSWORD) == student
    # the course, the attempt and the image are back, with their ids
    course = Course.objects.get(pk=world.course.pk)
    assert course.title == world.course.title
    restored = Attempt.objects.get(pk=attempt.pk)
    assert (restored.learner_id, restored.course_id, restored.status, restored.score) == (
        student.pk,
        course.pk,
        attempt.status,
        attempt.score,
    )
    assert asset_path.read_bytes() == IMAGE
    assert CourseAsset.objects.get(pk=asset.pk).file.read() == IMAGE
    # and new rows do not collide with restored ids (sequences came back too)
    assert User.objects.create(email="new@example.org", username="new@example.org").pk > student.pk


def test_restore_refuses_an_archive_with_paths_outside_media(media, tmp_path):
    world, _asset = _school_data()
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, body in (
            (
                "manifest.json",
                json.dumps(
                    {
                        "format": 1,
                        "database": {"method": "dumpdata", "file": "database.json"},
                        "created_at": "x",
                        "media_files": 1,
                    }
                ).encode(),
            ),
            ("database.json", b"[]"),
            ("media/../../escaped.txt", b"x"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))

    with pytest.raises(ApplicationError, match="Unexpected entry"):
        backup_restore(archive=archive)

    # nothing changed
    assert User.objects.filter(pk=world.student.pk).exists()
    assert Attempt.objects.count() == 1
    assert not (tmp_path / "escaped.txt").exists()


def test_restore_refuses_what_is_not_a_backup(media, tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("hello.txt")
        tar.addfile(info, io.BytesIO(b""))

    with pytest.raises(ApplicationError, match="no readable manifest"):
        backup_restore(archive=archive)


def test_restore_command_asks_before_replacing_anything(media, tmp_path, monkeypatch):
    world, _asset = _school_data()
    archive = tmp_path / "b.tar.gz"
    backup_create(archive=archive, method="dumpdata")
    User.objects.filter(pk=world.student.pk).delete()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")

    with pytest.raises(Exception, match="Restore cancelled"):
        call_command("restore", str(archive))

    assert not User.objects.filter(pk=world.student.pk).exists()

    call_command("restore", str(archive), "--yes")

    assert User.objects.filter(pk=world.student.pk).exists()


def test_scripts_wrap_the_management_commands():
    for script, command in (("backup.sh", "manage.py backup"), ("restore.sh", "manage.py restore")):
        path = ROOT / "scripts" / script
        assert path.stat().st_mode & stat.S_IXUSR
        assert command in path.read_text()
        subprocess.run(["sh", "-n", str(path)], check=True)
