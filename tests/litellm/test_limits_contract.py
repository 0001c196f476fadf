"""Contract: Atrium's per-account 429 is the exception LiteLLM's own limiter raises, answered alike."""

from __future__ import annotations

import importlib

from fastapi import HTTPException

from extensions import litellm as adapter


def test_rate_limit_error_is_litellms_limiter_refusal() -> None:
    error = adapter.rate_limit_error(
        "Rate limit exceeded for account: a.", retry_after=17, reset_at="x", limit_type="requests", descriptor="account"
    )
    limiter = importlib.import_module("litellm.proxy.hooks.parallel_request_limiter_v3")
    exceptions = importlib.import_module("litellm.exceptions")
    assert type(error) is limiter.ProxyRateLimitError  # the class the v3 limiter raises
    assert isinstance(error, HTTPException) and isinstance(error, exceptions.RateLimitError)
    assert error.status_code == 429 and error.headers is not None
    assert error.headers["retry-after"] == "17" and error.headers["rate_limit_type"] == "requests"
    assert error.rate_limit_type == exceptions.RateLimitType.REQUESTS  # type: ignore[attr-defined]


def test_tokens_map_to_litellms_token_limit_type() -> None:
    error = adapter.rate_limit_error("x", retry_after=1, reset_at="x", limit_type="tokens", descriptor="account")
    exceptions = importlib.import_module("litellm.exceptions")
    assert getattr(error, "rate_limit_type", None) == exceptions.RateLimitType.TOKENS
