"""LiteLLM's error form on the usage replacements: they are LiteLLM routes to their callers.

LiteLLM answers a refused request with ``HTTPException`` (``{"detail": ...}``) and a request that
fails validation with ``422 {"detail": [{"type", "loc", "msg"}]}`` (its
``otel_request_validation_exception_handler``, which drops the echoed input). This route class
gives the replacement routes the same answers, and refuses what PostgreSQL cannot take (a NUL in a
text parameter, which asyncpg would fail on mid-statement as a 500) with a 400 of the same form.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

__all__ = ["LiteLLMFormRoute"]

log = logging.getLogger("atrium.routes.usage")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    return {"detail": [{"type": e.get("type"), "loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]}


class LiteLLMFormRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            for name, value in request.query_params.multi_items():
                if "\x00" in name or "\x00" in value:
                    return JSONResponse(
                        {"detail": {"error": "query parameters may not contain NUL characters"}}, status_code=400
                    )
            try:
                return await inner(request)
            except RequestValidationError as exc:
                return JSONResponse(_validation_body(exc), status_code=422)
            except HTTPException:
                raise
            except Exception as exc:
                # LiteLLM's own wrapping of an unexpected failure (daily_activity_routes.py).
                log.exception("usage analytics failed on %s", request.url.path)
                raise HTTPException(status_code=500, detail={"error": "Failed to fetch analytics"}) from exc

        return handler
