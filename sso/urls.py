"""Single sign-on URLs under /sso/. Only what signing in needs is mounted: allauth's
local account pages (sign-up, password reset, its own login) are not.

* /sso/oidc/<provider id>/login/ and .../login/callback/ (the redirect URI);
* /sso/saml/<client id>/login/, acs/, acs/finish/, sls/ and metadata/ (allauth's own).
"""

from allauth.socialaccount.providers.saml import urls as saml_urls
from django.urls import include, path

from sso import views

sso_patterns = ([path("find/", views.provider_find, name="find")], "sso")

urlpatterns = [
    path("", include(sso_patterns)),
    # allauth reverses these by their own names, outside any namespace.
    path("cancelled/", views.login_cancelled, name="socialaccount_login_cancelled"),
    path("oidc/<str:provider_id>/login/", views.oidc_login, name="openid_connect_login"),
    path(
        "oidc/<str:provider_id>/login/callback/",
        views.oidc_callback,
        name="openid_connect_callback",
    ),
    path("", include(saml_urls)),
]
