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
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "courses",
    "learning",
    "tutor",
    "voice",
    "privacy",
    "frontend",
    "ops",
    "lti",
    "sso",  # before allauth: its templates replace allauth's pages (docs/sso.md)
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files are not counted, every Django answer is.
    "ops.middleware.RequestMetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.PreferredLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # django-allauth (single sign-on, sso/) needs the request in its flows.
    "allauth.account.middleware.AccountMiddleware",
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

# --- operations (ops/): metrics ------------------------------------------------------
# Bearer token a Prometheus scraper presents for /metrics. Empty: /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Directory where each process (uvicorn workers, Celery's prefork children) writes its
# metric values so one scrape sums them; must be empty at start. prometheus-client reads
# the same variable itself. Empty: each process reports only its own values.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
# Port on which a Celery worker serves its task metrics (0: none). Compose sets 9808.
CELERY_METRICS_PORT = env.int("CELERY_METRICS_PORT", default=0)

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

# --- privacy (privacy/): export, deletion, retention -------------------------------------
# Days between a deletion request and the erasure it schedules; cancellable until then.
PRIVACY_DELETION_COOL_OFF_DAYS = env.int("PRIVACY_DELETION_COOL_OFF_DAYS", default=7)
# Days a school keeps each kind of data unless its admin sets its own (1-3650 days):
# tutor conversations (and voice transcripts), photos of work, the tutor's learner
# memory. Voice recordings have their own bound (voice.models.SchoolVoicePolicy).
PRIVACY_RETENTION_DAYS = {
    "transcripts": env.int("PRIVACY_RETENTION_TRANSCRIPTS_DAYS", default=365),
    "photos": env.int("PRIVACY_RETENTION_PHOTOS_DAYS", default=90),
    "memory": env.int("PRIVACY_RETENTION_MEMORY_DAYS", default=365),
}
# Data exports one user may download per hour (an export reads everything a student has).
PRIVACY_EXPORT_RATE_LIMIT = env.int("PRIVACY_EXPORT_RATE_LIMIT", default=5)
PRIVACY_EXPORT_RATE_WINDOW_SECONDS = 3600
CELERY_BEAT_SCHEDULE["privacy-erase-due"] = {
    "task": "privacy.tasks.erase_due",
    "schedule": 60 * 60,
}
CELERY_BEAT_SCHEDULE["privacy-enforce-retention"] = {
    "task": "privacy.tasks.enforce_retention",
    "schedule": crontab(hour=3, minute=30),
}

# --- voice: speech-to-text (voice/) ------------------------------------------------------
# Whisper model for speech-to-text: a packaged name ("base": multilingual, the default;
# "tiny.en": English only) or the folder of a CTranslate2 Whisper model (a GPU box can
# use a larger one). Packaged models are assembled once into VOICE_MODEL_DIR.
VOICE_STT_MODEL = env.str("VOICE_STT_MODEL", default="base")
VOICE_MODEL_DIR = env.str("VOICE_MODEL_DIR", default=str(VAR_DIR / "voice-models"))
# "cpu" or "cuda"; int8 on a CPU ("float16" suits a GPU); CPU threads per speech worker
# process; beam width (5, Whisper's usual: greedy decoding (1) was no faster on short
# clips and fell into repetition loops on Spanish, bench/bench_voice.py).
VOICE_STT_DEVICE = env.str("VOICE_STT_DEVICE", default="cpu")
VOICE_STT_COMPUTE_TYPE = env.str("VOICE_STT_COMPUTE_TYPE", default="int8")
VOICE_STT_THREADS = env.int("VOICE_STT_THREADS", default=2)
VOICE_STT_BEAM_SIZE = env.int("VOICE_STT_BEAM_SIZE", default=5)
# Shortest encoder window, seconds: a short question is heard in a window of its speech
# plus 5 s, at least this long, instead of Whisper's fixed 30 s (about 3x faster on short
# questions, same error rate: docs/voice.md); 30 turns fitted windows off.
VOICE_STT_MIN_WINDOW_SECONDS = env.int("VOICE_STT_MIN_WINDOW_SECONDS", default=10)
# Longest recording (seconds) and its size as sent (bytes); clips per learner per window.
VOICE_CLIP_MAX_SECONDS = env.float("VOICE_CLIP_MAX_SECONDS", default=60.0)
VOICE_CLIP_MAX_BYTES = env.int("VOICE_CLIP_MAX_BYTES", default=3 * 1024 * 1024)
VOICE_RATE_LIMIT_CLIPS = env.int("VOICE_RATE_LIMIT_CLIPS", default=12)
VOICE_RATE_LIMIT_WINDOW_SECONDS = env.int("VOICE_RATE_LIMIT_WINDOW_SECONDS", default=60)
# How long the tutor socket waits for a recording's transcript before giving up.
VOICE_TRANSCRIPT_WAIT_SECONDS = env.int("VOICE_TRANSCRIPT_WAIT_SECONDS", default=60)
# Longest the tutor socket spends reading one reply aloud before giving up on the audio.
VOICE_SPEAK_TIMEOUT_SECONDS = env.int("VOICE_SPEAK_TIMEOUT_SECONDS", default=60)
# Transcription runs on its own queue: `celery -A config worker -Q speech` holds the model.
CELERY_TASK_ROUTES = {"voice.tasks.transcribe_clip": {"queue": "speech"}}
# Recordings a school keeps (voice.models.SchoolVoicePolicy) are deleted when their days
# are up; the hourly purge also fails clips whose transcription was lost.
CELERY_BEAT_SCHEDULE["voice-purge-expired-audio"] = {
    "task": "voice.tasks.purge_expired_audio",
    "schedule": 60 * 60,
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
# Two-factor sign-in (optional, for teachers and admins): the name authenticator apps show,
# and how long a password that was right waits for its code before it must be typed again.
OTP_TOTP_ISSUER = "Exocortex"
TWO_FACTOR_PENDING_SECONDS = 300
TWO_FACTOR_BACKUP_CODES = 10
# LTI login initiations per client address per RATE_LIMIT_WINDOW_SECONDS: each keeps a
# state and nonce for 10 minutes. High, because a whole school's launches come from one
# address at the start of a lesson.
LTI_LOGIN_ATTEMPTS_PER_ADDRESS = 3000

# --- single sign-on (sso/, docs/sso.md) -------------------------------------------------
# Schools sign in through their own OpenID Connect or SAML identity provider, set up in
# the admin site (sso.models.IdentityProvider); local accounts stay. Only allauth's
# social login is used: its local account pages are never mounted (sso/urls.py), sign-up
# happens without a form (sso.adapters) and no allauth e-mail is sent.
ACCOUNT_ADAPTER = "sso.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "sso.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_EMAIL_VERIFICATION = "none"
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# Linking to an existing account by e-mail is sso.services' decision (same school only).
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_AUTO_SIGNUP = True
# Access and refresh tokens are not kept: nothing here calls the identity provider later.
SOCIALACCOUNT_STORE_TOKENS = False
# The buttons are links, not forms: the page's CSP (form-action 'self') would block a form
# whose answer redirects to the identity provider. Only process=login is accepted.
SOCIALACCOUNT_LOGIN_ON_GET = True
SOCIALACCOUNT_PROVIDERS = {
    # sso.oidc's provider: always checks the id_token's signature, sends and checks a nonce.
    "openid_connect": {
        "provider_class": "sso.oidc.OpenIDConnectProvider",
        "OAUTH_PKCE_ENABLED": True,
    },
}

# --- security defaults valid everywhere -------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# 'self' covers same-origin WebSockets; data: images for inline previews; blob: media for
# the tutor's spoken replies, which the page receives as WAV and plays from memory.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "media-src": ["'self'", "blob:"],
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

# Logs and error reports carry no personal data by default: e-mail addresses are masked
# in every log line (privacy.logging), and error reports leave out all POST data.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_personal_data": {"()": "privacy.logging.MaskPersonalDataFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_personal_data"]},
        # Django's own error mails (to ADMINS, none by default), masked the same way.
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "level": "ERROR",
            "filters": ["require_debug_false", "mask_personal_data"],
        },
    },
    "loggers": {"django": {"handlers": ["mail_admins"], "level": "INFO"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "privacy.logging.NoPersonalDataReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "privacy.logging.NoPersonalDataExceptionReporter"
