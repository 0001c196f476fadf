"""The routing guard against a real LiteLLM Router holding two accounts' and global models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litellm.proxy._types import ProxyException

from extensions.models import catalog, guard
from extensions.tenancy.request.context import PrincipalKind, TenantContext, system_context, tenant_context

A = "0a0a0a0a-0000-4000-8000-00000000000a"
B = "0b0b0b0b-0000-4000-8000-00000000000b"


def _deployment(name: str, model_id: str, **info: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {"model": "openai/x", "api_key": "sk-x", "mock_response": model_id},
        "model_info": {"id": model_id, **info},
    }


@pytest.fixture(autouse=True)
def router() -> Iterator[Any]:
    import litellm.proxy.proxy_server as proxy_server
    from litellm import Router

    built = Router(
        model_list=[
            _deployment(f"{A}/gpt-4o", "a-main", atrium_account_id=A, atrium_fallbacks=["backup", f"{B}/gpt-4o"]),
            _deployment(f"{A}/backup", "a-backup", atrium_account_id=A),
            _deployment(f"{B}/gpt-4o", "b-main", atrium_account_id=B),
            _deployment("shared", "g-open"),
            _deployment("only-b", "g-b", atrium_accounts=[B]),
            _deployment(f"{B}/lost-info", "b-lost"),  # owner only in the name
        ]
    )
    previous = proxy_server.llm_router
    proxy_server.llm_router = built
    yield built
    proxy_server.llm_router = previous


def as_account(account: str | None) -> Any:
    return tenant_context(TenantContext(PrincipalKind.API_KEY, account))


def test_public_name_resolves_to_the_callers_own_group() -> None:
    assert catalog.resolve(A, "gpt-4o") == f"{A}/gpt-4o"
    assert catalog.resolve(B, "gpt-4o") == f"{B}/gpt-4o"
    assert catalog.resolve(A, f"{A}/gpt-4o") == f"{A}/gpt-4o"


@pytest.mark.parametrize("name", [f"{B}/gpt-4o", "b-main", "only-b", f"{B}/lost-info", "missing"])
def test_other_accounts_models_and_unpublished_globals_do_not_resolve(name: str) -> None:
    assert catalog.resolve(A, name) is None


def test_globals_follow_their_entitlement() -> None:
    assert catalog.resolve(A, "shared") == "shared"
    assert catalog.resolve(B, "only-b") == "only-b"
    assert catalog.resolve(None, "shared") == "shared"
    assert catalog.resolve(None, "only-b") is None
    assert catalog.visible_name(A, f"{A}/backup") == "backup"


def test_pin_request_rewrites_the_model_and_keeps_own_fallbacks_only() -> None:
    with as_account(A):
        data = guard.pin_request({"model": "gpt-4o"})
    assert data["model"] == f"{A}/gpt-4o"
    assert data["fallbacks"] == [f"{A}/backup"]  # the foreign fallback configured in model_info is dropped


@pytest.mark.parametrize(
    "body",
    [
        {"model": f"{B}/gpt-4o"},
        {"model": "gpt-4o", "fallbacks": [f"{B}/gpt-4o"]},
        {"model": "gpt-4o", "fallbacks": [{"model": "shared", "api_key": "sk-other"}]},
        {"model": "gpt-4o", "litellm_credential_name": f"{B}/openai"},
        {"model": "gpt-4o", "api_base": "http://elsewhere"},
    ],
)
def test_pin_request_refuses(body: dict[str, Any]) -> None:
    with as_account(A), pytest.raises(ProxyException) as caught:
        guard.pin_request(dict(body))
    assert str(caught.value.code) in ("400", "404")


def test_deployment_filter_and_last_hop_check(router: Any) -> None:
    everything = router.get_model_list()
    with as_account(A):
        usable = {d["model_info"]["id"] for d in guard.usable_deployments(everything)}
        assert usable == {"a-main", "a-backup", "g-open"}
        guard.check_deployment({"model_info": {"id": "a-main", "atrium_account_id": A}})
        with pytest.raises(ProxyException):
            guard.check_deployment({"model_info": {"id": "b-main", "atrium_account_id": B}})
        with pytest.raises(ProxyException):
            guard.check_deployment({"model_info": {"id": "g-b", "atrium_accounts": [B]}})


def test_system_and_super_admin_are_not_pinned(router: Any) -> None:
    with system_context():
        assert guard.pin_request({"model": f"{B}/gpt-4o"}) == {"model": f"{B}/gpt-4o"}
        assert len(guard.usable_deployments(router.get_model_list())) == 6
    with tenant_context(TenantContext(PrincipalKind.SUPER_ADMIN)):
        guard.check_deployment({"model_info": {"atrium_account_id": B}})
