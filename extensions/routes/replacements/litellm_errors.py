"""The error forms of LiteLLM's routes, for Atrium's replacements of them.

A replacement answers a refusal the way LiteLLM's own handler of that route would: an RFC 9457
problem (``application/problem+json``) under ``/management/v1``, ``{"detail": ...}`` for an
``HTTPException``, ``{"error": {...}}`` for a ``ProxyException``; FastAPI's validation errors as
LiteLLM's app shows them (type, loc and msg only: no echo of the input). Atrium's own refusals
(authentication, the reference check) keep Atrium's format, as everywhere in front of LiteLLM.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from extensions import litellm

__all__ = ["LiteLLMError", "ProblemAnswer", "install_litellm_error_forms", "problem_response", "proxy_error"]

_MANAGEMENT_V1 = "/management/v1"


class ProblemAnswer(Exception):
    """Raised to answer LiteLLM's RFC 9457 problem."""

    def __init__(self, problem: litellm.Problem) -> None:
        super().__init__(problem.body.get("detail", ""))
        self.problem = problem


class LiteLLMError(Exception):
    """Raised to answer a body LiteLLM's handler of the route answers with (status, JSON body)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body)[:200])
        self.status = status
        self.body = body


def proxy_error(status: int, message: str, *, param: str | None = None) -> LiteLLMError:
    """LiteLLM's ``ProxyException`` answer (``{"error": {message, type, param, code}}``)."""
    error_type = "bad_request_error" if status < 500 else "internal_server_error"
    return LiteLLMError(status, litellm.proxy_error_body(message, status=status, error_type=error_type, param=param))


def problem_response(problem: litellm.Problem) -> Response:
    return JSONResponse(problem.body, status_code=problem.status, media_type=litellm.PROBLEM_MEDIA_TYPE)


def install_litellm_error_forms(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProblemAnswer)
        return problem_response(exc.problem)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LiteLLMError)
        return JSONResponse(exc.body, status_code=exc.status)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if request.url.path.startswith(_MANAGEMENT_V1):
            return problem_response(litellm.query_problem(list(exc.errors())))
        return JSONResponse({"detail": litellm.public_errors(list(exc.errors()))}, status_code=422)

    app.add_exception_handler(ProblemAnswer, on_problem)
    app.add_exception_handler(LiteLLMError, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
