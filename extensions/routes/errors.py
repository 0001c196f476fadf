"""The one place Atrium errors become HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from extensions.errors import AtriumError
from extensions.logs import request_id_var

__all__ = ["install_error_handlers", "to_response"]


def to_response(error: AtriumError) -> JSONResponse:
    return JSONResponse(
        error.response_body(request_id_var.get()), status_code=error.status, headers=error.headers or None
    )


def install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AtriumError)
        return to_response(exc)

    app.add_exception_handler(AtriumError, handle)
