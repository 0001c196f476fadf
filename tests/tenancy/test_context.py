"""The principal: decided once, one data scope, fails closed, restored, inherited by spawned work."""

from __future__ import annotations

import asyncio

import pytest

from extensions import litellm
from extensions.errors import NoTenantContext, TenancyError
from extensions.tenancy.request.context import (
    SYSTEM,
    DataScope,
    Principal,
    PrincipalKind,
    ScopeKind,
    current_account,
    current_principal,
    data_scope,
    peek_principal,
    principal_context,
    system_context,
)

A = Principal(PrincipalKind.ACCOUNT_ADMIN, "acct-a")


def test_no_principal_fails_closed() -> None:
    assert peek_principal() is None
    with pytest.raises(NoTenantContext):
        current_principal()
    with pytest.raises(NoTenantContext):
        current_account()


def test_unscoped_principal_has_no_account() -> None:
    with system_context(), pytest.raises(NoTenantContext):
        current_account()


def test_principal_is_restored() -> None:
    with principal_context(A):
        assert current_account() == "acct-a"
        with principal_context(Principal(PrincipalKind.API_KEY, "acct-b")):
            assert current_account() == "acct-b"
            assert data_scope() == DataScope(ScopeKind.ACCOUNT, "acct-b")
        assert current_account() == "acct-a"
    assert peek_principal() is None


async def test_spawned_tasks_inherit_the_principal() -> None:
    async def which() -> str:
        await asyncio.sleep(0)
        return current_account()

    with principal_context(A):
        task = asyncio.create_task(which())
    assert await task == "acct-a"


@pytest.mark.parametrize(
    ("principal", "scope"),
    [
        (Principal(PrincipalKind.SUPER_ADMIN), DataScope(ScopeKind.UNRESTRICTED)),
        (SYSTEM, DataScope(ScopeKind.UNRESTRICTED)),
        # The super admin acting in an account stays LiteLLM's master-key user, whose row is no account's.
        (
            Principal(PrincipalKind.ACCOUNT_ADMIN, "a", acting_as=True),
            DataScope(ScopeKind.ACCOUNT, "a", litellm.PROXY_ADMIN_USER_ID),
        ),
        (Principal(PrincipalKind.ACCOUNT_ADMIN, "a"), DataScope(ScopeKind.ACCOUNT, "a")),
        (Principal(PrincipalKind.ACCOUNT_VIEWER, "a"), DataScope(ScopeKind.ACCOUNT, "a")),
        (Principal(PrincipalKind.ACCOUNT_MEMBER, "a"), DataScope(ScopeKind.ACCOUNT, "a")),
        (Principal(PrincipalKind.API_KEY, "a"), DataScope(ScopeKind.ACCOUNT, "a")),
        (Principal(PrincipalKind.API_KEY, None), DataScope(ScopeKind.GLOBAL)),
        (Principal(PrincipalKind.ANONYMOUS), DataScope(ScopeKind.GLOBAL)),
    ],
)
def test_the_data_scope_is_computed_once_from_role_and_account(principal: Principal, scope: DataScope) -> None:
    assert principal.scope == scope
    assert principal.unrestricted is not scope.restricted
    assert principal.is_tenant_principal is scope.restricted
    with principal_context(principal):
        assert data_scope() is principal.scope


@pytest.mark.parametrize(
    "build",
    [
        lambda: Principal(PrincipalKind.ACCOUNT_ADMIN),
        lambda: Principal(PrincipalKind.ACCOUNT_VIEWER),
        lambda: Principal(PrincipalKind.ACCOUNT_MEMBER),
        lambda: Principal(PrincipalKind.API_KEY, "a", acting_as=True),
        lambda: Principal(PrincipalKind.SUPER_ADMIN, acting_as=True),
    ],
)
def test_impossible_principals_are_refused(build: object) -> None:
    with pytest.raises(TenancyError):
        build()  # type: ignore[operator]


def test_the_principal_is_immutable() -> None:
    with pytest.raises(AttributeError):
        A.account_id = "acct-b"  # type: ignore[misc]


def test_outside_any_principal_the_code_is_the_gateways_own() -> None:
    # LiteLLM callbacks on threads that do not copy the context: health checks of every deployment.
    assert data_scope() == DataScope(ScopeKind.UNRESTRICTED)
