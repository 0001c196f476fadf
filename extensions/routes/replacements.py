"""Atrium's tenant-scoped handlers for routes whose LiteLLM handler cannot be scoped.

The route policy marks such routes ``replaced`` with a handler id. For tenant principals
the middleware dispatches them here instead of to LiteLLM; the super admin keeps
LiteLLM's own handler. A handler id is served only when every one of its routes is
implemented (:data:`HANDLERS`); the others stay closed (403).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from extensions.routes.credentials import get_credentials_router
from extensions.routes.errors import install_error_handlers
from extensions.routes.model_info import get_model_info_router
from extensions.routes.model_utils import get_model_utils_router
from extensions.routes.models import get_models_router
from extensions.routes.spend_logs import get_spend_logs_router

__all__ = ["HANDLERS", "Replacements"]

HANDLERS = frozenset({"spend_logs_ui", "model_crud", "model_info", "model_list", "model_utils", "credentials"})


class Replacements:
    def __init__(self) -> None:
        self.app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        install_error_handlers(self.app)
        self.app.include_router(get_spend_logs_router())
        self.app.include_router(get_models_router())
        self.app.include_router(get_model_info_router())
        self.app.include_router(get_model_utils_router())
        self.app.include_router(get_credentials_router())

    def handles(self, handler: str | None) -> bool:
        return handler in HANDLERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
