"""The audit log through the real proxy (2 workers): the mutating routes of the served route table,
each producing exactly its entry; refusals audited; no secret stored; each account reads its own.

Every call sends its own ``x-request-id``, so its entry is found by it (the proxy keeps a caller's plain id).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from extensions.app import served_routes
from extensions.cli import main
from extensions.tenancy.policy.decision import RouteClass
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher
from extensions.testing.tenants import AccountWorld, build_account

SUFFIX = uuid.uuid4().hex[:6]
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
USER_PASSWORD = f"User-Secret-Pass-{SUFFIX}"
SSO_SECRET = f"sso-client-secret-{SUFFIX}"
PROVIDER_SECRET = f"sk-aud-provider-{SUFFIX}"
MODEL_SECRET = f"sk-aud-model-{SUFFIX}"


def mutating_routes() -> list[tuple[str, str, RouteClass | None]]:
    """(method, template, class) of every mutating HTTP route the app serves, but LLM and public ones."""
    policy = load_policy()
    found = set()
    for route in served_routes():
        if route.kind != "http":
            continue
        for method in sorted(route.methods & set(MUTATING)):
            entry = policy.entry_for(method, route.path)
            route_class = entry.route_class if entry is not None else None
            if route_class not in (RouteClass.LLM, RouteClass.PUBLIC):
                found.add((method, route.path, route_class))
    return sorted(found, key=lambda r: (r[1], r[0]))


MUTATING_ROUTES = mutating_routes()


def rows(dsn: str, sql: str = 'SELECT * FROM "Atrium_AuditLog"', *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def execute(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def entry_of(dsn: str, request_id: str) -> dict[str, Any]:
    found = rows(dsn, 'SELECT * FROM "Atrium_AuditLog" WHERE request_id = $1', request_id)
    assert len(found) == 1, f"{len(found)} entries for request {request_id}"
    entry = found[0]
    for name in ("actor", "object_ids", "changes"):
        entry[name] = json.loads(entry[name])
    return entry


class Caller:
    def __init__(self, base_url: str, key: str, account: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        if account:
            headers["X-Atrium-Account"] = account
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[str, httpx.Response]:
        request_id = f"audit-{uuid.uuid4().hex}"
        response = self.client.request(method, path, json=body, headers={"x-request-id": request_id})
        return request_id, response


@pytest.fixture(scope="module")
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="module")
def worlds(proxy: ProxyProcess, master_key: str) -> tuple[AccountWorld, AccountWorld]:
    a = build_account(proxy.base_url, master_key, f"aud-a-{SUFFIX}", with_model=True)
    b = build_account(proxy.base_url, master_key, f"aud-b-{SUFFIX}")
    return a, b


@pytest.fixture(scope="module")
def calls(
    proxy: ProxyProcess, master_key: str, worlds: tuple[AccountWorld, AccountWorld], mail: MailCatcher
) -> dict[str, Any]:
    """The representative set, called once each; what each entry must say."""
    a, _ = worlds
    admin = Caller(proxy.base_url, a.admin_key)
    root = Caller(proxy.base_url, master_key)
    acting = Caller(proxy.base_url, master_key, a.account_id)
    member = Caller(proxy.base_url, a.member_key)
    made: dict[str, Any] = {"secrets": [PROVIDER_SECRET, MODEL_SECRET, USER_PASSWORD, SSO_SECRET]}

    def ok(name: str, caller: Caller, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id, response = caller.call(method, path, body)
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
        made[name] = {"request_id": request_id, "method": method, "path": path}
        result: dict[str, Any] = response.json()
        return result

    key = ok("key.generate", admin, "POST", "/key/generate", {"key_alias": f"aud-k-{SUFFIX}", "max_budget": 1})
    made["secrets"] += [key["key"], key["token"]]
    made["key_token"] = key["token"]
    ok("key.update", admin, "POST", "/key/update", {"key": key["key"], "key_alias": f"aud-k2-{SUFFIX}"})
    ok("key.delete", admin, "POST", "/key/delete", {"keys": [key["key"]]})
    team = ok("team.new", admin, "POST", "/team/new", {"team_alias": f"aud-t-{SUFFIX}"})
    made["team_id"] = team["team_id"]
    ok("team.update", admin, "POST", "/team/update", {"team_id": team["team_id"], "team_alias": f"aud-t2-{SUFFIX}"})
    user_body = {"user_id": f"aud-u-{SUFFIX}", "user_email": f"u@aud-a-{SUFFIX}.example"}
    ok("user.new", admin, "POST", "/user/new", user_body)
    credential = {"credential_name": f"aud-cred-{SUFFIX}", "credential_values": {"api_key": PROVIDER_SECRET}}
    ok("credential.create", admin, "POST", "/credentials", {**credential, "credential_info": {}})
    model = {
        "model_name": f"aud-model-{SUFFIX}",
        "litellm_params": {"model": "openai/gpt-fake", "api_base": "http://aud.invalid/v1", "api_key": MODEL_SECRET},
    }
    ok("model.new", admin, "POST", "/model/new", model)
    sso = {"issuer": "http://127.0.0.1:9/idp", "client_id": f"aud-{SUFFIX}", "client_secret": SSO_SECRET}
    ok("sso_config.create", admin, "POST", "/atrium/sso/config", sso)
    settings = {"smtp": {"host": "127.0.0.1", "port": mail.port, "starttls": False}, "audit_retention_days": 30}
    ok("account.update", root, "POST", "/account/update", {"account_id": a.account_id, "settings": settings})
    # A password in B's settings (LiteLLM's /user/new refuses passwords): stored redacted.
    b_settings = {"smtp": {"host": "smtp.invalid", "user": "mailer", "password": USER_PASSWORD}}
    ok(
        "account.update.b",
        root,
        "POST",
        "/account/update",
        {"account_id": worlds[1].account_id, "settings": b_settings},
    )
    ok("account_budget.create", root, "POST", "/account/budget", {"account_id": a.account_id, "max_budget": 100})
    ok("invitation.new", acting, "POST", "/atrium/invitation/new", {"email": f"new@aud-a-{SUFFIX}.example"})
    request_id, refused = member.call("POST", "/account/new", {"name": "Nope"})
    assert refused.status_code == 403, refused.text
    made["refused"] = {"request_id": request_id, "method": "POST", "path": "/account/new"}
    request_id, refused = member.call("POST", "/account/budget", {"account_id": a.account_id, "max_budget": 1})
    assert refused.status_code == 403, refused.text
    made["refused_handler"] = {"request_id": request_id, "method": "POST", "path": "/account/budget"}
    return made


SUCCESSES = (
    "key.generate",
    "key.update",
    "key.delete",
    "team.new",
    "team.update",
    "user.new",
    "credential.create",
    "model.new",
    "sso_config.create",
    "account.update",
    "account_budget.create",
    "invitation.new",
)


def test_the_mutating_routes_come_from_the_route_table() -> None:
    templates = {(method, path) for method, path, _ in MUTATING_ROUTES}
    for method, path in [("POST", "/key/generate"), ("POST", "/credentials"), ("POST", "/atrium/sso/config")]:
        assert (method, path) in templates
    assert ("POST", "/chat/completions") not in templates  # LLM calls change no configuration
    assert len(templates) > 50


@pytest.mark.parametrize("action", SUCCESSES)
def test_each_success_has_its_entry(
    database_url: str, calls: dict[str, Any], worlds: tuple[AccountWorld, AccountWorld], action: str
) -> None:
    a, _ = worlds
    call = calls[action]
    entry = entry_of(database_url, call["request_id"])
    assert (call["method"], entry["route"]) in {(m, p) for m, p, _ in MUTATING_ROUTES}
    assert entry["account_id"] == a.account_id  # super admin actions on A included
    assert (entry["action"], entry["outcome"], entry["status_code"]) == (action, "success", 200)
    assert entry["object_ids"], entry
    assert entry["source_ip"] == "127.0.0.1" and entry["user_agent"].startswith("python-httpx")
    actor = entry["actor"]
    if action in ("account.update", "account_budget.create"):
        assert actor["kind"] == "super_admin" and actor["acting_as"] is None
    elif action == "invitation.new":
        assert actor["kind"] == "account_admin" and actor["acting_as"] == a.account_id
    else:
        assert (actor["kind"], actor["user_id"]) == ("account_admin", a.admin_user)
        assert actor["key_alias"] == f"{a.slug}-admin-key" and actor["key_hash_prefix"] == a.admin_token[:8]


def test_diffs_show_the_change(database_url: str, calls: dict[str, Any]) -> None:
    update = entry_of(database_url, calls["key.update"]["request_id"])
    assert update["object_ids"] == [calls["key_token"][:8]]
    assert update["changes"]["key_alias"] == [f"aud-k-{SUFFIX}", f"aud-k2-{SUFFIX}"]
    deleted = entry_of(database_url, calls["key.delete"]["request_id"])
    assert deleted["changes"]["key_alias"] == [f"aud-k2-{SUFFIX}", None]
    team = entry_of(database_url, calls["team.update"]["request_id"])
    assert team["changes"]["team_alias"] == [f"aud-t-{SUFFIX}", f"aud-t2-{SUFFIX}"]
    assert team["object_ids"] == [calls["team_id"]]
    sso = entry_of(database_url, calls["sso_config.create"]["request_id"])
    assert sso["changes"]["client_secret"] == "[redacted]"  # named as changed, never shown
    smtp = entry_of(database_url, calls["account.update.b"]["request_id"])
    assert smtp["changes"]["settings"][1]["smtp"]["password"] == "[redacted]"


@pytest.mark.parametrize("name", ["refused", "refused_handler"])
def test_a_policy_refusal_is_audited(
    database_url: str, calls: dict[str, Any], worlds: tuple[AccountWorld, AccountWorld], name: str
) -> None:
    a, _ = worlds
    entry = entry_of(database_url, calls[name]["request_id"])
    assert (entry["outcome"], entry["status_code"], entry["account_id"]) == ("refused", 403, a.account_id)
    actor = entry["actor"]
    assert (actor["user_id"], actor["key_hash_prefix"], actor["key_alias"]) == (
        a.member_user,
        a.member_token[:8],
        f"{a.slug}-member-key",
    )


def test_no_secret_is_stored(
    database_url: str, master_key: str, calls: dict[str, Any], worlds: tuple[AccountWorld, AccountWorld]
) -> None:
    secrets = [master_key, hashlib.sha256(master_key.encode()).hexdigest(), *calls["secrets"]]
    for world in worlds:
        secrets += [world.admin_key, world.admin_token, world.member_key, world.member_token, world.ui_session_key]
        secrets += [world.ui_session_cookie, f"sk-{world.slug}-provider-secret", "Member-Pass-42!"]
    stored = rows(database_url)
    assert len(stored) > 30
    text = "\n".join(json.dumps(row, default=str) for row in stored)
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"secrets in the audit log: {[s[:12] for s in leaked]}"


def test_an_admin_reads_only_its_account(
    proxy: ProxyProcess, master_key: str, calls: dict[str, Any], worlds: tuple[AccountWorld, AccountWorld]
) -> None:
    a, b = worlds
    admin = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {a.admin_key}"}, timeout=60)
    queries: list[dict[str, Any]] = [
        {},
        {"actor": a.admin_user},
        {"actor": "sk-test"},
        {"object_type": "key"},
        {"object_id": calls["team_id"]},
        {"action": "key.update"},
        {"since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"},
        {"actor": b.admin_user},
    ]
    for query in queries:
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {**query, "limit": 3, **({"cursor": cursor} if cursor else {})}
            page = admin.get("/atrium/audit", params=params)
            assert page.status_code == 200, page.text
            seen += page.json()["entries"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert all(e["account_id"] == a.account_id for e in seen), query
        assert len({e["id"] for e in seen}) == len(seen)  # pages do not overlap
        jsonl = admin.get("/atrium/audit/export", params={**query, "format": "jsonl"})
        exported = [json.loads(line) for line in jsonl.text.splitlines()]
        assert sorted(e["id"] for e in exported) == sorted(e["id"] for e in seen), query
        table = list(
            csv.DictReader(io.StringIO(admin.get("/atrium/audit/export", params={**query, "format": "csv"}).text))
        )
        assert {r["account_id"] for r in table} <= {a.account_id} and len(table) == len(seen)
    assert admin.get("/atrium/audit", params={"object_type": "key"}).json()["entries"]
    assert admin.get("/atrium/audit", params={"account_id": b.account_id}).status_code == 404
    member = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {a.member_key}"}, timeout=60)
    assert member.get("/atrium/audit").status_code == 403
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=60)
    b_log = root.get("/atrium/audit", params={"account_id": b.account_id, "limit": 500}).json()["entries"]
    assert b_log and all(e["account_id"] == b.account_id for e in b_log)
    a_log = root.get("/atrium/audit", params={"account_id": a.account_id, "actor": "super_admin"})
    assert a_log.status_code == 200
    assert admin.get("/atrium/audit", params={"cursor": "not-a-cursor"}).status_code == 400


LITELLM_FIELDS = {
    "id", "updated_at", "changed_by", "changed_by_api_key", "action", "table_name", "object_id", "before_value",
    "updated_values",
}  # fmt: skip


def test_the_ui_audit_page_reads_the_account_log_in_litellm_shape(
    proxy: ProxyProcess, database_url: str, worlds: tuple[AccountWorld, AccountWorld], calls: dict[str, Any]
) -> None:
    """LiteLLM's ``GET /audit`` and ``/audit/{id}`` (the admin UI's audit-log page), replaced: the caller's
    account's entries only, in LiteLLM's ``PaginatedAuditLogResponse`` / ``AuditLogResponse`` shape."""
    a, b = worlds
    admin = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {a.admin_key}"}, timeout=60)
    b_ids = {
        r["id"] for r in rows(database_url, 'SELECT id FROM "Atrium_AuditLog" WHERE account_id = $1', b.account_id)
    }
    a_ids = {
        r["id"] for r in rows(database_url, 'SELECT id FROM "Atrium_AuditLog" WHERE account_id = $1', a.account_id)
    }
    assert a_ids and b_ids
    listed = admin.get("/audit", params={"page": 1, "page_size": 100})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert set(body) == {"audit_logs", "total", "page", "page_size", "total_pages"}
    assert (body["page"], body["page_size"]) == (1, 100) and body["total"] >= len(body["audit_logs"]) > 0
    assert body["total_pages"] == -(-body["total"] // 100)
    seen = {e["id"] for e in body["audit_logs"]}
    assert seen <= a_ids and not seen & b_ids
    assert all(LITELLM_FIELDS <= set(e) for e in body["audit_logs"])
    # LiteLLM's filters: the key created above is a "created" row of LiteLLM_VerificationToken.
    generated = entry_of(database_url, calls["key.generate"]["request_id"])
    found = admin.get("/audit", params={"table_name": "LiteLLM_VerificationToken", "action": "created"}).json()
    assert generated["id"] in {e["id"] for e in found["audit_logs"]}
    one = admin.get(f"/audit/{generated['id']}")
    assert one.status_code == 200, one.text
    shown = one.json()
    assert (shown["action"], shown["table_name"], shown["object_id"]) == (
        "created", "LiteLLM_VerificationToken", generated["object_ids"][0],
    )  # fmt: skip
    assert shown["updated_values"]["key_alias"] == f"aud-k-{SUFFIX}" and shown["changed_by"] == a.admin_user
    # Another account's entry is not found; a member (or viewer) is refused like LiteLLM refuses non-admins.
    assert admin.get(f"/audit/{next(iter(b_ids))}").status_code == 404
    member = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {a.member_key}"}, timeout=60)
    assert member.get("/audit").status_code == 403
    assert member.get(f"/audit/{generated['id']}").status_code == 403


def test_every_mutating_route_called_by_a_member_has_exactly_one_entry(
    proxy: ProxyProcess, database_url: str, worlds: tuple[AccountWorld, AccountWorld], calls: dict[str, Any]
) -> None:
    """The generated sweep: every mutating route of the table, once, as a member of A (mostly refused)."""
    a, _ = worlds
    member = Caller(proxy.base_url, a.member_key)
    made: list[tuple[str, str, str, int]] = []
    for method, template, _ in MUTATING_ROUTES:
        path = "/".join("x" if part.startswith("{") else part for part in template.split("/"))
        request_id, response = member.call(method, path, {})
        made.append((request_id, method, template, response.status_code))
    for request_id, method, template, status in made:
        entry = entry_of(database_url, request_id)
        assert (entry["method"], entry["status_code"], entry["account_id"]) == (method, status, a.account_id)
        assert entry["outcome"] == ("success" if status < 400 else entry["outcome"]), template
    refused = sum(1 for *_, status in made if status in (401, 403))
    assert refused > len(made) // 2


_FAIL_TRIGGER = """
CREATE OR REPLACE FUNCTION atrium_test_audit_fail() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit storage unavailable (test)'; END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS atrium_test_audit_fail ON "Atrium_AuditLog";
CREATE TRIGGER atrium_test_audit_fail BEFORE INSERT ON "Atrium_AuditLog"
FOR EACH ROW WHEN (NEW.request_id LIKE 'audit-fail-%') EXECUTE FUNCTION atrium_test_audit_fail();
"""


def test_a_success_whose_entry_cannot_be_written_is_an_error(
    proxy: ProxyProcess, database_url: str, worlds: tuple[AccountWorld, AccountWorld]
) -> None:
    """The failure rule: no change is reported as a success without its entry (docs/audit.md)."""
    a, _ = worlds
    execute(database_url, _FAIL_TRIGGER)
    try:
        headers = {"Authorization": f"Bearer {a.admin_key}", "x-request-id": f"audit-fail-{uuid.uuid4().hex}"}
        alias = f"aud-fail-{SUFFIX}"
        answer = httpx.post(f"{proxy.base_url}/team/new", json={"team_alias": alias}, headers=headers, timeout=60)
        assert answer.status_code == 500, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["request_id"]) == ("audit_write_failed", headers["x-request-id"])
        assert headers["x-request-id"] in error["hint"]
        headers["x-request-id"] = f"audit-fail-{uuid.uuid4().hex}"
        refused = httpx.post(f"{proxy.base_url}/account/new", json={"name": "x"}, headers=headers, timeout=60)
        assert refused.status_code == 403  # a refusal changed nothing: still answered as the refusal
    finally:
        execute(database_url, 'DROP TRIGGER IF EXISTS atrium_test_audit_fail ON "Atrium_AuditLog"')


def test_verify_passes_on_the_served_log(database_url: str, worlds: tuple[AccountWorld, AccountWorld]) -> None:
    for world in worlds:
        assert main(["audit", "verify", "--account", world.account_id, "--database-url", database_url]) == 0
