from django.contrib import admin
from django.urls import include, path

from accounts import views as accounts_views
from frontend import views as frontend_views
from ops import views as ops_views

urlpatterns = [
    path("", frontend_views.home, name="home"),
    path("health/", frontend_views.health, name="health"),
    # Liveness, readiness (database, Redis, inference) and Prometheus metrics: docs/admin.md.
    path("healthz", ops_views.healthz, name="healthz"),
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", ops_views.metrics, name="metrics"),
    path("ops/", include("ops.urls")),
    path("accounts/", include("accounts.urls")),
    path("courses/", include("courses.urls")),
    path("learn/", include("learning.urls")),
    path("tutor/", include("tutor.urls")),
    path("privacy/", include("privacy.urls")),
    # LTI 1.3: launches from a school's LMS (docs/lti.md).
    path("lti/", include("lti.urls")),
    # Single sign-on through a school's OpenID Connect or SAML provider (docs/sso.md).
    path("sso/", include("sso.urls")),
    path("i18n/", include("accounts.i18n_urls")),
    # The admin signs in on the app's login page, under its rate limits.
    path("admin/login/", accounts_views.admin_login),
    path("admin/", admin.site.urls),
]
