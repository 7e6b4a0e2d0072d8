"""Which school an identity provider signs people in to, and how its accounts map.

The protocol side (client id and secret, SAML certificates, endpoints) stays on
allauth's SocialApp; this model ties one SocialApp to one School (docs/sso.md).
"""

from allauth.socialaccount.models import SocialApp
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, School

OIDC = "openid_connect"
SAML = "saml"
PROTOCOLS = (OIDC, SAML)
# When several groups map to roles, the person gets the highest of them.
ROLE_RANK = {Role.STUDENT: 0, Role.TEACHER: 1, Role.SCHOOL_ADMIN: 2}


def parse_domains(value: str) -> list[str]:
    """'Example.org, pupils.example.org' -> ['example.org', 'pupils.example.org']."""
    parts = value.replace(",", " ").split()
    return sorted({p.strip().lstrip("@").lower() for p in parts if p.strip()})


class IdentityProvider(models.Model):
    """One school's OpenID Connect or SAML identity provider."""

    app = models.OneToOneField(
        SocialApp,
        on_delete=models.CASCADE,
        related_name="identity_provider",
        verbose_name=_("provider app"),
        help_text=_("The allauth application holding the protocol settings."),
    )
    school = models.ForeignKey(
        School,
        on_delete=models.CASCADE,
        related_name="identity_providers",
        verbose_name=_("school"),
    )
    label = models.CharField(
        _("button label"),
        max_length=60,
        help_text=_('The login page shows "Sign in with <label>".'),
    )
    email_domains = models.CharField(
        _("e-mail domains"),
        max_length=500,
        blank=True,
        help_text=_(
            "Comma-separated. People type an address of these domains to find this "
            "provider; the provider may sign in only such addresses, and vouches for them. "
            "Empty: any address the provider has verified."
        ),
    )
    role_attribute = models.CharField(
        _("role claim or attribute"),
        max_length=200,
        blank=True,
        default="groups",
        help_text=_("The claim (OpenID Connect) or attribute (SAML) listing groups or roles."),
    )
    role_mapping = models.JSONField(
        _("role mapping"),
        default=dict,
        blank=True,
        help_text=_('Group value to role, e.g. {"staff": "teacher", "it-admins": "school_admin"}.'),
    )
    default_role = models.CharField(
        _("default role"), max_length=16, choices=Role.choices, default=Role.STUDENT
    )
    sync_role = models.BooleanField(
        _("update the role at every sign-in"),
        default=False,
        help_text=_("Off: the role is set once, when the account is created."),
    )
    show_on_login_page = models.BooleanField(_("button on the login page"), default=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label", "id"]
        verbose_name = _("identity provider")
        verbose_name_plural = _("identity providers")

    def __str__(self) -> str:
        return f"{self.label} ({self.school})"

    @property
    def protocol(self) -> str:
        return self.app.provider

    @property
    def domains(self) -> list[str]:
        return parse_domains(self.email_domains)

    def serves_email(self, email: str) -> bool:
        """Whether this provider may sign in `email` (any address when no domains are set)."""
        domains = self.domains
        return not domains or email.rpartition("@")[2].lower() in domains

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:  # in the admin's add page, the unsaved application being added
            app = self.app
        except SocialApp.DoesNotExist:
            app = None
        if app is not None:
            errors.update(_app_errors(app))
        self.email_domains = ", ".join(self.domains)
        if self.domains and self.school_id:
            taken = [
                domain
                for other in IdentityProvider.objects.exclude(pk=self.pk).exclude(
                    school_id=self.school_id
                )
                for domain in other.domains
                if domain in self.domains
            ]
            if taken:
                errors["email_domains"] = [
                    _("Another school's provider serves %(domains)s.")
                    % {"domains": ", ".join(sorted(set(taken)))}
                ]
        if not isinstance(self.role_mapping, dict) or not all(
            isinstance(k, str) and v in Role.values for k, v in self.role_mapping.items()
        ):
            errors["role_mapping"] = [
                _("Map each group to one of: %(roles)s.") % {"roles": ", ".join(Role.values)}
            ]
        if errors:
            raise ValidationError(errors)


def _app_errors(app: SocialApp) -> dict[str, list[str]]:
    """What makes `app` unfit to serve one school: accounts are keyed by provider_id,
    and SAML URLs by client_id, so both must be its own."""
    if app.provider not in PROTOCOLS:
        return {"app": [_("Choose an OpenID Connect or SAML application.")]}
    if not app.provider_id:
        return {"app": [_("The application needs a provider ID of its own.")]}
    same_id = SocialApp.objects.exclude(pk=app.pk).filter(
        models.Q(provider_id=app.provider_id) | models.Q(provider=app.provider_id)
    )
    if same_id.exists():
        return {"app": [_("Another application has the same provider ID.")]}
    settings = app.settings or {}
    if app.provider == OIDC and not settings.get("server_url"):
        return {"app": [_('OpenID Connect needs "server_url" in the settings.')]}
    if app.provider == SAML:
        if (
            SocialApp.objects.exclude(pk=app.pk)
            .filter(provider=SAML, client_id=app.client_id)
            .exists()
        ):
            return {"app": [_("Another SAML application has the same client id.")]}
        idp = settings.get("idp") or {}
        if not idp.get("entity_id") or not (
            idp.get("metadata_url") or (idp.get("sso_url") and idp.get("x509cert"))
        ):
            return {
                "app": [
                    _(
                        'SAML needs "idp" in the settings: "entity_id" and either '
                        '"metadata_url" or "sso_url" and "x509cert".'
                    )
                ]
            }
    return {}
