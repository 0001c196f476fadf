"""/atrium/sso/config: the account admin's API for the account's IdP; secrets never come back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from identity_support import IdentityWorld, SsoAccount, account_admin_key, as_key, sso_session


def fresh_account(world: IdentityWorld) -> SsoAccount:
    slug = f"cfg-{uuid.uuid4().hex[:8]}"
    acc = SsoAccount(slug, "", f"{slug}.example", "cfg-client", "cfg-secret-value-123")
    with world.root() as root:
        created = root.post("/account/new", json={"name": slug, "slug": slug, "email_domains": [acc.domain]})
        assert created.status_code == 200, created.text
    acc.account_id = created.json()["account_id"]
    return acc


def _config(acc: SsoAccount, **changes: object) -> dict[str, object]:
    return {
        "issuer": "https://idp.example.com",
        "client_id": acc.client_id,
        "client_secret": acc.client_secret,
        "admin_values": ["admins"],
        **changes,
    }


def test_admin_sets_and_reads_the_config_without_the_secret(identity: IdentityWorld, database_url: str) -> None:
    acc = fresh_account(identity)
    with as_key(identity, account_admin_key(identity, acc)) as admin:
        saved = admin.post("/atrium/sso/config", json=_config(acc))
        assert saved.status_code == 200, saved.text
        read = admin.get("/atrium/sso/config")
        # Without a new secret, the stored one stays (same client id).
        kept = admin.post("/atrium/sso/config", json=_config(acc, client_secret=None, scopes="openid email"))
    for response in (saved, read, kept):
        body = response.json()
        assert body["client_secret_set"] is True and "client_secret" not in body
        assert acc.client_secret not in response.text
    assert read.json()["allowed_domains"] == [acc.domain]  # default: the account's domains
    assert read.json()["super_admin_trusted"] is False  # an account admin's IdP never vouches for super admins
    assert kept.json()["scopes"] == "openid email"

    async def stored() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return str(
                await conn.fetchval(
                    'SELECT client_secret_enc FROM "Atrium_OidcConfig" WHERE account_id = $1', acc.account_id
                )
            )
        finally:
            await conn.close()

    encrypted = asyncio.run(stored())
    assert encrypted and acc.client_secret not in encrypted


def test_bad_configs_are_clear_400s(identity: IdentityWorld) -> None:
    acc = fresh_account(identity)
    with as_key(identity, account_admin_key(identity, acc)) as admin:
        foreign = admin.post("/atrium/sso/config", json=_config(acc, allowed_domains=[identity.a.domain]))
        plain_http = admin.post("/atrium/sso/config", json=_config(acc, issuer="http://idp.example.com"))
        no_openid = admin.post("/atrium/sso/config", json=_config(acc, scopes="email"))
        no_secret = admin.post("/atrium/sso/config", json=_config(acc, client_secret=None))
    assert foreign.status_code == 400 and "does not belong to this account" in foreign.json()["error"]["message"]
    assert plain_http.status_code == 400 and "https" in plain_http.json()["error"]["message"]
    assert no_openid.status_code == 400 and "openid" in no_openid.json()["error"]["message"]
    assert no_secret.status_code == 400 and "client_secret" in no_secret.json()["error"]["message"]


def test_who_may_manage_the_config(identity: IdentityWorld) -> None:
    anonymous = httpx.get(f"{identity.base_url}/atrium/sso/config", timeout=30)
    assert anonymous.status_code == 401
    with identity.root() as root:
        unscoped = root.get("/atrium/sso/config")
    assert unscoped.status_code == 403 and "X-Atrium-Account" in unscoped.json()["error"]["hint"]
    with identity.root(identity.a.account_id) as acting:
        assert acting.get("/atrium/sso/config").json()["account_id"] == identity.a.account_id
    # An admin of one account never reads another's: the account header is refused outright.
    acc = fresh_account(identity)
    with as_key(identity, account_admin_key(identity, acc)) as admin:
        other = admin.get("/atrium/sso/config", headers={"X-Atrium-Account": identity.a.account_id})
    assert other.status_code == 403 and other.json()["error"]["code"] == "account_header_refused"
    assert "client_id" not in other.text  # (A's client id "atrium-a" is a prefix of the header's name)


def test_an_account_admins_idp_cannot_make_super_admins(identity: IdentityWorld) -> None:
    """boss@B is in SUPER_ADMIN_EMAILS, but once B's own admin controls B's IdP config, B's IdP
    can no longer sign anyone in as super admin: boss gets an ordinary session of account B."""
    acc = identity.b
    with as_key(identity, account_admin_key(identity, acc)) as admin:
        body = {
            "issuer": identity.idp_b.issuer,
            "client_id": acc.client_id,
            "scopes": "openid email profile groups",
        }
        assert admin.post("/atrium/sso/config", json=body).json()["super_admin_trusted"] is False
    _, key = sso_session(identity, acc.email("boss"))
    with as_key(identity, key) as boss:
        assert boss.get("/account/list").status_code == 403
        assert boss.get("/v2/user/info").json()["user_email"] == acc.email("boss")
