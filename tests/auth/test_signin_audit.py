"""Sign-ins in the audit log (docs/audit.md, "Sign-ins"): every path, a success and a refusal each,
driven for real through the package's identity gateway (IdP, SMTP, trusted proxy); the exact entry;
no password, code, state, token or session stored; a success whose entry fails gives no session.

Each call carries its own ``x-request-id``, so its entry is found by it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import jwt
import pytest
from identity_support import PASSWORD, IdentityWorld
from test_invitations import invite

from extensions.testing.sso import browserless_client, idp_login, session_cookie

UA = "signin-audit-test/1"
NEW_PASSWORD = f"Chosen-Pass-{uuid.uuid4().hex[:8]}"
WRONG_PASSWORD = f"Wrong-Pass-{uuid.uuid4().hex[:8]}"


def _run(dsn: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def _execute(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def entry(dsn: str, request_id: str) -> dict[str, Any]:
    found = _run(dsn, 'SELECT * FROM "Atrium_AuditLog" WHERE request_id = $1', request_id)
    assert len(found) == 1, f"{len(found)} entries for {request_id}"
    row = found[0]
    for name in ("actor", "object_ids", "changes"):
        row[name] = json.loads(row[name])
    return row


def rid() -> str:
    return f"signin-{uuid.uuid4().hex}"


def headers(request_id: str) -> dict[str, str]:
    return {"x-request-id": request_id, "user-agent": UA}


def check(row: dict[str, Any], **expected: Any) -> None:
    actual = {name: row[name] for name in expected}
    assert actual == expected
    assert (row["object_type"], row["source_ip"], row["user_agent"]) == ("signin", "127.0.0.1", UA)


@pytest.fixture(scope="module")
def stored_secrets() -> list[str]:
    """Every secret the tests send or receive; none may be in any stored entry (checked last)."""
    return [NEW_PASSWORD, WRONG_PASSWORD, PASSWORD]


def test_sso_success_and_refusal(identity: IdentityWorld, database_url: str, stored_secrets: list[str]) -> None:
    acc, email = identity.a, identity.a.email("alice")
    with browserless_client() as client:
        callback = idp_login(
            client, f"{identity.base_url}/atrium/sso/start?{urlencode({'email': email})}", email, PASSWORD
        )
        query = parse_qs(urlsplit(callback).query)
        stored_secrets += [query["code"][0], query["state"][0]]
        ok = rid()
        response = client.get(callback, headers=headers(ok))
    assert response.status_code == 303, response.text
    cookie = session_cookie(response)
    assert cookie
    claims = jwt.decode(cookie, identity.master_key, algorithms=["HS256"])
    stored_secrets += [cookie, claims["key"]]
    row = entry(database_url, ok)
    check(
        row,
        account_id=acc.account_id,
        action="signin.sso",
        outcome="success",
        status_code=303,
        method="GET",
        route="/atrium/sso/callback",
        object_ids=[claims["user_id"]],
        changes={},
    )
    assert row["actor"] == {
        "kind": "user", "user_id": claims["user_id"], "email": email, "role": claims["user_role"],
        "key_alias": None, "key_hash_prefix": None, "acting_as": None,
    }  # fmt: skip
    # Refused: the IdP's code replaced (the state is good, so the account is known; the address is not yet).
    with browserless_client() as client:
        callback = idp_login(
            client, f"{identity.base_url}/atrium/sso/start?{urlencode({'email': email})}", email, PASSWORD
        )
        query = parse_qs(urlsplit(callback).query)
        stored_secrets += [query["code"][0], query["state"][0]]
        bad = rid()
        forged = {**{k: v[0] for k, v in query.items()}, "code": "forged-code-value-1234"}
        stored_secrets.append("forged-code-value-1234")
        refused = client.get(callback.split("?", 1)[0] + "?" + urlencode(forged), headers=headers(bad))
    assert refused.status_code == 401 and session_cookie(refused) is None
    row = entry(database_url, bad)
    check(
        row,
        account_id=acc.account_id,
        action="signin.sso",
        outcome="refused",
        status_code=401,
        object_ids=[],
        changes={"reason": "code_refused"},
    )
    assert (row["actor"]["kind"], row["actor"]["user_id"], row["actor"]["email"]) == ("anonymous", None, None)


def test_invitation_and_password_sign_in(identity: IdentityWorld, database_url: str, stored_secrets: list[str]) -> None:
    acc, email = identity.pw, identity.pw.email(f"audited-{uuid.uuid4().hex[:6]}")
    link = invite(identity, acc, email)
    token = parse_qs(urlsplit(link).query)["token"][0]
    stored_secrets.append(token)
    # Invitation refused: a wrong token (the account is named by the link).
    bad = rid()
    form = {"account": acc.slug, "token": token[::-1], "password": NEW_PASSWORD}
    refused = httpx.post(link.split("?", 1)[0], data=form, headers=headers(bad), timeout=30)
    assert refused.status_code == 410, refused.text
    check(
        entry(database_url, bad),
        account_id=acc.account_id,
        action="invitation.accept",
        outcome="refused",
        status_code=410,
        method="POST",
        route="/atrium/invitation/accept",
        changes={"reason": "invitation_invalid"},
    )
    # Accepted: the user joins with a password and gets a session.
    ok = rid()
    accepted = httpx.post(link.split("?", 1)[0], data={**form, "token": token}, headers=headers(ok), timeout=30)
    assert accepted.status_code == 303, accepted.text
    cookie = session_cookie(accepted)
    assert cookie
    claims = jwt.decode(cookie, identity.master_key, algorithms=["HS256"])
    stored_secrets += [cookie, claims["key"]]
    row = entry(database_url, ok)
    check(row, account_id=acc.account_id, action="invitation.accept", outcome="success", status_code=303)
    assert (row["actor"]["user_id"], row["actor"]["email"], row["object_ids"]) == (
        claims["user_id"], email, [claims["user_id"]],
    )  # fmt: skip
    assert row["changes"]["role"] == "member" and row["changes"]["invitation_id"]
    # LiteLLM's password login (JSON /v2/login): the user from the session cookie LiteLLM set.
    ok = rid()
    login = httpx.post(
        f"{identity.base_url}/v2/login",
        json={"username": email, "password": NEW_PASSWORD},
        headers=headers(ok),
        timeout=30,
    )
    assert login.status_code == 200, login.text
    stored_secrets += [login.json()["token"]]
    row = entry(database_url, ok)
    check(
        row,
        account_id=acc.account_id,
        action="signin.password",
        outcome="success",
        status_code=200,
        method="POST",
        route="/v2/login",
        object_ids=[claims["user_id"]],
    )
    assert (row["actor"]["kind"], row["actor"]["user_id"], row["actor"]["email"]) == ("user", claims["user_id"], email)
    # Refused (the login form): the username tried is kept, bounded; the password never.
    bad = rid()
    form_login = httpx.post(
        f"{identity.base_url}/login",
        data={"username": email, "password": WRONG_PASSWORD},
        headers=headers(bad),
        timeout=30,
    )
    assert form_login.status_code in (400, 401), form_login.text
    row = entry(database_url, bad)
    check(
        row,
        account_id=acc.account_id,
        action="signin.password",
        outcome="refused",
        status_code=form_login.status_code,
        route="/login",
        object_ids=[],
        changes={"reason": "invalid_credentials" if form_login.status_code == 401 else "invalid_request"},
    )
    assert (row["actor"]["kind"], row["actor"]["email"]) == ("anonymous", email)


def test_trusted_header_success_and_refusal(identity: IdentityWorld, database_url: str) -> None:
    email = identity.a.email("alice")
    ok = rid()
    response = httpx.get(
        f"{identity.base_url}/atrium/login/proxy", headers={**headers(ok), "X-Forwarded-Email": email}, timeout=30
    )
    assert response.status_code == 303, response.text
    row = entry(database_url, ok)
    check(row, account_id=identity.a.account_id, action="signin.trusted_header", outcome="success", status_code=303)
    assert row["actor"]["email"] == email and row["actor"]["user_id"]
    bad = rid()
    unknown = f"nobody@unknown-{uuid.uuid4().hex[:6]}.example"
    response = httpx.get(
        f"{identity.base_url}/atrium/login/proxy", headers={**headers(bad), "X-Forwarded-Email": unknown}, timeout=30
    )
    assert response.status_code == 401
    row = entry(database_url, bad)
    check(
        row,
        account_id="",
        action="signin.trusted_header",
        outcome="refused",
        status_code=401,
        route="/atrium/login/proxy",
        changes={"reason": "unknown_domain"},
    )
    assert row["actor"]["email"] == unknown


_FAIL_TRIGGER = """
CREATE OR REPLACE FUNCTION atrium_test_signin_fail() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit storage unavailable (test)'; END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS atrium_test_signin_fail ON "Atrium_AuditLog";
CREATE TRIGGER atrium_test_signin_fail BEFORE INSERT ON "Atrium_AuditLog"
FOR EACH ROW WHEN (NEW.request_id LIKE 'signin-fail-%') EXECUTE FUNCTION atrium_test_signin_fail();
"""


def test_a_sign_in_whose_entry_cannot_be_written_gets_no_session(identity: IdentityWorld, database_url: str) -> None:
    _execute(database_url, _FAIL_TRIGGER)
    try:
        request_id = f"signin-fail-{uuid.uuid4().hex}"
        email = identity.a.email("alice")
        response = httpx.get(
            f"{identity.base_url}/atrium/login/proxy",
            headers={**headers(request_id), "X-Forwarded-Email": email},
            timeout=30,
        )
        assert response.status_code == 500 and session_cookie(response) is None
        assert response.json()["error"]["code"] == "audit_write_failed"
        request_id = f"signin-fail-{uuid.uuid4().hex}"
        login = httpx.post(
            f"{identity.base_url}/v2/login",
            json={"username": "admin", "password": identity.master_key},
            headers=headers(request_id),
            timeout=30,
        )
        assert login.status_code == 500 and session_cookie(login) is None and "token" not in login.text
        assert login.json()["error"]["code"] == "audit_write_failed"
    finally:
        _execute(database_url, 'DROP TRIGGER IF EXISTS atrium_test_signin_fail ON "Atrium_AuditLog"')


def test_no_secret_is_stored(identity: IdentityWorld, database_url: str, stored_secrets: list[str]) -> None:
    """Runs last in the module: every password, code, state, token and session seen above."""
    assert len(stored_secrets) > 3
    stored = json.dumps(_run(database_url, 'SELECT * FROM "Atrium_AuditLog"'), default=str)
    assert "signin." in stored
    found = [secret[:12] for secret in [*stored_secrets, identity.master_key] if secret in stored]
    assert not found, f"secrets in the audit log: {found}"
