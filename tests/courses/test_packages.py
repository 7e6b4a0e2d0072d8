"""Course packages: lossless round trip, and broken packages rejected with every problem
located, changing nothing."""

import io
import struct
import time
import tracemalloc
import zipfile
import zlib

import pytest
import yaml
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from PIL import ExifTags, Image, ImageSequence, PngImagePlugin

from courses import packages, services
from courses.models import Course, CourseAsset, Exercise, ExerciseKind, Lesson, Skill
from courses.packages import (
    MAX_ASSET_PIXELS,
    MAX_MANIFEST_NODES,
    MAX_OBJECTS,
    MAX_PACKAGE_BYTES,
    PackageError,
    course_export,
    course_import,
    course_manifest,
)
from tests.courses.factories import CourseFactory, UnitFactory
from tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db


def image_bytes(image_format: str, size=(4, 3), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 10)).save(buffer, image_format, **options)
    return buffer.getvalue()


PNG = image_bytes("PNG")


def rich_course():
    """A course using every feature the format carries."""
    teacher = TeacherFactory()
    course = services.course_create(
        author=teacher, title="Fractions", source_language="en", description="Parts of a whole"
    )
    services.course_update(course=course, language="es", title="Fracciones", description="")
    services.course_update(course=course, language="ar", title="الكسور", description="أجزاء")
    meaning = services.skill_create(course=course, code="meaning", name="Meaning")
    adding = services.skill_create(
        course=course, code="adding", name="Adding", prerequisites=[meaning]
    )
    services.skill_update(skill=adding, language="fr", name="Addition", description="")
    CourseAsset.objects.create(
        course=course, name="pie.png", content_type="image/png", file=ContentFile(PNG, "pie.png")
    )
    unit = services.unit_create(course=course, title="Basics")
    lesson = services.lesson_create(unit=unit, title="Adding", body="![pie](asset:pie.png) $1+1$")
    services.lesson_update(lesson=lesson, language="es", title="Sumar", body="$1+1$ es $2$")
    services.exercise_create(
        lesson=lesson,
        kind=ExerciseKind.SINGLE_CHOICE,
        prompt="Pick",
        answer={},
        skills=[adding],
        choices=[("a", True), ("b", False)],
        hints=["h1", "h2"],
        solution="sol",
    )
    kinds = [
        (ExerciseKind.MULTIPLE_CHOICE, {}, [("x", True), ("y", True), ("z", False)], ""),
        (ExerciseKind.NUMERIC, {"value": "12", "tolerance": "0.5", "unit": "cm"}, [], ""),
        (ExerciseKind.EXPRESSION, {"expected": "2(x+1)"}, [], ""),
        (ExerciseKind.SHORT_TEXT, {"accepted": ["half"], "accent_sensitive": True}, [], ""),
        (ExerciseKind.FREE_RESPONSE, {}, [], "Mentions the common denominator."),
    ]
    for kind, answer, choices, rubric in kinds:
        services.exercise_create(
            lesson=lesson,
            kind=kind,
            prompt=f"Q {kind}",
            answer=answer,
            skills=[meaning, adding],
            choices=choices,
            rubric=rubric,
        )
    services.lesson_publish(lesson=lesson)
    services.lesson_create(unit=UnitFactory(course=course), title="Draft lesson")
    services.course_set_published(course=course, published=True)
    services.course_tutor_instructions_set(course=course, instructions="Explain at grade-6 level.")
    return course


def test_round_trip_is_lossless():
    # given
    course = rich_course()
    package = course_export(course=course)
    importer = TeacherFactory()
    # when
    imported = course_import(author=importer, data=package)
    # then
    assert imported.pk != course.pk
    assert imported.school_id == importer.school_id
    assert course_manifest(course=imported) == course_manifest(course=course)
    stored = Image.open(imported.assets.get().file)
    assert (stored.format, stored.size, stored.getpixel((0, 0))) == ("PNG", (4, 3), (200, 30, 10))
    lesson = Lesson.objects.get(unit__course=imported, title_en="Adding")
    assert lesson.published_version.snapshot["exercise_versions"] == list(
        lesson.exercises.values_list("versions__id", flat=True).order_by("position")
    )


def test_manifest_is_documented_yaml():
    package = course_export(course=rich_course())
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        assert sorted(archive.namelist()) == ["assets/pie.png", "course.yaml"]
        manifest = yaml.safe_load(archive.read("course.yaml"))
    assert manifest["format"] == "exocortex-course"
    assert manifest["course"]["title"] == {"en": "Fractions", "es": "Fracciones", "ar": "الكسور"}
    assert manifest["course"]["tutor_instructions"] == "Explain at grade-6 level."
    assert manifest["skills"][0] == {
        "code": "adding",
        "name": {"en": "Adding", "fr": "Addition"},
        "description": {},
        "prerequisites": ["meaning"],
    }


def build_package(manifest=None, files=None, *, raw_manifest=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if raw_manifest is not None:
            archive.writestr("course.yaml", raw_manifest)
        elif manifest is not None:
            archive.writestr("course.yaml", yaml.safe_dump(manifest, allow_unicode=True))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def minimal_manifest():
    return {
        "format": "exocortex-course",
        "version": 1,
        "course": {"source_language": "en", "title": {"en": "Algebra"}},
        "skills": [
            {"code": "a", "name": {"en": "A"}, "prerequisites": []},
            {"code": "b", "name": {"en": "B"}, "prerequisites": ["a"]},
        ],
        "units": [
            {
                "title": {"en": "Unit"},
                "lessons": [
                    {
                        "title": {"en": "Lesson"},
                        "body": {"en": "Text"},
                        "published": True,
                        "exercises": [
                            {
                                "kind": "numeric",
                                "prompt": {"en": "1+1?"},
                                "answer": {"value": "2"},
                                "skills": ["a"],
                            }
                        ],
                    }
                ],
            }
        ],
        "assets": [],
    }


def test_minimal_package_imports():
    course = course_import(author=TeacherFactory(), data=build_package(minimal_manifest()))
    assert course.title_en == "Algebra"
    assert Exercise.objects.filter(lesson__unit__course=course).count() == 1
    assert course.units.get().lessons.get().is_published is True


def mutate(change):
    manifest = minimal_manifest()
    change(manifest)
    return build_package(manifest)


EXERCISE = "course.yaml: units[0].lessons[0].exercises[0]"
BROKEN = {
    "not a zip": (b"hello", ["package: This is not a zip file."]),
    "no manifest": (
        build_package(None, {"assets/a.png": PNG}),
        ["course.yaml: Missing."],
    ),
    "bad yaml": (
        build_package(raw_manifest="course: [unclosed"),
        [
            "course.yaml: line 1: Not valid YAML in UTF-8.",
        ],
    ),
    "wrong format": (
        mutate(lambda m: m.update(format="other", version=2)),
        [
            "course.yaml: format: Expected exocortex-course.",
            "course.yaml: version: Unsupported version; expected 1.",
        ],
    ),
    "unknown language": (
        mutate(lambda m: m["course"].update(source_language="xx")),
        [
            "course.yaml: course.source_language: Unknown language.",
        ],
    ),
    "title missing in source language": (
        mutate(lambda m: m["course"].update(title={"es": "Álgebra"})),
        ["course.yaml: course.title.en: Required in the course's language (en)."],
    ),
    "skill cycle": (
        mutate(lambda m: m["skills"][0].update(prerequisites=["b"])),
        [
            "course.yaml: skills: This would make a cycle of prerequisites: a → b → a.",
        ],
    ),
    "unknown prerequisite": (
        mutate(lambda m: m["skills"][1].update(prerequisites=["zz"])),
        [
            "course.yaml: skills[1].prerequisites: Unknown skill zz.",
        ],
    ),
    "bad answer and unknown skill": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                answer={"value": "two"}, skills=["nope"]
            )
        ),
        [
            f"{EXERCISE}.skills: Unknown skill nope.",
            f"{EXERCISE}.answer.value: Enter the correct number.",
        ],
    ),
    "malicious expression": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                kind="expression", answer={"expected": "9**9**9**9"}
            )
        ),
        [f"{EXERCISE}.answer.expected: Expected answer: Exponent too large."],
    ),
    "two correct single choices": (
        mutate(
            lambda m: m["units"][0]["lessons"][0]["exercises"][0].update(
                kind="single_choice",
                answer={},
                choices=[{"text": {"en": "x"}, "correct": True}] * 2,
            )
        ),
        [f"{EXERCISE}.choices: Mark exactly one choice as correct."],
    ),
    "asset problems": (
        build_package(
            {
                **minimal_manifest(),
                "assets": [
                    {"name": "gone.png", "content_type": "image/png"},
                    {"name": "fake.png", "content_type": "image/png"},
                    {"name": "x.svg", "content_type": "image/svg+xml"},
                ],
            },
            {"assets/fake.png": b"<svg onload=alert(1)>", "assets/extra.gif": b"GIF89a"},
        ),
        [
            "assets/gone.png: Listed but missing.",
            "assets/fake.png: The file is not a image/png image.",
            "course.yaml: assets[2].content_type: Only PNG, JPEG, GIF and WebP images.",
            "assets/extra.gif: Not listed in course.yaml.",
        ],
    ),
    "path traversal": (
        build_package(minimal_manifest(), {"../evil.py": b"x"}),
        [
            "../evil.py: Unexpected file in the package.",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_package_reports_every_problem_and_writes_nothing(case):
    package, expected = BROKEN[case]
    CourseFactory()  # something already there, which must stay as it is
    before = (Course.objects.count(), Skill.objects.count(), Exercise.objects.count())
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=package)
    assert excinfo.value.extra["problems"] == expected
    assert (Course.objects.count(), Skill.objects.count(), Exercise.objects.count()) == before


def assert_refused(package, expected):
    CourseFactory()  # something already there, which must stay as it is
    before = (Course.objects.count(), Exercise.objects.count(), CourseAsset.objects.count())
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=package)
    assert excinfo.value.extra["problems"] == expected
    assert (Course.objects.count(), Exercise.objects.count(), CourseAsset.objects.count()) == before


def test_member_larger_than_its_limit_is_refused_while_unpacking():
    package = build_package(minimal_manifest(), {"assets/big.png": b"\x00" * (60 * 1024 * 1024)})
    assert len(package) < 1024 * 1024
    assert_refused(package, ["assets/big.png: The file is too large."])


def test_members_together_larger_than_the_unpacked_limit_are_refused():
    files = {f"assets/{n}.png": b"\x00" * (4 * 1024 * 1024) for n in range(14)}  # 56 MB
    assert_refused(
        build_package(minimal_manifest(), files),
        ["package: The package unpacks to too much data."],
    )


def declare_size(package: bytes, name: str, size: int) -> bytes:
    """`package` with the uncompressed size of member `name` changed to `size` in its
    local header and its central directory entry: what a zip bomb lies about."""
    data = bytearray(package)
    offset = zipfile.ZipFile(io.BytesIO(package)).getinfo(name).header_offset
    struct.pack_into("<I", data, offset + 22, size)
    start = data.index(b"PK\x01\x02")
    while start != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + name_length] == name.encode():
            struct.pack_into("<I", data, start + 24, size)
        start = data.find(b"PK\x01\x02", start + 46)
    return bytes(data)


def test_member_declaring_a_small_size_is_read_in_bounded_memory():
    # given: a member of 64 MB of zeros that its zip says is 100 bytes long
    package = build_package(minimal_manifest(), {"assets/big.png": b"\x00" * (64 * 1024 * 1024)})
    package = declare_size(package, "assets/big.png", 100)
    assert zipfile.ZipFile(io.BytesIO(package)).getinfo("assets/big.png").file_size == 100
    # when
    tracemalloc.start()
    try:
        with pytest.raises(PackageError) as excinfo:
            course_import(author=TeacherFactory(), data=package)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # then
    assert excinfo.value.extra["problems"] == [
        "assets/big.png: This file cannot be unpacked: it is damaged, encrypted or "
        "compressed with an unsupported method."
    ]
    assert peak < 8 * 1024 * 1024
    assert Course.objects.count() == 0


def test_bzip2_member_is_refused_unread():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("course.yaml", yaml.safe_dump(minimal_manifest()))
        archive.writestr("assets/a.png", PNG, compress_type=zipfile.ZIP_BZIP2)
    assert_refused(
        buffer.getvalue(),
        [
            "assets/a.png: This file cannot be unpacked: it is damaged, encrypted or "
            "compressed with an unsupported method."
        ],
    )


# --- manifests that expand --------------------------------------------------------------


def test_aliases_cannot_multiply_exercises_past_the_object_limit():
    # given: about 1 KB of YAML whose aliases name 10,000 exercises (50 lessons of 200)
    exercises = ", ".join(["*e"] * 200)
    lessons = ", ".join(["*l"] * 50)
    manifest = f"""
format: exocortex-course
version: 1
course: {{source_language: en, title: {{en: Bomb}}}}
skills: [{{code: s, name: {{en: S}}}}]
exercise: &e {{kind: numeric, prompt: {{en: "1+1?"}}, answer: {{value: "2"}}, skills: [s]}}
lesson: &l {{title: {{en: L}}, exercises: [{exercises}]}}
units: [{{title: {{en: U}}, lessons: [{lessons}]}}]
"""
    package = build_package(raw_manifest=manifest)
    started = time.monotonic()
    # when / then: refused at the first object past the limit (the skill, the unit, then
    # 201 per lesson: object 5,001 is exercise 173 of lesson 24), nothing written
    assert MAX_OBJECTS == 5000
    assert_refused(
        package,
        [
            "course.yaml: units[0].lessons[24].exercises[173]: The package would create more "
            "than 5000 objects (units, lessons, exercises, choices, hints and skills together)."
        ],
    )
    assert time.monotonic() - started < 2


def test_billion_laughs_is_refused_before_it_is_built():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):  # 10**9 values once expanded
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    package = build_package(raw_manifest="\n".join(lines))
    assert len(package) < 1024
    started = time.monotonic()

    assert_refused(
        package,
        [
            f"course.yaml: line 6: The manifest expands to more than {MAX_MANIFEST_NODES} "
            "values (an alias counts each time it is used)."
        ],
    )
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("a: &a [*a]", "course.yaml: line 1: Not valid YAML in UTF-8."),
        ("[" * 100 + "]" * 100, "course.yaml: line 1: Nested more than 30 levels deep."),
    ],
)
def test_recursive_or_deeply_nested_manifest_is_refused(manifest, expected):
    assert_refused(build_package(raw_manifest=manifest), [expected])


def test_object_limit_counts_every_kind_and_names_the_first_object_past_it(monkeypatch):
    monkeypatch.setattr(packages, "MAX_OBJECTS", 9)
    manifest = minimal_manifest()  # 2 skills, 1 unit, 1 lesson, 1 exercise: 5
    exercise = manifest["units"][0]["lessons"][0]["exercises"][0]
    exercise.update(kind="single_choice", answer={}, hints=[{"en": "h"}, {"en": "i"}])  # 7
    exercise["choices"] = [{"text": {"en": "x"}, "correct": True}, {"text": {"en": "y"}}]  # 9
    manifest["units"][0]["lessons"].append({"title": {"en": "Second"}})  # 10

    assert_refused(
        build_package(manifest),
        [
            "course.yaml: units[0].lessons[1]: The package would create more than 9 objects "
            "(units, lessons, exercises, choices, hints and skills together)."
        ],
    )


# --- images ---------------------------------------------------------------------------


def image_package(name: str, content_type: str, data: bytes) -> bytes:
    manifest = minimal_manifest()
    manifest["assets"] = [{"name": name, "content_type": content_type}]
    return build_package(manifest, {f"assets/{name}": data})


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds (almost) none."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(5000, 5000), (200_000, 200_000)])
def test_image_with_too_many_pixels_is_refused_from_its_header(width, height):
    assert_refused(
        image_package("huge.png", "image/png", png_header_only(width, height)),
        [
            f"assets/huge.png: The image has more than {MAX_ASSET_PIXELS} pixels "
            "(all frames together)."
        ],
    )


def test_animation_counts_the_pixels_of_every_frame():
    frames = [Image.new("P", (1024, 1024), n) for n in range(17)]  # 17.8 million pixels
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])

    assert_refused(
        image_package("anim.gif", "image/gif", buffer.getvalue()),
        [
            f"assets/anim.gif: The image has more than {MAX_ASSET_PIXELS} pixels "
            "(all frames together)."
        ],
    )


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCamera"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
    }
    return exif.tobytes()


XMP = b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>SecretPlace</x:xmpmeta>"


def png_with_text() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SecretPlace")
    return image_bytes("PNG", exif=gps_exif(), xmp=XMP, pnginfo=text)


def animated_gif_with_comment() -> bytes:
    frames = [Image.new("RGB", (4, 3), color).convert("P") for color in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, "GIF", save_all=True, append_images=frames[1:], comment=b"SecretPlace", loop=0
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content_type", "data"),
    [
        ("photo.jpg", "image/jpeg", image_bytes("JPEG", exif=gps_exif(), xmp=XMP)),
        ("chart.png", "image/png", png_with_text()),
        ("photo.webp", "image/webp", image_bytes("WEBP", exif=gps_exif(), xmp=XMP)),
        ("anim.gif", "image/gif", animated_gif_with_comment()),
    ],
)
def test_imported_images_lose_their_metadata(name, content_type, data):
    assert b"Secret" in data
    course = course_import(author=TeacherFactory(), data=image_package(name, content_type, data))
    stored = course.assets.get(name=name).file.read()
    image = Image.open(io.BytesIO(stored))
    original = Image.open(io.BytesIO(data))
    assert b"Secret" not in stored
    assert image.format == original.format
    assert getattr(image, "n_frames", 1) == getattr(original, "n_frames", 1)
    for frame in ImageSequence.Iterator(image):
        assert not set(frame.info) & {"exif", "xmp", "comment", "icc_profile", "Comment"}
        assert len(frame.getexif()) == 0
    assert image.size == original.size


def test_photo_taken_sideways_is_stored_upright_without_exif():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # turn 90 degrees clockwise to view
    exif[ExifTags.Base.Make] = "SecretCamera"
    data = image_bytes("JPEG", size=(40, 30), exif=exif.tobytes())

    course = course_import(
        author=TeacherFactory(), data=image_package("side.jpg", "image/jpeg", data)
    )

    stored = Image.open(course.assets.get().file)
    assert stored.size == (30, 40)
    assert len(stored.getexif()) == 0


def test_oversized_upload_is_refused():
    with pytest.raises(PackageError) as excinfo:
        course_import(author=TeacherFactory(), data=b"0" * (MAX_PACKAGE_BYTES + 1))
    assert excinfo.value.extra["problems"] == ["package: The file is larger than 20 MB."]


def test_student_cannot_import():
    with pytest.raises(Exception, match="Only teachers"):
        course_import(author=StudentFactory(), data=build_package(minimal_manifest()))
    assert Course.objects.count() == 0


# --- the demo course ------------------------------------------------------------------


def test_load_demo_course_is_idempotent_and_complete():
    call_command("load_demo")
    call_command("load_demo_course")
    call_command("load_demo_course")
    course = Course.objects.get(school__name="Demo School")
    assert course.is_published is True
    assert course.created_by.email == "teacher@demo.exocortex.local"
    exercises = Exercise.objects.filter(lesson__unit__course=course)
    assert set(exercises.values_list("kind", flat=True)) == set(ExerciseKind.values)
    for exercise in exercises:
        assert exercise.prompt_en
        assert exercise.prompt_es
        assert exercise.solution_en
        assert exercise.solution_es
        assert exercise.hints.count() >= 1
        assert exercise.skills.count() >= 1
    skills = dict(course.skills.values_list("code", "name_es"))
    assert skills["add-fractions"] == "Sumar fracciones"
    assert set(
        course.skills.get(code="equations-with-fractions").prerequisites.values_list(
            "code", flat=True
        )
    ) == {"two-step-equations", "add-fractions"}
    assert all(lesson.is_published for unit in course.units.all() for lesson in unit.lessons.all())


def test_load_demo_course_creates_school_when_missing():
    call_command("load_demo_course")
    assert Course.objects.get().school.name == "Demo School"


def test_demo_course_round_trips():
    call_command("load_demo_course")
    course = Course.objects.get()
    imported = course_import(author=TeacherFactory(), data=course_export(course=course))
    assert course_manifest(course=imported) == course_manifest(course=course)


# --- pages ----------------------------------------------------------------------------


def test_export_then_import_through_pages(client):
    course = rich_course()
    teacher = TeacherFactory(school=course.school)
    client.force_login(teacher)
    response = client.get(reverse("courses:course_export", args=[course.id]))
    assert response["Content-Type"] == "application/zip"
    upload = SimpleUploadedFile("course.zip", response.content, "application/zip")
    response = client.post(reverse("courses:course_import"), {"package": upload})
    imported = Course.objects.exclude(pk=course.pk).get()
    assert response["Location"] == reverse("courses:course_edit", args=[imported.id])
    assert course_manifest(course=imported) == course_manifest(course=course)


def test_import_page_lists_every_problem(client):
    client.force_login(TeacherFactory())
    package, expected = BROKEN["bad answer and unknown skill"]
    upload = SimpleUploadedFile("course.zip", package, "application/zip")
    response = client.post(reverse("courses:course_import"), {"package": upload})
    assert response.status_code == 400
    assert response.context["import_problems"] == expected
    assert Course.objects.count() == 0


def test_export_of_another_schools_course_is_404(client):
    course = CourseFactory()
    client.force_login(TeacherFactory())
    assert client.get(reverse("courses:course_export", args=[course.id])).status_code == 404
