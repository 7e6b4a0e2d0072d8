"""Course packages: one zip file holding a whole course, to move it between schools or
installations. The format is documented in docs/course-package.md.

    course.yaml          the manifest (texts in every language, skills, units, lessons,
                         exercises, answer keys, hints, solutions)
    assets/<name>        images the Markdown refers to as `asset:<name>`

Import validates the whole package first and reports every problem with its location
(`course.yaml: units[0].lessons[1].exercises[2].answer.value`); only a package without
problems is written, in one transaction, as a new course of the importer's school.

A package comes from outside, so nothing in it is trusted to be small: the zip's member
sizes are counted while unpacking, YAML aliases count each time they are used, the
number of objects a package creates is capped, and images are decoded only after their
header's pixel count passed the limit, then re-encoded without metadata (no EXIF, GPS
or XMP).
"""

import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image

from accounts.models import School, User
from common.errors import ApplicationError
from common.images import IMAGE_SIGNATURES, PILLOW_FORMATS, image_without_metadata
from courses import services
from courses.i18n import LANGUAGE_CODES, set_text, texts_of
from courses.models import (
    TITLE_MAX_LENGTH,
    TUTOR_INSTRUCTIONS_MAX_LENGTH,
    Course,
    CourseAsset,
    Exercise,
    Lesson,
    Skill,
    SkillPrerequisite,
)
from courses.rendering import ASSET_NAME, MAX_SOURCE_LENGTH
from courses.validation import clean_answer, exercise_problems

FORMAT = "exocortex-course"
VERSION = 1
MANIFEST = "course.yaml"
MAX_PACKAGE_BYTES = 20 * 1024 * 1024  # the upload itself
# Everything inside, uncompressed, counted while unpacking (zip bombs: the sizes a zip
# declares are not trusted).
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_MANIFEST_BYTES = 5 * 1024 * 1024
MAX_ASSET_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 500
MAX_SKILLS = 500
MAX_LESSONS = 1000
# Units, lessons, exercises, choices, hints and skills together: each is a row to write
# (an exercise also a version to publish), so this bounds the work one import causes.
# A large course (100 lessons of 10 exercises with 3 choices each) is about 4,100.
MAX_OBJECTS = 5000
# YAML nodes with every alias counted each time it is used: a few hundred bytes of nested
# aliases ("billion laughs") would otherwise expand to millions of values. A manifest
# needs 15-40 per object.
MAX_MANIFEST_NODES = 200_000
MAX_MANIFEST_DEPTH = 30  # nesting; a manifest needs 8
# Pixels of one image (all frames of an animation together), read from its header before
# anything is decoded, and of all a package's images together: decoding and re-encoding
# costs memory and CPU time in proportion.
MAX_ASSET_PIXELS = 4096 * 4096
MAX_PACKAGE_PIXELS = 100_000_000
_READ_CHUNK_BYTES = 64 * 1024
# Parse with libyaml when PyYAML was built with it: several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ASSET_REFERENCE = re.compile(r"asset:([A-Za-z0-9][A-Za-z0-9._-]{0,99})")


@dataclass(frozen=True)
class Problem:
    location: str  # "course.yaml: units[0].title.en", "assets/pie.png", "package"
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PackageError(ApplicationError):
    """The package has problems; `problems` lists every one, nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            _("The package has %(count)d problem(s); nothing was imported.")
            % {"count": len(problems)},
            field="package",
            extra={"problems": [str(p) for p in problems]},
        )
        self.problems = problems


# --- export ---------------------------------------------------------------------------


def course_manifest(*, course: Course) -> dict[str, Any]:
    """The manifest of `course`'s current (draft) content, plus what is published."""
    skills = list(course.skills.prefetch_related("prerequisites").order_by("code"))
    units = course.units.prefetch_related(
        "lessons__exercises__choices", "lessons__exercises__hints", "lessons__exercises__skills"
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "course": {
            "source_language": course.source_language,
            "published": course.is_published,
            "title": texts_of(course, "title"),
            "description": texts_of(course, "description"),
            "tutor_instructions": course.tutor_instructions,
        },
        "skills": [
            {
                "code": skill.code,
                "name": texts_of(skill, "name"),
                "description": texts_of(skill, "description"),
                "prerequisites": sorted(p.code for p in skill.prerequisites.all()),
            }
            for skill in skills
        ],
        "units": [
            {
                "title": texts_of(unit, "title"),
                "lessons": [_lesson_manifest(lesson) for lesson in unit.lessons.all()],
            }
            for unit in units
        ],
        "assets": [
            {"name": a.name, "content_type": a.content_type} for a in course.assets.order_by("name")
        ],
    }


def _lesson_manifest(lesson: Lesson) -> dict[str, Any]:
    return {
        "title": texts_of(lesson, "title"),
        "body": texts_of(lesson, "body"),
        "published": lesson.is_published,
        "exercises": [_exercise_manifest(e) for e in lesson.exercises.all()],
    }


def _exercise_manifest(exercise: Exercise) -> dict[str, Any]:
    return {
        "kind": exercise.kind,
        "prompt": texts_of(exercise, "prompt"),
        "solution": texts_of(exercise, "solution"),
        "rubric": texts_of(exercise, "rubric"),
        "answer": exercise.answer,
        "choices": [
            {"text": texts_of(c, "text"), "correct": c.is_correct} for c in exercise.choices.all()
        ],
        "hints": [texts_of(h, "text") for h in exercise.hints.all()],
        "skills": sorted(s.code for s in exercise.skills.all()),
    }


def course_export(*, course: Course) -> bytes:
    """The course as a package (zip bytes). Caller checked the user may edit it."""
    manifest = course_manifest(course=course)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            MANIFEST, yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False, width=100)
        )
        for item in course.assets.order_by("name"):
            with item.file.open("rb") as handle:
                archive.writestr(f"assets/{item.name}", handle.read())
    return buffer.getvalue()


# --- validation -----------------------------------------------------------------------


class _TooManyObjects(Exception):
    """The manifest lists more than MAX_OBJECTS objects; checking stops there."""


class _Checker:
    """Walks a manifest and collects every problem with its location, and the listed
    images re-encoded without metadata (`images`)."""

    def __init__(self, assets: Mapping[str, bytes]) -> None:
        self.problems: list[Problem] = []
        self.assets = assets
        self.images: dict[str, bytes] = {}
        self.referenced: set[str] = set()
        self.source = "en"
        self.objects = 0
        self.pixels = 0

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(f"{MANIFEST}: {where}", message))

    def count_object(self, where: str) -> None:
        """Count one object the import would create; past MAX_OBJECTS, report it at
        `where` and stop checking (raises _TooManyObjects)."""
        self.objects += 1
        if self.objects > MAX_OBJECTS:
            self.add(
                where,
                _(
                    "The package would create more than %(max)d objects (units, lessons, "
                    "exercises, choices, hints and skills together)."
                )
                % {"max": MAX_OBJECTS},
            )
            raise _TooManyObjects

    def texts(
        self, value: Any, where: str, *, required: bool, limit: int = MAX_SOURCE_LENGTH
    ) -> dict[str, str]:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(where, _("Expected a mapping from language code to text."))
            return {}
        texts = {}
        for language, text in value.items():
            if language not in LANGUAGE_CODES:
                self.add(f"{where}.{language}", _("Unknown language."))
            elif not isinstance(text, str):
                self.add(f"{where}.{language}", _("Expected text."))
            elif len(text) > limit:
                self.add(
                    f"{where}.{language}",
                    _("Please use at most %(max)d characters.") % {"max": limit},
                )
            else:
                texts[language] = text
                self.referenced.update(ASSET_REFERENCE.findall(text))
        if required and not texts.get(self.source, "").strip():
            self.add(
                f"{where}.{self.source}",
                _("Required in the course's language (%(lang)s).") % {"lang": self.source},
            )
        return texts

    def items(self, value: Any, where: str, limit: int) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(where, _("Expected a list."))
            return []
        if len(value) > limit:
            self.add(where, _("At most %(max)d items.") % {"max": limit})
            return []
        return value

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            self.add(where, _("Expected a mapping."))
            return {}
        return value

    def check(self, manifest: Any) -> None:
        manifest = self.mapping(manifest, "(top level)")
        try:
            self.check_content(manifest)
        except _TooManyObjects:
            return  # refused anyway: spare decoding the images
        self.check_assets(manifest.get("assets"))

    def check_content(self, manifest: dict) -> None:
        if manifest.get("format") != FORMAT:
            self.add("format", _("Expected %(format)s.") % {"format": FORMAT})
        if manifest.get("version") != VERSION:
            self.add("version", _("Unsupported version; expected %(v)d.") % {"v": VERSION})
        course = self.mapping(manifest.get("course"), "course")
        source = course.get("source_language")
        if source not in LANGUAGE_CODES:
            self.add("course.source_language", _("Unknown language."))
        else:
            self.source = source
        if not isinstance(course.get("published", False), bool):
            self.add("course.published", _("Expected true or false."))
        self.texts(course.get("title"), "course.title", required=True, limit=TITLE_MAX_LENGTH)
        self.texts(course.get("description"), "course.description", required=False)
        instructions = course.get("tutor_instructions", "")
        if not isinstance(instructions, str) or len(instructions) > TUTOR_INSTRUCTIONS_MAX_LENGTH:
            self.add(
                "course.tutor_instructions",
                _("Expected text of at most %(max)d characters.")
                % {"max": TUTOR_INSTRUCTIONS_MAX_LENGTH},
            )
        codes = self.check_skills(manifest.get("skills"))
        lesson_count = 0
        for u, unit in enumerate(self.items(manifest.get("units"), "units", MAX_LESSONS)):
            where = f"units[{u}]"
            self.count_object(where)
            unit = self.mapping(unit, where)
            self.texts(unit.get("title"), f"{where}.title", required=True, limit=TITLE_MAX_LENGTH)
            lessons = self.items(unit.get("lessons"), f"{where}.lessons", MAX_LESSONS)
            lesson_count += len(lessons)
            for n, lesson in enumerate(lessons):
                self.check_lesson(lesson, f"{where}.lessons[{n}]", codes)
        if lesson_count > MAX_LESSONS:
            self.add("units", _("At most %(max)d lessons.") % {"max": MAX_LESSONS})

    def check_skills(self, value: Any) -> set[str]:
        codes: dict[str, list[str]] = {}
        for i, skill in enumerate(self.items(value, "skills", MAX_SKILLS)):
            where = f"skills[{i}]"
            self.count_object(where)
            skill = self.mapping(skill, where)
            code = skill.get("code")
            if not isinstance(code, str) or not re.fullmatch(r"[a-z0-9_-]{1,50}", code):
                self.add(
                    f"{where}.code", _("Use lowercase letters, digits, hyphens and underscores.")
                )
                continue
            if code in codes:
                self.add(f"{where}.code", _("Duplicate skill code %(code)s.") % {"code": code})
                continue
            self.texts(skill.get("name"), f"{where}.name", required=True, limit=TITLE_MAX_LENGTH)
            self.texts(skill.get("description"), f"{where}.description", required=False)
            prerequisites = self.items(skill.get("prerequisites"), f"{where}.prerequisites", 100)
            codes[code] = [p for p in prerequisites if isinstance(p, str)]
        for i, skill in enumerate(value if isinstance(value, list) else []):
            code = skill.get("code") if isinstance(skill, dict) else None
            for p in codes.get(code, []) if isinstance(code, str) else []:
                if p not in codes:
                    self.add(
                        f"skills[{i}].prerequisites", _("Unknown skill %(code)s.") % {"code": p}
                    )
                elif p == code:
                    self.add(
                        f"skills[{i}].prerequisites", _("A skill cannot be its own prerequisite.")
                    )
        cycle = _find_cycle(
            {c: [p for p in ps if p in codes and p != c] for c, ps in codes.items()}
        )
        if cycle:
            self.add(
                "skills",
                _("This would make a cycle of prerequisites: %(path)s.")
                % {"path": " → ".join(cycle)},
            )
        return set(codes)

    def check_lesson(self, lesson: Any, where: str, codes: set[str]) -> None:
        self.count_object(where)
        lesson = self.mapping(lesson, where)
        self.texts(lesson.get("title"), f"{where}.title", required=True, limit=TITLE_MAX_LENGTH)
        self.texts(lesson.get("body"), f"{where}.body", required=False)
        if not isinstance(lesson.get("published", False), bool):
            self.add(f"{where}.published", _("Expected true or false."))
        for e, exercise in enumerate(
            self.items(lesson.get("exercises"), f"{where}.exercises", 200)
        ):
            self.check_exercise(exercise, f"{where}.exercises[{e}]", codes)

    def check_exercise(self, exercise: Any, where: str, codes: set[str]) -> None:
        self.count_object(where)
        exercise = self.mapping(exercise, where)
        kind = exercise.get("kind")
        prompt = self.texts(exercise.get("prompt"), f"{where}.prompt", required=True)
        self.texts(exercise.get("solution"), f"{where}.solution", required=False)
        rubric = self.texts(exercise.get("rubric"), f"{where}.rubric", required=False)
        choices = []
        for c, choice in enumerate(self.items(exercise.get("choices"), f"{where}.choices", 10)):
            self.count_object(f"{where}.choices[{c}]")
            choice = self.mapping(choice, f"{where}.choices[{c}]")
            text = self.texts(
                choice.get("text"), f"{where}.choices[{c}].text", required=True, limit=500
            )
            if not isinstance(choice.get("correct", False), bool):
                self.add(f"{where}.choices[{c}].correct", _("Expected true or false."))
            choices.append((text.get(self.source, ""), choice.get("correct") is True))
        hints = []
        for h_i, hint in enumerate(self.items(exercise.get("hints"), f"{where}.hints", 10)):
            self.count_object(f"{where}.hints[{h_i}]")
            hint_texts = self.texts(hint, f"{where}.hints[{h_i}]", required=True)
            hints.append(hint_texts.get(self.source, ""))
        skills = self.items(exercise.get("skills"), f"{where}.skills", 50)
        for skill in skills:
            if skill not in codes:
                self.add(f"{where}.skills", _("Unknown skill %(code)s.") % {"code": skill})
        for field, message in exercise_problems(
            kind=kind if isinstance(kind, str) else "",
            prompt=prompt.get(self.source, "") or " ",  # already reported above
            choices=choices,
            hints=hints,
            skill_count=len(skills),
            rubric=rubric.get(self.source, ""),
        ):
            self.add(f"{where}.{field}", message)
        if isinstance(kind, str):
            _answer, problems = clean_answer(kind, exercise.get("answer", {}))
            for field, message in problems:
                self.add(f"{where}.{field}", message)

    def check_assets(self, value: Any) -> None:
        listed = set()
        for i, item in enumerate(self.items(value, "assets", MAX_ENTRIES)):
            where = f"assets[{i}]"
            item = self.mapping(item, where)
            name = item.get("name")
            if not isinstance(name, str) or not ASSET_NAME.match(name):
                self.add(f"{where}.name", _("Use a plain file name (letters, digits, . _ -)."))
                continue
            listed.add(name)
            content_type = item.get("content_type")
            if content_type not in IMAGE_SIGNATURES:
                self.add(f"{where}.content_type", _("Only PNG, JPEG, GIF and WebP images."))
                continue
            data = self.assets.get(name)
            if data is None:
                self.problems.append(Problem(f"assets/{name}", _("Listed but missing.")))
            elif not data.startswith(IMAGE_SIGNATURES[content_type]):
                self.problems.append(
                    Problem(
                        f"assets/{name}",
                        _("The file is not a %(type)s image.") % {"type": content_type},
                    )
                )
            else:
                self.check_image(name, data, content_type)
        for name in sorted(set(self.assets) - listed):
            self.problems.append(Problem(f"assets/{name}", _("Not listed in course.yaml.")))
        for name in sorted(self.referenced - listed):
            self.add(
                "assets", _("The text refers to asset:%(name)s, which is missing.") % {"name": name}
            )

    def check_image(self, name: str, data: bytes, content_type: str) -> None:
        """Decode a listed image, once its header's pixel count passed, and keep it
        re-encoded without metadata in `images`."""
        location = f"assets/{name}"
        too_large = _("The image has more than %(max)d pixels (all frames together).") % {
            "max": MAX_ASSET_PIXELS
        }
        try:
            with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[content_type]]) as image:
                pixels = image.width * image.height * getattr(image, "n_frames", 1)
                if pixels > MAX_ASSET_PIXELS:
                    self.problems.append(Problem(location, too_large))
                    return
                self.pixels += pixels
                if self.pixels > MAX_PACKAGE_PIXELS:
                    message = _("The package's images have more than %(max)d pixels together.")
                    self.problems.append(Problem(location, message % {"max": MAX_PACKAGE_PIXELS}))
                    return
                self.images[name] = image_without_metadata(image)
        except Image.DecompressionBombError:  # Pillow's own cap, far above ours
            self.problems.append(Problem(location, too_large))
        except (OSError, SyntaxError, ValueError, EOFError):
            # Pillow's errors for damaged and truncated files (UnidentifiedImageError is
            # an OSError).
            message = _("The file is not a %(type)s image.") % {"type": content_type}
            self.problems.append(Problem(location, message))


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in `graph` (code → prerequisite codes) as a closed path, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    for root in sorted(graph):
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, index = stack.pop()
            if index == 0:
                state[node] = 1
                path.append(node)
            children = graph.get(node, [])
            if index < len(children):
                stack.append((node, index + 1))
                child = children[index]
                if state.get(child) == 1:
                    return [*path[path.index(child) :], child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def read_package(data: bytes) -> tuple[Any, dict[str, bytes], list[Problem]]:
    """Open the zip safely: (manifest, assets by name, problems)."""
    if len(data) > MAX_PACKAGE_BYTES:
        return (
            None,
            {},
            [
                Problem(
                    "package",
                    _("The file is larger than %(mb)d MB.")
                    % {"mb": MAX_PACKAGE_BYTES // (1024 * 1024)},
                )
            ],
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        return None, {}, [Problem("package", _("This is not a zip file."))]
    problems: list[Problem] = []
    if len(entries) > MAX_ENTRIES:
        return None, {}, [Problem("package", _("Too many files in the package."))]
    unpacked = 0  # real bytes, over every member read so far
    manifest_data = None
    assets: dict[str, bytes] = {}
    for entry in entries:
        name = entry.filename
        if entry.is_dir():
            continue
        if name == MANIFEST:
            limit, too_large = MAX_MANIFEST_BYTES, _("The manifest is too large.")
        elif name.startswith("assets/") and ASSET_NAME.match(name[len("assets/") :]):
            limit, too_large = MAX_ASSET_BYTES, _("The file is too large.")
        else:
            problems.append(Problem(name, _("Unexpected file in the package.")))
            continue
        budget = MAX_UNPACKED_BYTES - unpacked
        try:
            content, size = _read_member(archive, entry, limit=min(limit, budget))
        except _UNREADABLE_MEMBER:
            problems.append(
                Problem(
                    name,
                    _(
                        "This file cannot be unpacked: it is damaged, encrypted or "
                        "compressed with an unsupported method."
                    ),
                )
            )
            continue
        unpacked += size
        if content is None and size > budget:
            return None, {}, [Problem("package", _("The package unpacks to too much data."))]
        if content is None:
            problems.append(Problem(name, too_large))
        elif name == MANIFEST:
            manifest_data = content
        else:
            assets[name[len("assets/") :]] = content
    if manifest_data is None:
        if not any(p.location == MANIFEST for p in problems):
            problems.append(Problem(MANIFEST, _("Missing.")))
        return None, assets, problems
    try:
        text = manifest_data.decode("utf-8")
        manifest = _manifest_load(text)
    except _ManifestTooLarge as exc:
        problems.append(Problem(f"{MANIFEST}: line {exc.line}", exc.message))
        return None, assets, problems
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "problem_mark", None)
        if where:
            # libyaml reports the end of a text without a final line break on a line after.
            line = min(where.line + 1, len(text.splitlines()) or 1)
            location = f"{MANIFEST}: line {line}"
        else:
            location = MANIFEST
        problems.append(Problem(location, _("Not valid YAML in UTF-8.")))
        return None, assets, problems
    return manifest, assets, problems


# zipfile's errors for a member it cannot give back as it was stored: a bad CRC (which is
# also what a member whose real size differs from the declared one gets), a corrupt
# stream, encryption, a compression method other than stored or deflated.
_UNREADABLE_MEMBER = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
)


def _read_member(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, *, limit: int
) -> tuple[bytes | None, int]:
    """(content, bytes read) of one member, read in chunks and counted as they come: the
    sizes a zip declares are not trusted. Content is None as soon as there are more than
    `limit` bytes. Only stored and deflated members: bzip2 and LZMA would decompress a
    whole chunk at once, however large it expands."""
    if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise NotImplementedError(entry.compress_type)
    chunks: list[bytes] = []
    size = 0
    with archive.open(entry) as member:
        while chunk := member.read(_READ_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                return None, size
            chunks.append(chunk)
    return b"".join(chunks), size


class _ManifestTooLarge(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _manifest_load(text: str) -> Any:
    """Parse the manifest, refusing first (_ManifestTooLarge) one that would construct
    more than MAX_MANIFEST_NODES values with every alias expanded, or nest deeper than
    MAX_MANIFEST_DEPTH. The count runs on the parser's events, stopping at the limit,
    before anything is constructed."""
    expanded = 0  # nodes so far, each alias counted as the nodes it stands for
    anchored: dict[str, int] = {}  # anchor → nodes it stands for
    open_collections: list[tuple[str | None, int]] = []  # (anchor, `expanded` at start)
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchored:  # the loader calls this invalid YAML
                raise yaml.composer.ComposerError(
                    None, None, "undefined or recursive alias", event.start_mark
                )
            expanded += anchored[event.anchor]
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                anchored[event.anchor] = 1
        elif isinstance(event, yaml.CollectionStartEvent):
            open_collections.append((event.anchor, expanded))
            expanded += 1
            if len(open_collections) > MAX_MANIFEST_DEPTH:
                raise _ManifestTooLarge(
                    _("Nested more than %(max)d levels deep.") % {"max": MAX_MANIFEST_DEPTH},
                    event.start_mark.line + 1,
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start = open_collections.pop()
            if anchor is not None:
                anchored[anchor] = expanded - start
        if expanded > MAX_MANIFEST_NODES:
            raise _ManifestTooLarge(
                _(
                    "The manifest expands to more than %(max)d values (an alias counts "
                    "each time it is used)."
                )
                % {"max": MAX_MANIFEST_NODES},
                event.start_mark.line + 1,
            )
    loader = _YAML_LOADER(text)  # what yaml.safe_load does, with libyaml when there
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def manifest_check(
    manifest: Any, assets: Mapping[str, bytes]
) -> tuple[dict[str, bytes], list[Problem]]:
    """(the listed images re-encoded without metadata, every problem) of a parsed
    manifest and its asset files; no problems when it is valid."""
    checker = _Checker(assets)
    checker.check(manifest)
    return checker.images, checker.problems


def manifest_problems(manifest: Any, assets: Mapping[str, bytes]) -> list[Problem]:
    """Every problem of a parsed manifest and its asset files; empty when valid."""
    return manifest_check(manifest, assets)[1]


def package_problems(data: bytes) -> tuple[Any, dict[str, bytes], list[Problem]]:
    """(manifest, images fit to store, problems) of package bytes."""
    manifest, assets, problems = read_package(data)
    if manifest is not None:
        assets, manifest_problems_ = manifest_check(manifest, assets)
        problems += manifest_problems_
    return manifest, assets, problems


# --- import ---------------------------------------------------------------------------


def course_import(*, author: User, data: bytes) -> Course:
    """Create a new course in `author`'s school from package bytes.

    Raises PackageError listing every problem, and then writes nothing.
    """
    if not author.is_staff_member or author.school_id is None:
        raise ApplicationError(_("Only teachers can create courses."))
    manifest, assets, problems = package_problems(data)
    if problems:
        raise PackageError(problems)
    return course_create_from_manifest(
        school=author.school, author=author, manifest=manifest, assets=assets
    )


@transaction.atomic
def course_create_from_manifest(
    *,
    school: School,
    author: User | None,
    manifest: dict[str, Any],
    assets: Mapping[str, bytes],
) -> Course:
    """Write a manifest that manifest_check() found valid as a new course of `school`;
    `assets` are the images manifest_check() gave back (re-encoded, without metadata)."""
    info = manifest["course"]
    source = info["source_language"]
    course = Course(school=school, source_language=source, created_by=author)
    _set_texts(course, "title", info.get("title"))
    _set_texts(course, "description", info.get("description"))
    course.is_published = info.get("published", False)
    course.tutor_instructions = info.get("tutor_instructions", "").strip()
    course.save()
    skills: dict[str, Skill] = {}
    for item in manifest.get("skills") or []:
        skill = Skill(course=course, code=item["code"])
        _set_texts(skill, "name", item.get("name"))
        _set_texts(skill, "description", item.get("description"))
        skill.save()
        skills[skill.code] = skill
    SkillPrerequisite.objects.bulk_create(
        SkillPrerequisite(skill=skills[item["code"]], prerequisite=skills[code])
        for item in manifest.get("skills") or []
        for code in item.get("prerequisites") or []
    )
    for asset in manifest.get("assets") or []:
        CourseAsset.objects.create(
            course=course,
            name=asset["name"],
            content_type=asset["content_type"],
            file=ContentFile(assets[asset["name"]], name=asset["name"]),
        )
    for u, unit_item in enumerate(manifest.get("units") or [], start=1):
        unit = course.units.create(position=u, **_text_fields("title", unit_item.get("title")))
        for n, lesson_item in enumerate(unit_item.get("lessons") or [], start=1):
            lesson = Lesson(unit=unit, position=n)
            _set_texts(lesson, "title", lesson_item.get("title"))
            _set_texts(lesson, "body", lesson_item.get("body"))
            lesson.save()
            for e, item in enumerate(lesson_item.get("exercises") or [], start=1):
                _create_exercise(lesson, e, item, skills)
            if lesson_item.get("published"):
                services.lesson_publish(lesson=lesson)
    return course


def _create_exercise(lesson: Lesson, position: int, item: dict, skills: dict[str, Skill]):
    answer, _problems = clean_answer(item["kind"], item.get("answer", {}))
    exercise = Exercise(lesson=lesson, position=position, kind=item["kind"], answer=answer)
    for field in ("prompt", "solution", "rubric"):
        _set_texts(exercise, field, item.get(field))
    exercise.save()
    exercise.skills.set([skills[code] for code in item.get("skills") or []])
    for c, choice in enumerate(item.get("choices") or [], start=1):
        obj = exercise.choices.model(exercise=exercise, position=c, is_correct=choice["correct"])
        _set_texts(obj, "text", choice.get("text"))
        obj.save()
    for h, hint in enumerate(item.get("hints") or [], start=1):
        obj = exercise.hints.model(exercise=exercise, position=h)
        _set_texts(obj, "text", hint)
        obj.save()


def _set_texts(obj: Any, field: str, texts: Mapping[str, str] | None) -> None:
    for language, text in (texts or {}).items():
        set_text(obj, field, language, text)


def _text_fields(field: str, texts: Mapping[str, str] | None) -> dict[str, str]:
    return {f"{field}_{language}": text for language, text in (texts or {}).items()}
