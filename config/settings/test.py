"""Test settings: the embedded default, or the real services when DATABASE_URL/REDIS_URL
are exported (CI does both)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import STATIC_ROOT, VAR_DIR

DEBUG = False
SECRET_KEY = "test-only-insecure-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
VAR_DIR.mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_USE_FINDERS = True
# Celery's Django fixup closes a task's connection afterwards only when it is not reused;
# a worker thread left holding one would block dropping the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
