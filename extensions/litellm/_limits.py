"""LiteLLM's own rate-limit refusal, for Atrium's per-account limits.

LiteLLM's proxy-side limiters (``parallel_request_limiter_v3``) refuse with ``ProxyRateLimitError``:
a ``fastapi.HTTPException`` with status 429 and ``retry-after`` / ``rate_limit_type`` / ``reset_at``
headers that is also a ``litellm.RateLimitError``. Raised from a pre-call hook, LiteLLM's request
handler answers it exactly as it answers its own limiter's refusal, so a client (the OpenAI SDK's
retry logic included) cannot tell the two apart.
"""

from __future__ import annotations

import importlib
from typing import Final

from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "rate_limit_error"]

_ERROR_MODULE: Final = "litellm.proxy.common_utils.proxy_rate_limit_error"

INTERNALS: tuple[Internal, ...] = (
    Internal(
        _ERROR_MODULE,
        "ProxyRateLimitError",
        ("detail", "headers", "category", "rate_limit_type", "model", "llm_provider", "descriptor_key"),
    ),
    Internal(_ERROR_MODULE, "map_v3_rate_limit_type", ("v3_value",)),
)


def rate_limit_error(detail: str, *, retry_after: int, reset_at: str, limit_type: str, descriptor: str) -> Exception:
    """The 429 LiteLLM's v3 limiter raises; ``limit_type`` is its ``"requests"`` or ``"tokens"``."""
    module = importlib.import_module(_ERROR_MODULE)
    error: Exception = module.ProxyRateLimitError(
        detail=detail,
        headers={"retry-after": str(retry_after), "rate_limit_type": limit_type, "reset_at": reset_at},
        rate_limit_type=module.map_v3_rate_limit_type(limit_type),
        descriptor_key=descriptor,
    )
    return error
