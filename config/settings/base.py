"""Settings shared by every environment.

Every environment variable the web side reads is read here, once, and listed with
an explanation in `.env.example`. Two modes come out of the same code:

* embedded default (nothing set): SQLite, in-memory channel layer, Celery tasks run
  in-process, local file storage;
* services (`DATABASE_URL` and `REDIS_URL` set): PostgreSQL, channels-redis, Celery on
  the Redis broker with separate worker processes, Redis cache.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# --- core -----------------------------------------------------------------------------
# No secret here: dev/test provide a throw-away key, prod refuses to start without one.
SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Where runtime data (SQLite file, uploads) lives on the embedded default.
VAR_DIR = Path(env.str("EXOCORTEX_VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "daphne",  # makes `runserver` serve ASGI (HTTP + WebSocket) on the embedded default
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "courses",
    "learning",
    "tutor",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/exocortex; SQLite when unset.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'exocortex.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("es", _("Spanish")),
    ("fr", _("French")),
    ("ar", _("Arabic")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- static and media -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
# frontend/static holds our sources; frontend/build holds what `npm run build` bundles.
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static", BASE_DIR / "frontend" / "build"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- request size ---------------------------------------------------------------------
# Largest request body on any URL, bytes: bigger ones get 413 before Django reads them
# (config.asgi.RequestBodyLimit; neither uvicorn nor Daphne has a cap of its own). The
# course package upload has its own, courses.packages.MAX_PACKAGE_BYTES plus the form.
REQUEST_BODY_MAX_BYTES = 3 * 1024 * 1024
# Form fields (everything but files) Django parses in memory; more is a 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Uploaded files up to this size stay in memory; larger ones go to a temporary file.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Fields in one request (a skill's prerequisites can list hundreds), and files: one form
# takes a file (the course package).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 1

# --- Redis: channel layer, Celery broker, cache -----------------------------------------
# REDIS_URL, e.g. redis://127.0.0.1:6379/0. Unset: in-memory layer, eager Celery, locmem.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Embedded default: tasks run in-process, still only after the transaction commits.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 270
# Idempotent tasks are acknowledged after they finish, and redelivered if a worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longest retry backoff is common.tasks.MAX_RETRY_BACKOFF (10 min); unacknowledged tasks
# must stay invisible longer than that, or Redis hands them to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- e-mail ---------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp://user:pass@mail.example.org:587; console output when unset.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Exocortex <noreply@localhost>")

# --- inference worker -----------------------------------------------------------------
# INFERENCE_URL: one or more comma-separated worker URLs (OpenAI-compatible API).
INFERENCE_URLS: list[str] = env.list("INFERENCE_URL", default=["http://127.0.0.1:8100"])
# INFERENCE_API_KEY: the workers' shared secret (sent as a bearer token). Empty is fine for
# a worker on loopback without a key (the embedded default); compose requires it.
INFERENCE_API_KEY = env.str("INFERENCE_API_KEY", default="")
# Longest wait for one piece of a model response (queueing included), seconds.
INFERENCE_TIMEOUT_SECONDS = env.float("INFERENCE_TIMEOUT_SECONDS", default=300.0)

# --- retrieval -----------------------------------------------------------------------
# CPU threads of the embedding engine (courses.embeddings). Default 1: a query takes
# tens of milliseconds on one thread and does not fight the web process for cores.
EMBEDDING_THREADS = env.int("EMBEDDING_THREADS", default=1)

# --- learner model (learning/) ---------------------------------------------------------
# P(known) from knowledge tracing at which a skill counts as mastered.
LEARNING_MASTERY_THRESHOLD = env.float("LEARNING_MASTERY_THRESHOLD", default=0.95)
# Probability of recall FSRS aims for when it schedules a mastered skill's next review.
LEARNING_REVIEW_RETENTION = env.float("LEARNING_REVIEW_RETENTION", default=0.9)
# A skill's BKT parameters are fitted (nightly) once it has this many learners and
# first attempts; until then it uses learning.bkt.DEFAULT_PARAMS.
LEARNING_BKT_FIT_MIN_LEARNERS = env.int("LEARNING_BKT_FIT_MIN_LEARNERS", default=20)
LEARNING_BKT_FIT_MIN_OBSERVATIONS = env.int("LEARNING_BKT_FIT_MIN_OBSERVATIONS", default=200)
# A student is "stuck" on a skill after this many first attempts without mastering it.
LEARNING_STUCK_ATTEMPTS = env.int("LEARNING_STUCK_ATTEMPTS", default=6)
# First wait before a free-response grading task retries (doubling each time) while the
# inference worker is down or busy, seconds.
LEARNING_GRADING_RETRY_SECONDS = env.float("LEARNING_GRADING_RETRY_SECONDS", default=10.0)
CELERY_BEAT_SCHEDULE = {
    "learning-fit-skill-params": {
        "task": "learning.tasks.fit_skill_params",
        "schedule": 24 * 60 * 60,
    },
}

# --- tutor chat (tutor/) ------------------------------------------------------------------
# Turns of the conversation the model sees; longest student message (characters); longest
# reply (tokens); window in which streamed text is batched into one socket frame (ms).
TUTOR_CONTEXT_TURNS = env.int("TUTOR_CONTEXT_TURNS", default=8)
TUTOR_MAX_MESSAGE_CHARS = env.int("TUTOR_MAX_MESSAGE_CHARS", default=2000)
TUTOR_MAX_TOKENS = env.int("TUTOR_MAX_TOKENS", default=300)
TUTOR_COALESCE_MS = env.int("TUTOR_COALESCE_MS", default=50)
# Messages one student may send the tutor per window (seconds).
TUTOR_RATE_LIMIT_MESSAGES = env.int("TUTOR_RATE_LIMIT_MESSAGES", default=20)
TUTOR_RATE_LIMIT_WINDOW_SECONDS = env.int("TUTOR_RATE_LIMIT_WINDOW_SECONDS", default=60)
# Photos of work (tutor.photos): bytes as uploaded (the browser shrinks photos first; keep
# it under REQUEST_BODY_MAX_BYTES), pixels in the header, the longer side sent to the model.
# Below this similarity of the best course passage (multilingual-e5-small cosine) a
# question counts as outside the course (measured on the demo course: docs/tutor.md).
TUTOR_OFF_TOPIC_SCORE = env.float("TUTOR_OFF_TOPIC_SCORE", default=0.75)
TUTOR_PHOTO_MAX_BYTES = env.int("TUTOR_PHOTO_MAX_BYTES", default=2 * 1024 * 1024)
TUTOR_PHOTO_MAX_PIXELS = env.int("TUTOR_PHOTO_MAX_PIXELS", default=16_000_000)
TUTOR_PHOTO_MODEL_MAX_SIDE = env.int("TUTOR_PHOTO_MODEL_MAX_SIDE", default=1024)
TUTOR_PHOTO_RATE_LIMIT = env.int("TUTOR_PHOTO_RATE_LIMIT", default=10)
# Learner memory (tutor.memory): the hour (UTC, 0-23) at which beat starts the
# nightly distillation; per learner and course, at most this many of the newest turns and
# characters of them are read each night (older unread turns are skipped: the cost of a
# night is bounded whatever a learner wrote). The characters must fit the model's context.
TUTOR_MEMORY_HOUR = env.int("TUTOR_MEMORY_HOUR", default=2)
TUTOR_MEMORY_SOURCE_TURNS = env.int("TUTOR_MEMORY_SOURCE_TURNS", default=40)
TUTOR_MEMORY_SOURCE_CHARS = env.int("TUTOR_MEMORY_SOURCE_CHARS", default=3000)
CELERY_BEAT_SCHEDULE["tutor-distil-memories"] = {
    "task": "tutor.tasks.distil_memories",
    "schedule": crontab(hour=TUTOR_MEMORY_HOUR, minute=0),
}

# --- product limits -------------------------------------------------------------------
VARIANTS_MAX_PER_REQUEST = env.int("VARIANTS_MAX_PER_REQUEST", default=10)
CLASSROOM_DEFAULT_CAPACITY = env.int("CLASSROOM_DEFAULT_CAPACITY", default=40)
CLASSROOM_CODE_TTL_DAYS = env.int("CLASSROOM_CODE_TTL_DAYS", default=14)
# Log-in and class-join attempts per window count against two limits: the account's
# (the e-mail typed, or the student) against guessing one password, and the client
# address's against guessing across many accounts. A whole school often comes from one
# address (NAT), so the address limit is far higher; raise it for a school of more than
# about a thousand. Successful attempts give theirs back. Sign-ups count per address.
RATE_LIMIT_ACCOUNT_ATTEMPTS = env.int("RATE_LIMIT_ACCOUNT_ATTEMPTS", default=10)
RATE_LIMIT_ADDRESS_ATTEMPTS = env.int("RATE_LIMIT_ADDRESS_ATTEMPTS", default=300)
RATE_LIMIT_WINDOW_SECONDS = env.int("RATE_LIMIT_WINDOW_SECONDS", default=300)

# --- security defaults valid everywhere -------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# 'self' covers same-origin WebSockets; data: images for inline previews.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
