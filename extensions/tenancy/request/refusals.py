"""Policy refusals raised deep inside LiteLLM's handlers keep their 4xx.

The scoped database wrapper and the raw-SQL guard refuse from inside LiteLLM's handlers, which
catch every exception and answer 500 with the exception's text. The refusal is recorded here for
the request with the text it puts in such an answer; the middleware replaces a 5xx answer whose
body carries that text with the refusal's own status and Atrium's error body, so a client never
sees a policy decision as a server fault. A refusal LiteLLM caught and recovered from (its auth
prefetch falls back to model calls) leaves no text in the answer and changes nothing.

The record is a mutable holder set by the middleware, so a refusal made in a task or context copy
that LiteLLM spawned (``BaseHTTPMiddleware`` runs handlers in a copied context) still reaches it.
"""

from __future__ import annotations

from contextvars import ContextVar

from extensions.errors import AtriumError

__all__ = ["RequestRefusals", "record_refusal", "request_refusals"]


class RequestRefusals:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, AtriumError]] = []

    def record(self, error: AtriumError, marker: str) -> None:
        if len(self.recorded) < 16:
            self.recorded.append((marker, error))

    def explaining(self, body: bytes) -> AtriumError | None:
        """The refusal whose text is in a 5xx answer's body, if any."""
        text = body.decode(errors="replace")
        return next((error for marker, error in self.recorded if marker and marker in text), None)


request_refusals: ContextVar[RequestRefusals | None] = ContextVar("atrium_request_refusals", default=None)


def record_refusal(error: AtriumError, marker: str | None = None) -> AtriumError:
    """Remember ``error`` for the current request and return it, for ``raise record_refusal(...)``.

    ``marker``: the text LiteLLM's 500 answer carries when the refusal escapes its handler (the
    refusal's own message by default).
    """
    holder = request_refusals.get()
    if holder is not None:
        holder.record(error, marker if marker is not None else error.message)
    return error
