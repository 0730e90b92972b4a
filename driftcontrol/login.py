"""The sign-in forms of the dashboard and of Django's admin, both behind one lockout."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from driftcontrol.lockout import SignIn


class LoginForm(AuthenticationForm):
    """Refuse while the account or the address is locked, before the password is even
    checked (so a locked account gives no answer about it), and count wrong passwords."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        # Both views pass the request; without one there is no address to count.
        if self.request is None or not username or not self.cleaned_data.get("password"):
            return super().clean()
        attempt = SignIn(self.request, username)
        refusal = attempt.refusal()
        if refusal:
            raise forms.ValidationError(str(refusal), code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            # A right password for an account that may not use this form (inactive, not
            # staff for the admin) is no guess: only a failed authentication counts.
            if self.user_cache is None:
                refusal = attempt.failed()
                if refusal:
                    raise forms.ValidationError(str(refusal), code="locked") from None
            raise
        attempt.succeeded()
        return cleaned


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's form (staff only, its wording) behind the same lockout."""
