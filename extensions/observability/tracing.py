"""Atrium's spans inside LiteLLM's traces, with the account on them.

LiteLLM's ``otel`` callback (when the operator enables it) starts one SERVER span per request in
its auth dependency, after Atrium's middleware has already resolved the account, decided the route
and run the isolation checks. So the middleware only *records* the times of its stages (a list in
a contextvar); once LiteLLM's span exists, in the pre-call hook of an LLM call or when any other
request is answered, the recorded stages are emitted as its children with their real start and end
times, and the span gets ``atrium.account_id`` / ``atrium.team_id`` / ``atrium.key_alias``. Work that
runs after (the model guard, budget admission) gets live child spans.

Zero cost when tracing is off: with no ``otel`` callback the request records nothing and every
stage is one shared null context. Spans go through LiteLLM's own tracer, so they are exported by
whatever exporter the operator configured for LiteLLM (``extensions/litellm/_observability.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from extensions import litellm

__all__ = [
    "ACCOUNT_ATTRIBUTE",
    "KEY_ALIAS_ATTRIBUTE",
    "PARTS_ATTRIBUTE",
    "TEAM_ATTRIBUTE",
    "Identity",
    "RequestTracing",
    "child_span",
    "emit",
]

log = logging.getLogger("atrium.tracing")

ACCOUNT_ATTRIBUTE = "atrium.account_id"
TEAM_ATTRIBUTE = "atrium.team_id"
KEY_ALIAS_ATTRIBUTE = "atrium.key_alias"
PARTS_ATTRIBUTE = "atrium.parts"  # e.g. the isolation checks that ran, in order
_NULL: AbstractContextManager[None] = nullcontext()


@dataclass(frozen=True, slots=True)
class Identity:
    account_id: str | None = None
    team_id: str | None = None
    key_alias: str | None = None

    def attributes(self) -> dict[str, str]:
        pairs = (
            (ACCOUNT_ATTRIBUTE, self.account_id),
            (TEAM_ATTRIBUTE, self.team_id),
            (KEY_ALIAS_ATTRIBUTE, self.key_alias),
        )
        return {name: value for name, value in pairs if value}


@dataclass
class _Trace:
    """The stages one request recorded before LiteLLM's span existed."""

    tracer: Any
    stages: list[tuple[str, int, int, list[str] | None]] = field(default_factory=list)
    emitted: bool = False


_current: ContextVar[_Trace | None] = ContextVar("atrium_trace", default=None)


class RequestTracing:
    """What the account middleware is given: one recording per request, timed stages within it."""

    @contextmanager
    def request(self) -> Iterator[None]:
        tracer = litellm.proxy_tracer()
        if tracer is None:
            yield
            return
        token = _current.set(_Trace(tracer))
        try:
            yield
        finally:
            _current.reset(token)

    def stage(self, name: str, parts: list[str] | None = None) -> AbstractContextManager[None]:
        """Time one stage; ``parts`` (filled while it runs) names what it did (``atrium.parts``)."""
        trace = _current.get()
        return _NULL if trace is None else _timed(trace, name, parts)


@contextmanager
def _timed(trace: _Trace, name: str, parts: list[str] | None) -> Iterator[None]:
    start = time.time_ns()
    try:
        yield
    finally:
        trace.stages.append((name, start, time.time_ns(), parts))


def emit(parent: Any, identity: Identity) -> None:
    """Label LiteLLM's request span and emit the recorded stages as its children (once)."""
    trace = _current.get()
    if trace is None or trace.emitted or parent is None:
        return
    trace.emitted = True
    attributes = identity.attributes()
    try:
        if parent.is_recording():
            parent.set_attributes(attributes)
        context = _parent_context(parent)
        for name, start, end, parts in trace.stages:
            named = attributes if parts is None else {**attributes, PARTS_ATTRIBUTE: ",".join(parts)}
            span = trace.tracer.start_span(name, context=context, start_time=start, attributes=named)
            span.end(end_time=end)
    except Exception:  # tracing never fails a request
        log.warning("emitting Atrium's spans failed", exc_info=True)


@contextmanager
def child_span(parent: Any, name: str, identity: Identity) -> Iterator[None]:
    """A live child of LiteLLM's request span around work that runs after it started."""
    trace = _current.get()
    if trace is None or parent is None:
        yield
        return
    span = trace.tracer.start_span(name, context=_parent_context(parent), attributes=identity.attributes())
    try:
        yield
    except BaseException as exc:
        span.record_exception(exc)
        raise
    finally:
        span.end()


def _parent_context(parent: Any) -> Any:
    from opentelemetry import trace as otel_trace  # the API package only; LiteLLM's otel needs it anyway

    return otel_trace.set_span_in_context(parent)
