"""Atrium's tenant-scoped handlers for routes whose LiteLLM handler cannot be scoped.

The route policy marks such routes ``replaced`` with a handler id. For tenant principals
the policy decides to serve them here instead of LiteLLM; the super admin keeps LiteLLM's
own handler. The handler ids served (:data:`HANDLERS`) are read off the routers' routes
(:mod:`.handlers`); every other replaced route stays closed (403).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from extensions.routes.errors import install_error_handlers
from extensions.routes.replacements.audit_log import get_audit_log_router
from extensions.routes.replacements.budgets import get_budgets_router
from extensions.routes.replacements.cost_map import get_cost_map_router
from extensions.routes.replacements.credentials import get_credentials_router
from extensions.routes.replacements.gateway import get_gateway_router
from extensions.routes.replacements.handlers import handler_table
from extensions.routes.replacements.litellm_errors import install_litellm_error_forms
from extensions.routes.replacements.model_info import get_model_info_router
from extensions.routes.replacements.model_utils import get_model_utils_router
from extensions.routes.replacements.models import get_models_router
from extensions.routes.replacements.registries import get_registries_router
from extensions.routes.replacements.spend_facets import get_spend_facets_router
from extensions.routes.replacements.spend_logs import get_spend_logs_router
from extensions.routes.replacements.team_lists import get_team_lists_router
from extensions.routes.replacements.usage import get_daily_activity_router, get_tag_analytics_router
from extensions.routes.replacements.user_info import get_user_info_router

__all__ = ["HANDLERS", "Replacements", "replacement_routers"]


def replacement_routers() -> list[APIRouter]:
    return [
        get_spend_logs_router(),
        get_models_router(),
        get_model_info_router(),
        get_model_utils_router(),
        get_credentials_router(),
        get_user_info_router(),
        get_daily_activity_router(),
        get_tag_analytics_router(),
        get_gateway_router(),
        get_spend_facets_router(),
        get_budgets_router(),
        get_team_lists_router(),
        get_registries_router(),
        get_cost_map_router(),
        get_audit_log_router(),
    ]


HANDLERS = frozenset(handler_table(replacement_routers()))


class Replacements:
    """The ASGI app of the replacement routers, and the handler ids it serves."""

    def __init__(self) -> None:
        self.app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        install_error_handlers(self.app)
        install_litellm_error_forms(self.app)
        routers = replacement_routers()
        for router in routers:
            self.app.include_router(router)
        self.handlers = frozenset(handler_table(routers))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
