"""The one module that talks to pylti1p3: OIDC login initiation, verifying a launch's
id_token, and the tool's RSA keys and signed messages. The rest of the app sees plain
claims (`VerifiedLaunch`) and ApplicationError.

What pylti1p3 does not do, and this module adds:

* nonces are single use: the nonce is consumed (an atomic cache delete) after the
  signature checked out, so a replayed id_token is refused;
* the audience, expiry and issued-at are verified by PyJWT (pylti1p3 turns the audience
  check off and only compares the first `aud` with the client id);
* only RSA signatures (RS256/384/512) are accepted;
* the platform's keyset is fetched with a timeout, and cached for a few minutes;
* the launch's claims are not copied into the cache.

State and nonce live in the Django cache (Redis in services mode), never in the session
cookie, which is SameSite=Lax and so absent from the LMS's cross-site POST. The state
cookie pylti1p3 sets is SameSite=None; Secure on HTTPS (docs/lti.md).
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from jwcrypto.jwk import JWK
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.launch_data_storage.cache import DjangoCacheDataStorage
from pylti1p3.contrib.django.session import DjangoSessionService
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract

from common.errors import ApplicationError
from lti.models import LtiDeployment, LtiPlatform, LtiToolKey

logger = logging.getLogger(__name__)

# How long the state and nonce of a login wait for the platform's answer, seconds.
LAUNCH_DATA_SECONDS = 600
# Clock difference between the LMS and this server that exp/iat may show, seconds.
CLOCK_SKEW_SECONDS = 60
KEY_SET_TIMEOUT_SECONDS = 5
KEY_SET_CACHE_SECONDS = 300
ALGORITHMS = ("RS256", "RS384", "RS512")
RSA_KEY_BITS = 2048

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
MESSAGE_RESOURCE_LINK = "LtiResourceLinkRequest"
MESSAGE_DEEP_LINKING = "LtiDeepLinkingRequest"


@dataclass(frozen=True)
class VerifiedLaunch:
    """An id_token whose signature, audience, expiry, nonce and deployment checked out."""

    platform: LtiPlatform
    deployment: LtiDeployment
    claims: dict[str, Any]

    @property
    def message_type(self) -> str:
        return self.claims.get(CLAIM + "message_type", "")

    def claim(self, name: str, default: Any = None) -> Any:
        """An LTI claim by its short name (`roles`, `context`, `custom`, ...)."""
        return self.claims.get(CLAIM + name, default)

    @property
    def platform_urls(self) -> tuple[str, ...]:
        """URLs of the LMS's own pages the (signed) launch names: the page that frames us
        may live on another host than the issuer (Canvas cloud: the school's instance)."""
        urls = []
        for claim, key in (
            (self.claim("launch_presentation"), "return_url"),
            (self.claims.get(CLAIM_DEEP_LINKING), "deep_link_return_url"),
            (self.claim("tool_platform"), "url"),
        ):
            if isinstance(claim, dict) and isinstance(claim.get(key), str):
                urls.append(claim[key])
        return tuple(urls)


def _refused(reason: str, *, status: int = 403) -> ApplicationError:
    logger.info("LTI launch refused: %s", reason)
    return ApplicationError(
        _(
            "Your learning platform's launch could not be verified, so Exocortex did not "
            "open. Go back to the course and open the link again; if it keeps failing, "
            "ask your school's Exocortex administrator."
        ),
        extra={"status": status, "reason": reason},
    )


# --- pylti1p3 plumbing -----------------------------------------------------------------


class _Storage(DjangoCacheDataStorage):
    def pop_value(self, key: str) -> bool:
        """Delete `key`; True for the one caller that found it (delete is atomic)."""
        return bool(self._get_cache().delete(self._prepare_key(key)))


class _SessionService(DjangoSessionService):
    _launch_data_lifetime = LAUNCH_DATA_SECONDS

    def check_nonce(self, nonce: str) -> bool:
        return self.data_storage.pop_value(self._get_key("nonce", nonce))


class _TimeoutSession(requests.Session):
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", KEY_SET_TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def _registration(platform: LtiPlatform) -> Registration:
    registration = (
        Registration()
        .set_issuer(platform.issuer)
        .set_client_id(platform.client_id)
        .set_auth_login_url(platform.auth_login_url)
        .set_auth_token_url(platform.auth_token_url)
    )
    if platform.key_set:
        registration.set_key_set(platform.key_set)
    else:
        registration.set_key_set_url(platform.key_set_url)
    return registration


class _ToolConf(ToolConfAbstract):
    """Registrations and deployments from the database; remembers what it found."""

    def __init__(self) -> None:
        super().__init__()
        self.platform: LtiPlatform | None = None
        self.deployment: LtiDeployment | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        return None

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        platforms = LtiPlatform.objects.filter(issuer=iss, is_active=True).select_related("school")
        if client_id:
            platforms = platforms.filter(client_id=client_id)
        found = list(platforms[:2])
        if len(found) != 1:  # none, or several and the platform did not say which
            return None
        self.platform = found[0]
        return _registration(self.platform)

    def find_deployment(self, iss, deployment_id):
        return None

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        if self.platform is None:
            return None
        self.deployment = LtiDeployment.objects.filter(
            platform=self.platform, deployment_id=deployment_id
        ).first()
        if self.deployment is None:
            return None
        return Deployment().set_deployment_id(deployment_id)


class _MessageLaunch(DjangoMessageLaunch):
    def get_client_id(self) -> str:
        body = self._get_jwt_body()
        aud, azp = body.get("aud"), body.get("azp")
        if isinstance(aud, list):
            if azp and azp in aud:
                return azp
            return aud[0] if aud else ""
        return aud

    def validate(self):
        # pylti1p3's order, except that the nonce is consumed only once the signature is
        # known good (a forged token must not burn a real user's nonce).
        self._validated = True
        try:
            return (
                self.validate_state()
                .validate_jwt_format()
                .validate_registration()
                .validate_jwt_signature()
                .validate_nonce()
                .validate_deployment()
                .validate_message()
                .save_launch_data()
            )
        except Exception:
            self._validated = False
            raise

    def validate_jwt_signature(self):
        public_key, algorithm = self.get_public_key()
        if algorithm not in ALGORITHMS:
            raise LtiException(f"Unsupported signing algorithm {algorithm}")
        client_id = self._registration.get_client_id()
        try:
            claims = jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[algorithm],
                audience=client_id,
                issuer=self._registration.get_issuer(),
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "aud", "iss", "nonce"]},
            )
        except jwt.InvalidTokenError as exc:
            raise LtiException(f"Can't decode id_token: {exc}") from exc
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
            raise LtiException("Several audiences and azp is not the client id")
        self._jwt["body"] = claims
        return self

    def save_launch_data(self):
        # Only mark the state used by this token; the claims are not kept in the cache.
        self._session_service.set_state_valid(
            self._get_request_param("state"), self._get_id_token_hash()
        )
        return self


# --- what the views call ---------------------------------------------------------------


def login_redirect(request: HttpRequest, *, launch_url: str) -> HttpResponse:
    """The OIDC login initiation's answer: a redirect to the platform's authentication
    URL with a fresh state (also set as a cookie) and nonce (kept in the cache)."""
    login = DjangoOIDCLogin(
        request,
        _ToolConf(),
        session_service=_SessionService(request),
        launch_data_storage=_Storage(),
    )
    try:
        return login.redirect(launch_url)
    except OIDCException as exc:
        raise _refused(f"login initiation: {exc}", status=400) from exc


def launch_verify(request: HttpRequest) -> VerifiedLaunch:
    """Check the id_token POSTed to the launch URL; ApplicationError (status 403, or
    400 when it is not a launch at all) otherwise. Consumes the nonce."""
    if not request.POST.get("id_token") or not request.POST.get("state"):
        raise _refused("no id_token or state", status=400)
    tool_conf = _ToolConf()
    try:
        launch = _MessageLaunch(
            request,
            tool_conf,
            session_service=_SessionService(request),
            launch_data_storage=_Storage(),
            requests_session=_TimeoutSession(),
        )
        launch.set_public_key_caching(_Storage(), cache_lifetime=KEY_SET_CACHE_SECONDS)
        launch.validate()
    except LtiException as exc:
        raise _refused(str(exc)) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A token with claims of the wrong shape (e.g. a number where a list belongs).
        raise _refused(f"malformed token: {exc!r}", status=400) from exc
    if tool_conf.platform is None or tool_conf.deployment is None:  # validate() found both
        raise _refused("no registration or deployment after validation")
    return VerifiedLaunch(
        platform=tool_conf.platform,
        deployment=tool_conf.deployment,
        claims=dict(launch.get_launch_data()),
    )


def deep_linking_response_jwt(
    *,
    platform: LtiPlatform,
    deployment_id: str,
    settings: dict[str, Any],
    items: list[dict[str, Any]],
    key: LtiToolKey,
) -> str:
    """The LtiDeepLinkingResponse for `items` (title, url, custom), signed with `key`."""
    resources = [
        DeepLinkResource()
        .set_title(item["title"])
        .set_url(item["url"])
        .set_custom_params(item["custom"])
        for item in items
    ]
    message = DeepLink(_registration(platform), deployment_id, settings).get_message_jwt(resources)
    return jwt.encode(message, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})


def key_pair_new() -> tuple[str, str, dict[str, Any]]:
    """A fresh RSA key: (kid, private key PEM, public JWK). The kid is the RFC 7638
    thumbprint, as pylti1p3 and most platforms compute it."""
    key = JWK.generate(kty="RSA", size=RSA_KEY_BITS)
    kid = key.thumbprint()
    public = json.loads(key.export_public())
    public.update(kid=kid, alg="RS256", use="sig")
    private_pem = key.export_to_pem(private_key=True, password=None).decode()
    return kid, private_pem, public
