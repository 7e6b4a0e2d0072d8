"""Input parsing for account pages. Domain rules live in accounts.services."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import NAME_MAX_LENGTH, Role


class SignupForm(forms.Form):
    display_name = forms.CharField(label=_("Your name"), max_length=NAME_MAX_LENGTH)
    email = forms.EmailField(label=_("E-mail"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)
    role = forms.ChoiceField(
        label=_("I am a"),
        choices=[(Role.STUDENT, _("Student")), (Role.TEACHER, _("Teacher"))],
        widget=forms.RadioSelect,
        initial=Role.STUDENT,
    )
    preferred_language = forms.ChoiceField(
        label=_("Language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )
    school_name = forms.CharField(
        label=_("New school's name"),
        max_length=NAME_MAX_LENGTH,
        required=False,
        help_text=_("Teachers: found a new school, or enter your school's staff code below."),
    )
    staff_code = forms.CharField(label=_("School staff code"), max_length=16, required=False)


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)


class TwoFactorCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
        help_text=_("The six digits your authenticator app shows, or a backup code."),
    )


class ClassroomCreateForm(forms.Form):
    name = forms.CharField(label=_("Class name"), max_length=NAME_MAX_LENGTH)
    capacity = forms.IntegerField(
        label=_("Seats"), min_value=1, max_value=500, initial=settings.CLASSROOM_DEFAULT_CAPACITY
    )


class ClassroomJoinForm(forms.Form):
    code = forms.CharField(label=_("Class code"), max_length=16)
