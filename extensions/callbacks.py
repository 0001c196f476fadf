"""Atrium's LiteLLM callback, registered by import path in every worker's config."""

from __future__ import annotations

from typing import Any

from extensions import litellm
from extensions.budgets.rate_limits import admit_request, record_usage
from extensions.egress.deployments import check_deployment_address
from extensions.litellm import custom_logger_class
from extensions.logs import request_id_var
from extensions.models import guard
from extensions.models.request_refs import check_request_references
from extensions.observability import spend_metadata
from extensions.observability.tracing import Identity, child_span, emit
from extensions.runtime import runtime
from extensions.tenancy.request.context import peek_principal

__all__ = ["AtriumCallback", "atrium_callback"]


class AtriumCallback(custom_logger_class()):  # type: ignore[misc]
    """Pins every model call to the caller's account (extensions/models/guard.py).

    Puts the request id and account into the metadata LiteLLM writes to the spend log and reads
    its Prometheus labels from, and Atrium's work into LiteLLM's trace (docs/observability.md).
    Also counts successes so ``/atrium/status`` can prove it is live in each worker.
    """

    def __init__(self) -> None:
        super().__init__()
        self.successes = 0

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        account_id = _account_id()
        spend_metadata.stamp(data, request_id_var.get(), account_id)  # first: refusals below carry it too
        parent = litellm.request_span(user_api_key_dict)
        identity = Identity(account_id, *litellm.key_identity(user_api_key_dict))
        emit(parent, identity)  # the middleware's stages, now that LiteLLM's request span exists
        with child_span(parent, "atrium.model_guard", identity):
            check_request_references(data)  # no server-side references or callback settings in the body
            pinned = guard.pin_request(data)
        if account_id is not None:
            # One span for the account's limits: a span costs about what each of these checks does.
            with child_span(parent, "atrium.budget_admission", identity):
                await admit_request(account_id)  # the account's plan RPM/TPM (LiteLLM's 429 past it)
                if runtime.monthly_tokens is not None:
                    await runtime.monthly_tokens.admit(account_id)  # the plan's tokens_monthly
                # Last: the worst case is priced on the account's own deployment, after every other refusal.
                if runtime.budgets is not None:
                    await runtime.budgets.admit(account_id, pinned)
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
        account_id = _account_id()
        if runtime.budgets is not None:
            await runtime.budgets.succeeded(kwargs, account_id)
        if account_id is not None:
            tokens = _total_tokens(kwargs, response_obj)
            await record_usage(account_id, tokens)
            if runtime.monthly_tokens is not None:
                await runtime.monthly_tokens.record(account_id, tokens)

    async def async_post_call_failure_hook(
        self, request_data: dict[str, Any], original_exception: Exception, user_api_key_dict: Any, **_: Any
    ) -> None:
        if runtime.budgets is not None:
            await runtime.budgets.failed(request_data)


def _account_id() -> str | None:
    # LiteLLM runs its hooks and logging tasks in (copies of) the request's context, where the
    # middleware set the principal; the gateway's own calls (health checks) have none.
    principal = peek_principal()
    return principal.account_id if principal is not None else None


def _total_tokens(kwargs: dict[str, Any], response_obj: Any) -> int:
    logged = kwargs.get("standard_logging_object")
    if isinstance(logged, dict) and isinstance(logged.get("total_tokens"), int):
        return int(logged["total_tokens"])
    usage = getattr(response_obj, "usage", None)
    total = getattr(usage, "total_tokens", None)
    return total if isinstance(total, int) else 0


atrium_callback = AtriumCallback()
