# Web, Celery worker and beat image (no model code: it talks to the inference worker).
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./frontend
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --system --create-home --home-dir /var/lib/exocortex exocortex
COPY pyproject.toml README.md ./
COPY config ./config
COPY accounts ./accounts
COPY common ./common
COPY courses ./courses
COPY tutor ./tutor
COPY inference ./inference
COPY frontend ./frontend
RUN pip install --no-cache-dir .
COPY manage.py ./
COPY scripts ./scripts
COPY locale ./locale
COPY --from=assets /src/frontend/build ./frontend/build
RUN DJANGO_SETTINGS_MODULE=config.settings.dev python manage.py compile_catalogs \
    && DJANGO_SETTINGS_MODULE=config.settings.dev STATIC_ROOT=/app/static \
       python manage.py collectstatic --noinput
ENV STATIC_ROOT=/app/static
USER exocortex
EXPOSE 8000
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000"]
