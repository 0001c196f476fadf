"""The one place Atrium errors become HTTP responses, and the boundary of Atrium's own routes.

Atrium's routers (``/account/*``, ``/atrium/*``, the email-first login) are built with
:class:`AtriumRoute`, which gives every answer of theirs one format,
``{"error": {"code", "message", "hint", "type", "request_id"}}``:

- FastAPI's validation errors (its ``422 {"detail": [...]}``) become :class:`InvalidInput`
  naming the offending field, without echoing the value;
- a NUL character or a lone surrogate anywhere in the input is refused with 400 before a
  handler runs, since PostgreSQL cannot store either in text and asyncpg would fail
  mid-statement (a 500); a body over ``BODY_LIMIT`` is refused with 413;
- anything else that escapes a handler becomes a 500 in the same format, logged with its
  request id.

Replacements of LiteLLM routes are LiteLLM routes and keep LiteLLM's error form: they do
not use this route class.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from extensions.errors import AtriumError, InvalidInput, RequestError
from extensions.logs import request_id_var

__all__ = [
    "AtriumRoute",
    "BodyTooLarge",
    "InvalidCharacter",
    "install_error_handlers",
    "to_response",
    "validation_error",
]

log = logging.getLogger("atrium.routes")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# Account settings and an SSO configuration are a few KiB; nothing Atrium stores needs more.
BODY_LIMIT = 64 * 1024


class InvalidCharacter(RequestError):
    code = "invalid_character"


def to_response(error: AtriumError) -> JSONResponse:
    return JSONResponse(
        error.response_body(request_id_var.get()), status_code=error.status, headers=error.headers or None
    )


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AtriumError)
        return to_response(exc)

    app.add_exception_handler(AtriumError, handle)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # FastAPI prefixes the location with where it was read (body, query, path, header, cookie).
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> InvalidInput:
    """FastAPI's validation error as Atrium's, the first offending field named; values never echoed."""
    errors = list(exc.errors())
    if not errors:
        return InvalidInput("the request is not valid", hint="see the route's schema at /openapi.json")
    first = errors[0]
    field = _field(first.get("loc", ()))
    # pydantic's ``msg`` states the rule, not the input ("String should have at most 64 characters").
    message = f"{field}: {first.get('msg', 'invalid value')}"
    if first.get("type") == "json_invalid":
        message = "the request body is not valid JSON"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return InvalidInput(
        message + more,
        hint="fix the field and send again; the route's schema is at /openapi.json",
        param=field,
        fields=[_field(e.get("loc", ())) for e in errors[:20]],
    )


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any) -> bool:
    """NUL or a lone surrogate (JSON may escape one): PostgreSQL's UTF-8 text can hold neither."""
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _nul_refusal(where: str) -> InvalidCharacter:
    return InvalidCharacter(
        f"the {where} contains a NUL character (\\u0000) or a lone surrogate (\\ud800-\\udfff)",
        hint="remove NUL characters and lone surrogates: text fields cannot store them",
        param=where,
    )


# The JSON escapes that decode to an unstorable character; a body without one is not parsed here.
_ESCAPES = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class BodyTooLarge(RequestError):
    code = "body_too_large"
    status = 413


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(
        f"the request body is larger than {BODY_LIMIT // 1024} KiB", hint="send less: Atrium's routes take small bodies"
    )


async def refuse_nul(request: Request) -> None:
    """400 when any input carries NUL or a lone surrogate (query, path, JSON or form body); 413 for a big body."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise _nul_refusal(f"query parameter {name[:64]!r}".replace("\x00", "\\x00"))
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _nul_refusal(f"path parameter {name!r}")
    if request.method in {"GET", "HEAD", "OPTIONS"}:
        return
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > BODY_LIMIT:
        raise _too_large()  # refused before reading
    body = await request.body()
    if len(body) > BODY_LIMIT:  # a chunked body declares no length
        raise _too_large()  # cached on the request: the handler reads the same bytes
    if not body:
        return
    if b"\x00" in body:
        raise _nul_refusal("request body")
    content_type = request.headers.get("content-type", "")
    if "application/x-www-form-urlencoded" in content_type and b"%00" in body:
        raise _nul_refusal("request body")
    if _ESCAPES.search(body) is None:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON: FastAPI's validation answers it
    if _unstorable(parsed):
        raise _nul_refusal("request body")


class AtriumRoute(APIRoute):
    """Route class of Atrium's own routers: one error format, NUL refused at the boundary, bodies bounded."""

    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                await refuse_nul(request)
                return await inner(request)
            except AtriumError:
                raise
            except RequestValidationError as exc:
                raise validation_error(exc) from exc
            except HTTPException as exc:
                raise _from_http(exc) from exc
            except Exception as exc:
                # A bug, not the caller's fault: logged with the request id the answer carries.
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                raise AtriumError(
                    "internal error", hint=f"report request id {request_id_var.get()} to the operator"
                ) from exc

        return handler


def _from_http(exc: HTTPException) -> AtriumError:
    error = AtriumError(str(exc.detail)[:200], hint=None)
    error.code = "http_error"
    error.status = exc.status_code
    return error
