"""The tenant context: decided once, fails closed, restored, inherited by spawned work."""

from __future__ import annotations

import asyncio

import pytest

from extensions.errors import NoTenantContext
from extensions.tenancy.context import (
    PrincipalKind,
    TenantContext,
    current_account,
    current_tenant,
    peek_tenant,
    system_context,
    tenant_context,
)

A = TenantContext(PrincipalKind.ACCOUNT_ADMIN, "acct-a")


def test_no_context_fails_closed() -> None:
    assert peek_tenant() is None
    with pytest.raises(NoTenantContext):
        current_tenant()
    with pytest.raises(NoTenantContext):
        current_account()


def test_unscoped_principal_has_no_account() -> None:
    with system_context(), pytest.raises(NoTenantContext):
        current_account()


def test_context_is_restored() -> None:
    with tenant_context(A):
        assert current_account() == "acct-a"
        with tenant_context(TenantContext(PrincipalKind.API_KEY, "acct-b")):
            assert current_account() == "acct-b"
        assert current_account() == "acct-a"
    assert peek_tenant() is None


async def test_spawned_tasks_inherit_the_context() -> None:
    async def which() -> str:
        await asyncio.sleep(0)
        return current_account()

    with tenant_context(A):
        task = asyncio.create_task(which())
    assert await task == "acct-a"


@pytest.mark.parametrize(
    ("ctx", "unrestricted"),
    [
        (TenantContext(PrincipalKind.SUPER_ADMIN), True),
        (TenantContext(PrincipalKind.SYSTEM), True),
        (TenantContext(PrincipalKind.ACCOUNT_ADMIN, "a", acting_as=True), False),
        (TenantContext(PrincipalKind.API_KEY, None), False),
        (TenantContext(PrincipalKind.ANONYMOUS), False),
    ],
)
def test_only_super_admin_and_system_are_unrestricted(ctx: TenantContext, unrestricted: bool) -> None:
    assert ctx.unrestricted is unrestricted
    assert ctx.is_tenant_principal is not unrestricted
