"""The embedded default as `make run` serves it (scripts/run_embedded.sh): the dev
settings with debug off.

Debug pages show settings, local variables and, on a 404, every URL of the site, and the
embedded default may well be reachable from a school's network. `make dev` keeps them.
With debug off no server serves static files by itself: WhiteNoise does, from
frontend/static and frontend/build (WHITENOISE_USE_FINDERS, set in dev).
"""

import secrets

from config.settings import base
from config.settings.dev import *  # noqa: F403
from config.settings.dev import VAR_DIR

DEBUG = False

# The dev key is public. Unless SECRET_KEY is set, keep a random one of this installation
# in VAR_DIR, so that sessions cannot be forged and survive a restart.
if not base.SECRET_KEY:  # from the environment
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        _key_file.touch(mode=0o600)
        _key_file.write_text(secrets.token_urlsafe(64))
    SECRET_KEY = _key_file.read_text().strip()
