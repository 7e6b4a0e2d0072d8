from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.models import RETENTION_MAX_DAYS, RETENTION_MIN_DAYS, AuditAction


def _days(label):
    return forms.IntegerField(
        label=label, min_value=RETENTION_MIN_DAYS, max_value=RETENTION_MAX_DAYS
    )


class RetentionForm(forms.Form):
    transcripts_days = _days(_("Tutor conversations (days)"))
    photos_days = _days(_("Photos of work (days)"))
    memory_days = _days(_("Tutor's memory of a student (days)"))


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All")), *AuditAction.choices]
    )
    actor = forms.IntegerField(label=_("By"), required=False, min_value=1)
    subject = forms.IntegerField(label=_("About"), required=False, min_value=1)
    since = forms.DateField(label=_("From"), required=False)
    until = forms.DateField(label=_("To"), required=False)
