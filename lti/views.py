"""The URLs a school's LMS calls. Each parses input, calls one service, renders.

The LMS POSTs the login initiation and the launch from its own site, so those (and the
two forms our framed pages post) are exempt from CSRF: the platform's signature on the
id_token, the single-use state and nonce, and our own signed or one-time tokens protect
them instead. Everything else keeps Django's CSRF check.

Inside the LMS's frame our session cookie (SameSite=Lax) is not kept, so a framed launch
is not logged in there: it shows a button that continues in a new window (`handover`).
Framed pages may be framed by the platform's origins only; error pages by anyone (they
hold a message and nothing to click).
"""

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from common.errors import ApplicationError
from common.ratelimit import client_address, ratelimit_hit
from lti import selectors, services, tool
from lti.models import LtiPlatform
from privacy.models import AuditAction
from privacy.services import audit_record

_BACKEND = "accounts.backends.EmailBackend"


def _csp(**overrides: list[str]) -> str:
    policy = {**settings.CONTENT_SECURITY_POLICY, **overrides}
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def _frameable(
    response: HttpResponse,
    platform: LtiPlatform,
    *,
    urls: tuple[str, ...] = (),
    form_to: str = "",
) -> HttpResponse:
    """Let the platform (the origins of its registered URLs and of `urls`) frame
    `response`; with `form_to`, let the page post a form there."""
    origins = selectors.platform_origins(platform=platform, extra_urls=(*urls, form_to))
    overrides = {"frame-ancestors": ["'self'", *origins]}
    if form_to:
        overrides["form-action"] = ["'self'", *origins]
    response.xframe_options_exempt = True
    response["Content-Security-Policy"] = _csp(**overrides)
    return response


def _error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    retry_after = exc.extra.get("retry_after")
    response = render(
        request,
        "lti/error.html",
        {"message": exc.message},
        status=429 if retry_after is not None else exc.extra.get("status", 400),
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    response.xframe_options_exempt = True
    response["Content-Security-Policy"] = _csp(**{"frame-ancestors": ["*"]})
    return response


def _framed(request: HttpRequest) -> bool:
    return request.headers.get("Sec-Fetch-Dest") == "iframe"


def _log_in(request: HttpRequest, user: User, url: str) -> HttpResponse:
    login(request, user, backend=_BACKEND)
    audit_record(action=AuditAction.LOGIN, actor=user, metadata={"method": "lti"})
    return redirect(url)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def login_initiation(request: HttpRequest) -> HttpResponse:
    """Step 1: the LMS names itself and the user; we answer with a redirect to its
    authentication URL carrying a fresh state and nonce."""
    try:
        # Each initiation stores a state and nonce for 10 minutes: bounded per address.
        ratelimit_hit(
            scope="lti-login:address",
            key=client_address(request),
            limit=settings.LTI_LOGIN_ATTEMPTS_PER_ADDRESS,
            window_seconds=settings.RATE_LIMIT_WINDOW_SECONDS,
        )
        return tool.login_redirect(
            request, launch_url=request.build_absolute_uri(reverse("lti:launch"))
        )
    except ApplicationError as exc:
        return _error(request, exc)


@csrf_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """Step 2: the LMS posts the signed id_token. A resource link signs the user in and
    opens its lesson or course; a deep linking request shows the picker."""
    try:
        verified = tool.launch_verify(request)
        outcome = services.launch_accept(launch=verified)
    except ApplicationError as exc:
        return _error(request, exc)
    if outcome.url is None:
        context = {
            "token": services.deep_link_request_sign(launch=verified, user=outcome.user),
            "choices": selectors.deep_link_choices(user=outcome.user, language=get_language()),
        }
        return _frameable(
            render(request, "lti/deep_link.html", context),
            verified.platform,
            urls=verified.platform_urls,
        )
    if _framed(request):
        token = services.handover_issue(user=outcome.user, url=outcome.url)
        return _frameable(
            render(request, "lti/handover.html", {"token": token}),
            verified.platform,
            urls=verified.platform_urls,
        )
    return _log_in(request, outcome.user, outcome.url)


@csrf_exempt
@require_POST
def handover(request: HttpRequest) -> HttpResponse:
    """A framed launch continuing in a window of its own (one-time token)."""
    try:
        user, url = services.handover_redeem(token=request.POST.get("token", ""))
    except ApplicationError as exc:
        return _error(request, exc)
    return _log_in(request, user, url)


@csrf_exempt
@require_POST
def deep_link_pick(request: HttpRequest) -> HttpResponse:
    """The teacher's choice, answered with the signed LtiDeepLinkingResponse, which the
    page posts back to the LMS. The signed request token in the form stands in for a
    session (and for the CSRF cookie, which a framed page does not get)."""
    try:
        pending = services.deep_link_request_read(token=request.POST.get("token", ""))
        response_jwt = services.deep_link_respond(
            request=pending,
            target=request.POST.get("target", ""),
            launch_url=request.build_absolute_uri(reverse("lti:launch")),
        )
    except ApplicationError as exc:
        return _error(request, exc)
    context = {"return_url": pending.return_url, "jwt": response_jwt}
    return _frameable(
        render(request, "lti/deep_link_return.html", context),
        pending.platform,
        form_to=pending.return_url,
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys: the signing key and those still in their grace period."""
    response = JsonResponse(selectors.tool_jwks())
    response["Cache-Control"] = "public, max-age=3600"
    return response
