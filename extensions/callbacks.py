"""Atrium's LiteLLM callback, registered by import path in every worker's config."""

from __future__ import annotations

from typing import Any

from extensions.egress.deployments import check_deployment_address
from extensions.litellm import custom_logger_class
from extensions.models import guard
from extensions.models.request_refs import check_request_references
from extensions.runtime import runtime
from extensions.tenancy.request.context import peek_principal

__all__ = ["AtriumCallback", "atrium_callback"]


class AtriumCallback(custom_logger_class()):  # type: ignore[misc]
    """Pins every model call to the caller's account (extensions/models/guard.py).

    Also counts successes so ``/atrium/status`` can prove it is live in each worker.
    """

    def __init__(self) -> None:
        super().__init__()
        self.successes = 0

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        check_request_references(data)  # no server-side references or callback settings in the body
        pinned = guard.pin_request(data)
        # Last: the worst case is priced on the account's own deployment, after every other refusal.
        principal = peek_principal()
        if runtime.budgets is not None and principal is not None and principal.account_id is not None:
            await runtime.budgets.admit(principal.account_id, pinned)
        return pinned

    async def async_filter_deployments(
        self,
        model: str,
        healthy_deployments: list[dict[str, Any]],
        messages: Any,
        request_kwargs: dict[str, Any] | None = None,
        parent_otel_span: Any = None,
    ) -> list[dict[str, Any]]:
        return guard.usable_deployments(healthy_deployments)

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        guard.check_deployment(kwargs)
        await check_deployment_address(kwargs)  # an account's endpoint must pass the egress policy now
        return None

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.successes += 1
        if runtime.budgets is not None:
            await runtime.budgets.succeeded(kwargs)

    async def async_post_call_failure_hook(
        self, request_data: dict[str, Any], original_exception: Exception, user_api_key_dict: Any, **_: Any
    ) -> None:
        if runtime.budgets is not None:
            await runtime.budgets.failed(request_data)


atrium_callback = AtriumCallback()
