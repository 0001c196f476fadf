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
          ├── InvalidInput         (a request that fails its schema: 422, the field named)
          ├── NotFound
          └── Conflict

Messages never carry unbounded caller input: values are quoted through :func:`echo`, and
the body caps the message (a 5,000-character slug must not come back whole).
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
    "InvalidInput",
    "MigrationError",
    "NoTenantContext",
    "NotFound",
    "RequestError",
    "RouteNotAllowed",
    "TenancyError",
    "echo",
]

ECHO_LIMIT = 64
MESSAGE_LIMIT = 512  # a net under echo(): no message reaches a client longer than this


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` quoted for a message, cut at ``limit`` characters with an ellipsis.

    Input is echoed so callers see what was refused, but bounded: error bodies and logs
    must not grow with what a caller sends.
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        return repr(text[:limit]) + "…"
    return repr(text)


def _bounded(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "…"


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
        body: dict[str, Any] = {"code": self.code, "message": _bounded(self.message), "hint": self.hint}
        if self.details:
            body["details"] = self.details
        return body

    def response_body(self, request_id: str | None) -> dict[str, Any]:
        """The HTTP body of every Atrium route: ``{"error": {code, message, hint, type, request_id}}``.

        LiteLLM's ``{"error": {...}}`` shape, so clients parse both alike; every key is always
        present (``hint`` may be null) so a client need not probe. ``param`` names the offending
        field when there is one, as OpenAI's errors do.
        """
        body = {**self.to_dict(), "type": self.code, "request_id": request_id}
        param = self.details.get("param")
        if param is not None:
            body["param"] = param
        return {"error": body}

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


class InvalidInput(RequestError):
    """The request does not match the route's schema (FastAPI's validation), in Atrium's format."""

    code = "invalid_request"
    status = 422


class NotFound(RequestError):
    code = "not_found"
    status = 404


class Conflict(RequestError):
    code = "conflict"
    status = 409
