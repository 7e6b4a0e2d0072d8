"""LTI 1.3: the platforms (LMSs) a school registered, the tool's own signing keys, and
how the platform's users, courses and links map onto Exocortex rows.

* `LtiPlatform` — one registration of one LMS for one school (issuer + client id).
* `LtiDeployment` — a deployment id the platform sends; unknown ones are refused.
* `LtiToolKey` — the tool's RSA key pairs; the newest signs, retiring ones stay published
  in the JWKS until `retires_at` (see lti.services.tool_key_rotate).
* `LtiIdentity` — (issuer, sub) of a platform user, in one school, to one Exocortex user.
* `LtiContext` — an LMS course (context) of a deployment, to one Classroom.
* `LtiResourceLink` — an LMS link, to the Exocortex course or lesson it opens.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Classroom, School
from courses.models import Course, Lesson

URL_MAX_LENGTH = 500
ID_MAX_LENGTH = 255


class LtiPlatform(models.Model):
    """An LMS registration. Site admins create it in Django admin from what the LMS shows
    when the tool is added there (docs/lti.md)."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="lti_platforms")
    name = models.CharField(_("name"), max_length=100)
    issuer = models.CharField(_("issuer"), max_length=ID_MAX_LENGTH)
    client_id = models.CharField(_("client ID"), max_length=ID_MAX_LENGTH)
    auth_login_url = models.URLField(_("authentication request URL"), max_length=URL_MAX_LENGTH)
    auth_token_url = models.URLField(_("access token URL"), max_length=URL_MAX_LENGTH, blank=True)
    # Where the platform publishes its public keys; or the key set pasted inline.
    key_set_url = models.URLField(_("public keyset URL"), max_length=URL_MAX_LENGTH, blank=True)
    key_set = models.JSONField(_("public keyset (JWKS)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("LTI platform")
        verbose_name_plural = _("LTI platforms")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.key_set_url and not self.key_set:
            raise ValidationError(_("Give the platform's keyset URL or paste its keyset."))
        if self.key_set and not (
            isinstance(self.key_set, dict) and isinstance(self.key_set.get("keys"), list)
        ):
            raise ValidationError({"key_set": _('A keyset is a JSON object with "keys".')})


class LtiDeployment(models.Model):
    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(_("deployment ID"), max_length=ID_MAX_LENGTH)

    class Meta:
        verbose_name = _("LTI deployment")
        verbose_name_plural = _("LTI deployments")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "deployment_id"], name="lti_deployment_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.deployment_id


class LtiToolKey(models.Model):
    """One RSA key pair of the tool. Its `kid` is the RFC 7638 thumbprint."""

    kid = models.CharField(max_length=100, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField()
    # Set when a newer key replaced this one: still published (and verifiable) until then.
    retires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("LTI tool key")
        verbose_name_plural = _("LTI tool keys")

    def __str__(self) -> str:
        return self.kid


class LtiIdentity(models.Model):
    """A platform user (`sub`, unique per issuer) as an Exocortex user of the school."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+")
    issuer = models.CharField(max_length=ID_MAX_LENGTH)
    sub = models.CharField(max_length=ID_MAX_LENGTH)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_identities"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("LTI identity")
        verbose_name_plural = _("LTI identities")
        constraints = [
            models.UniqueConstraint(fields=["school", "issuer", "sub"], name="lti_identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.sub}"


class LtiContext(models.Model):
    """An LMS course of a deployment, and the class it became."""

    deployment = models.ForeignKey(LtiDeployment, on_delete=models.CASCADE, related_name="+")
    context_id = models.CharField(max_length=ID_MAX_LENGTH)
    classroom = models.OneToOneField(Classroom, on_delete=models.CASCADE, related_name="lti")
    # False while the class's teacher is a stand-in (a learner launched first).
    has_instructor = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "context_id"], name="lti_context_unique"),
        ]

    def __str__(self) -> str:
        return self.context_id


class LtiResourceLink(models.Model):
    """A link placed in the LMS, and what it opens: a course or one of its lessons."""

    deployment = models.ForeignKey(LtiDeployment, on_delete=models.CASCADE, related_name="+")
    resource_link_id = models.CharField(max_length=ID_MAX_LENGTH)
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="+")
    # Empty: the link opens the course's page.
    lesson = models.ForeignKey(Lesson, null=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "resource_link_id"], name="lti_resource_link_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.resource_link_id
