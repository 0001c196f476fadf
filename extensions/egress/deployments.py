"""Connect-time egress check for LLM calls to an account's own deployments.

Runs in LiteLLM's last hook before the provider call (``async_pre_call_deployment_hook``),
whoever the caller is: the address was checked when the model was written, but the row may
have been written another way or the name may resolve elsewhere now. Global models from the
operator's config are the operator's business and are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extensions import litellm
from extensions.egress.policy import EgressRefused, Resolver, current_policy
from extensions.models.naming import ACCOUNT_KEY

__all__ = ["ENDPOINT_FIELDS", "check_deployment_address"]

# Where LiteLLM takes a deployment's endpoint from, in its call kwargs.
ENDPOINT_FIELDS = ("api_base", "base_url")


def _refused(error: EgressRefused) -> Exception:
    return litellm.proxy_exception(
        "The model's endpoint is not an address this gateway may connect to. "
        "Ask your account admin to point the model at a public http(s) endpoint.",
        status=403,
        error_type="invalid_request_error",
        param=str(error.details.get("field") or "api_base"),
        code="egress_refused",
    )


async def check_deployment_address(kwargs: Mapping[str, Any], *, resolver: Resolver | None = None) -> None:
    info = kwargs.get("model_info")
    if not isinstance(info, Mapping) or not info.get(ACCOUNT_KEY):
        return  # not an account's deployment
    params = kwargs.get("litellm_params")
    sources: list[Mapping[str, Any]] = [kwargs]
    if isinstance(params, Mapping):
        sources.append(params)
    for source in sources:
        for field in ENDPOINT_FIELDS:
            url = source.get(field)
            if url in (None, ""):
                continue
            try:
                await current_policy().check(url, field, resolver=resolver)
            except EgressRefused as exc:
                raise _refused(exc) from exc
