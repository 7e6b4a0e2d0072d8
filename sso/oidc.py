"""OpenID Connect, stricter than allauth's generic provider (SOCIALACCOUNT_PROVIDERS
swaps this class in):

* the id_token's signature is always checked against the provider's JWKS (allauth skips
  it when the token came straight from the token endpoint, which the specification
  allows; a school's self-hosted provider behind a misconfigured proxy is the case we
  guard against);
* every authorization request carries a nonce derived from its state, and the id_token
  must echo it, so a code or token from another sign-in cannot be slipped in;
* the userinfo answer must be about the id_token's subject.

PKCE is on for every provider (settings: OAUTH_PKCE_ENABLED).
"""

from typing import Any

from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp, SocialLogin, SocialToken
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect import provider as allauth_oidc
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import get_request_param
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare, salted_hmac


def oidc_nonce(state_id: str) -> str:
    """The nonce sent with the authorization request whose state is `state_id`."""
    return salted_hmac("sso.oidc.nonce", state_id, algorithm="sha256").hexdigest()


class OpenIDConnectAdapter(OpenIDConnectOAuth2Adapter):
    def complete_login(
        self, request: HttpRequest, app: SocialApp, token: SocialToken, **kwargs: Any
    ) -> SocialLogin:
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise OAuth2Error("The identity provider sent no id_token.")
        claims = jwtkit.verify_and_decode(
            credential=id_token,
            keys_url=self.openid_config["jwks_uri"],
            issuer=self.openid_config["issuer"],
            audience=app.client_id,
            lookup_kid=jwtkit.lookup_kid_jwk,
            verify_signature=True,
        )
        # The callback view has already matched `state` to one this session started.
        state_id = get_request_param(request, "state") or ""
        if not constant_time_compare(str(claims.get("nonce", "")), oidc_nonce(state_id)):
            raise OAuth2Error("The id_token's nonce does not match this sign-in.")
        data: dict[str, Any] = {"id_token": claims}
        if app.settings.get("fetch_userinfo", True):
            userinfo = self._fetch_user_info(token.token)
            if str(userinfo.get("sub")) != str(claims.get("sub")):
                raise OAuth2Error("The userinfo answer is about another subject.")
            data["userinfo"] = userinfo
        return self.get_provider().sociallogin_from_response(request, data)


class OpenIDConnectProvider(allauth_oidc.OpenIDConnectProvider):
    oauth2_adapter_class = OpenIDConnectAdapter

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        state_id = get_adapter().generate_state_param({})
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        auth_params = {**auth_params, "nonce": oidc_nonce(state_id)}
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, state_id=state_id, **kwargs
        )
