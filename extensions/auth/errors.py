"""Identity errors: every failed sign-in is one of these, and none of them leaves a session.

AtriumError
 └── IdentityError (400)
      ├── SsoNotConfigured      (404: the account has no enabled SSO)
      ├── LoginRejected         (401: state, code, id_token or email refused)
      ├── AccountAdminRequired  (403: account admin routes)
      ├── IdpUnreachable        (504: timeout; 502: refused / broken answer)
      ├── InvitationInvalid     (410: unknown, used, expired or for another account)
      └── MailFailed            (502: SMTP not configured or refused)
"""

from __future__ import annotations

from typing import Any

from extensions.errors import AtriumError

__all__ = [
    "AccountAdminRequired",
    "IdentityError",
    "IdpUnreachable",
    "InvitationInvalid",
    "LoginRejected",
    "MailFailed",
    "SsoNotConfigured",
]


class IdentityError(AtriumError):
    code = "identity_error"
    status = 400

    def __init__(self, message: str, *, hint: str | None = None, reason: str | None = None, **details: Any) -> None:
        super().__init__(message, hint=hint, **details)
        # Which check refused, as a short code for the audit log (never shown in the answer, whose
        # one body says only the code and message); the error's code when a check names none.
        self.reason = reason or self.code


class SsoNotConfigured(IdentityError):
    code = "sso_not_configured"
    status = 404


class LoginRejected(IdentityError):
    code = "login_rejected"
    status = 401


class AccountAdminRequired(IdentityError):
    code = "account_admin_required"
    status = 403


class IdpUnreachable(IdentityError):
    code = "idp_unreachable"
    status = 502


class InvitationInvalid(IdentityError):
    code = "invitation_invalid"
    status = 410


class MailFailed(IdentityError):
    code = "mail_failed"
    status = 502
