"""One error family for Atrium.

Every error Atrium raises on purpose derives from :class:`AtriumError` and carries a
stable ``code`` (machine readable), an HTTP ``status`` and a ``hint`` that tells the
caller what to fix. ``extensions.routes.errors`` is the only place that turns them into
HTTP responses; library errors are converted at the boundary with ``raise ... from exc``.

    AtriumError
     ├── ConfigurationError        (start-up / environment problems, exit code 2)
     │    └── CompatibilityError   (installed LiteLLM differs from the pinned contract)
     ├── MigrationError            (a migration failed; carries its name)
     ├── EngineError               (Prisma engine selection / generation)
     ├── TenancyError
     │    ├── NoTenantContext      (code asked for the tenant where none was decided)
     │    ├── AccountNotResolved   (credentials valid, account unknown: fail closed)
     │    ├── AuthenticationRequired (no credentials on a route that needs them)
     │    ├── InvalidCredential    (a token hash presented as a key)
     │    ├── AccountInactive      (suspended or deleted account)
     │    └── RouteNotAllowed      (route not classified as safe for tenant principals)
     └── RequestError              (bad input: 400/404/409)
          ├── NotFound
          └── Conflict
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountInactive",
    "AccountNotResolved",
    "AtriumError",
    "AuthenticationRequired",
    "CompatibilityError",
    "ConfigurationError",
    "Conflict",
    "EngineError",
    "InvalidCredential",
    "MigrationError",
    "NoTenantContext",
    "NotFound",
    "RequestError",
    "RouteNotAllowed",
    "TenancyError",
]


class AtriumError(Exception):
    code: str = "atrium_error"
    status: int = 500

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body (``Retry-After`` on a 429); none by default."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body

    def response_body(self, request_id: str | None) -> dict[str, Any]:
        """The HTTP body: LiteLLM's ``{"error": {...}}`` shape, so clients parse both alike."""
        return {"error": {**self.to_dict(), "type": self.code, "request_id": request_id}}

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(AtriumError):
    code = "configuration_error"


class CompatibilityError(ConfigurationError):
    code = "litellm_incompatible"


class MigrationError(AtriumError):
    code = "migration_failed"

    def __init__(self, migration: str, error: str) -> None:
        super().__init__(
            f"migration {migration} failed: {error}",
            hint="fix the migration or the database, then run `scripts/deploy.sh migrate` again; "
            "earlier migrations stay applied",
            migration=migration,
        )
        self.migration = migration
        self.error = error


class EngineError(AtriumError):
    code = "prisma_engine_error"


class TenancyError(AtriumError):
    code = "tenancy_error"
    status = 403


class NoTenantContext(TenancyError):
    code = "no_tenant_context"
    status = 500


class AccountNotResolved(TenancyError):
    code = "account_not_resolved"
    status = 403


class AuthenticationRequired(TenancyError):
    code = "authentication_required"
    status = 401


class InvalidCredential(TenancyError):
    code = "invalid_api_key"
    status = 401


class AccountInactive(TenancyError):
    code = "account_inactive"
    status = 403


class RouteNotAllowed(TenancyError):
    code = "route_not_allowed"
    status = 403


class RequestError(AtriumError):
    code = "bad_request"
    status = 400


class NotFound(RequestError):
    code = "not_found"
    status = 404


class Conflict(RequestError):
    code = "conflict"
    status = 409
