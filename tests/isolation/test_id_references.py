"""Id-typed parameters naming another account's objects are refused (404), generated.

Cases come from the sources of truth, not a hand-picked list: every route the policy
opens to tenant principals (``served_routes`` x ``load_policy``), every id-typed parameter
it takes (path template, the FastAPI dependant's query parameters, the fields of its
request model at any depth; ``references.field_type`` says which are ids), and account
B's value of that id type read from B's own rows in the database. Each is sent by every
principal of account A (admin key, member key, UI session key). Nothing may succeed or
fail with a 5xx, nothing of B may come back, and B's rows in every TENANT table must be
unchanged. Then the proven attack end to end: A's admin inviting B's admin, and a forged
invitation of A for B's admin at the public onboarding routes.
"""

from __future__ import annotations

import asyncio
import re
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest
from pydantic import BaseModel
from rows import settled

from extensions import litellm
from extensions.app import served_routes
from extensions.routes.replacements import HANDLERS
from extensions.tenancy.data.tables import TableClass, tables_of
from extensions.tenancy.policy import references as refs
from extensions.tenancy.policy.conflicts import CLAIMS
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

POLICY = load_policy()
ROUTES = served_routes(include_lazy=True)  # also installs Atrium's routers on LiteLLM's app
DEPENDANTS = {
    (method, info.path): dep for info, dep in litellm.route_dependants(litellm.proxy_app()) for method in info.methods
}
TENANT_TABLES = tables_of(TableClass.TENANT)
_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
_PROBE = "atrium-probe"


def _open_routes() -> list[tuple[str, str, str]]:
    found: set[tuple[str, str, str]] = set()
    for route in ROUTES:
        if route.kind != "http":
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            entry = POLICY.entry_for(method, route.path)
            if entry is None:
                continue
            cls = str(entry.route_class)
            if cls in ("public", "llm", "tenant") or (cls == "replaced" and entry.handler in HANDLERS):
                found.add((method, route.path, cls))
    return sorted(found)


def _walk_dependant(dep: Any, acc: tuple[list[Any], list[Any], list[Any]]) -> tuple[list[Any], list[Any], list[Any]]:
    acc[0].extend(dep.path_params)
    acc[1].extend(dep.query_params)
    acc[2].extend(dep.body_params)
    for sub in dep.dependencies:
        _walk_dependant(sub, acc)
    return acc


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found = [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found.append(annotation)
    return found


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set) or (isinstance(origin, type) and origin.__name__ == "Sequence"):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if typing.get_origin(arg) is not None)


Builder = Callable[[str], Any]


def _model_fields(template: str, model: type[BaseModel], depth: int = 0) -> Iterator[tuple[str, str, Builder]]:
    """(dotted field, id type, body builder) for every id-typed field of the model, nested included."""
    if depth > 4:
        return
    new = refs.NEW_OBJECT_FIELDS.get(template, frozenset())
    for name, field in model.model_fields.items():
        kind = refs.field_type(template, name, in_body=True)
        listy = _is_list(field.annotation)
        if kind is not None and not (name in new and refs.ID_TYPES[kind].folded):
            yield name, kind, (lambda v, n=name, many=listy: {n: [v] if many else v})
        for sub in _models_in(field.annotation):
            for path, sub_kind, build in _model_fields(template, sub, depth + 1):
                yield (
                    f"{name}.{path}",
                    sub_kind,
                    (lambda v, n=name, b=build, many=listy: {n: [b(v)] if many else b(v)}),
                )


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    route_class: str
    where: str  # path, query or body
    field: str
    kind: str
    build: Builder | None = None

    def request(self, value: str) -> tuple[str, dict[str, str], Any, dict[str, str]]:
        def fill(m: re.Match[str]) -> str:
            return value if self.where == "path" and m.group(1) == self.field else _PROBE

        path = _PATH_PARAM.sub(fill, self.template)
        query = {self.field: value} if self.where == "query" else {}
        body = self.build(value) if self.build is not None else None
        headers = {self.field: value} if self.where == "header" else {}
        return path, query, body, headers


def _cases() -> list[Case]:
    cases: list[Case] = []
    for method, template, cls in _open_routes():
        if cls == "llm":
            if method == "POST":  # provider bodies: only spend tags are references (references.LLM_FIELDS)
                for header, kind in refs.HEADER_FIELDS.items():
                    cases.append(Case(method, template, cls, "header", header, kind, lambda v: {"model": "gpt-fake"}))
                for name in sorted(refs.LLM_FIELDS):
                    cases.append(Case(method, template, cls, "body", name, "tag", lambda v, n=name: {n: [v]}))
                    for box in refs.LLM_CONTAINERS:
                        build = lambda v, n=name, c=box: {c: {n: [v]}}  # noqa: E731
                        cases.append(Case(method, template, cls, "body", f"{box}.{name}", "tag", build))
            continue
        for name in _PATH_PARAM.findall(template):
            if (kind := refs.field_type(template, name)) is not None:
                cases.append(Case(method, template, cls, "path", name, kind))
        dep = DEPENDANTS.get((method, template))
        if dep is None:
            continue
        _, query, body = _walk_dependant(dep, ([], [], []))
        for param in query:
            if (kind := refs.field_type(template, param.name)) is not None:
                cases.append(Case(method, template, cls, "query", param.name, kind))
        models = [m for p in body for m in _models_in(p.field_info.annotation)]
        for model in models[:1] if len(body) == 1 else []:
            for path, kind, build in _model_fields(template, model):
                cases.append(Case(method, template, cls, "body", path, kind, build))
    return cases


CASES = _cases()


# --- account B's objects, one of every id type, read from its rows --------------------------


async def _plant(dsn: str, b: AccountWorld) -> None:
    """Rows of B for the id types build_account does not create (enterprise or super-admin routes)."""
    conn = await asyncpg.connect(dsn)
    try:
        acc, who = b.account_id, b.admin_user
        await conn.execute(
            'INSERT INTO "LiteLLM_BudgetTable" (budget_id, created_by, updated_by, updated_at, account_id) '
            "VALUES ($1, $2, $2, now(), $3) ON CONFLICT DO NOTHING",
            f"{b.slug}-budget",
            who,
            acc,
        )
        await conn.execute(
            'INSERT INTO "LiteLLM_TagTable" (tag_name, models, updated_at, account_id) '
            "VALUES ($1, '{}', now(), $2) ON CONFLICT DO NOTHING",
            f"{b.slug}-tag",
            acc,
        )
        await conn.execute(
            'INSERT INTO "LiteLLM_OrganizationTable" (organization_id, organization_alias, budget_id, models, '
            "created_by, updated_by, updated_at, account_id) VALUES ($1, $1, $2, '{}', $3, $3, now(), $4) "
            "ON CONFLICT DO NOTHING",
            f"{b.slug}-org",
            f"{b.slug}-budget",
            who,
            acc,
        )
        await conn.execute(
            'INSERT INTO "LiteLLM_AccessGroupTable" (access_group_id, access_group_name, updated_at, account_id) '
            "VALUES ($1, $1, now(), $2) ON CONFLICT DO NOTHING",
            f"{b.slug}-access-group",
            acc,
        )
        await conn.execute(
            'INSERT INTO "LiteLLM_ProjectTable" (project_id, models, created_by, updated_by, updated_at, account_id) '
            "VALUES ($1, '{}', $2, $2, now(), $3) ON CONFLICT DO NOTHING",
            f"{b.slug}-project",
            who,
            acc,
        )
        await conn.execute(
            'INSERT INTO "LiteLLM_AgentsTable" (agent_id, agent_name, agent_card_params, created_by, updated_by, '
            "updated_at, account_id) VALUES ($1, $1, '{}', $2, $2, now(), $3) ON CONFLICT DO NOTHING",
            f"{b.slug}-agent",
            who,
            acc,
        )
        await conn.execute(
            'UPDATE "LiteLLM_UserTable" SET sso_user_id = $1 WHERE user_id = $2 AND sso_user_id IS NULL',
            f"{b.slug}-sso-subject",
            b.member_user,
        )
    finally:
        await conn.close()


async def _values_of(dsn: str, b: AccountWorld) -> dict[str, list[str]]:
    """For every id type of references.ID_TYPES, one value from B's rows (keys: hash and raw key)."""
    conn = await asyncpg.connect(dsn)
    try:
        values: dict[str, list[str]] = {}
        for name, kind in refs.ID_TYPES.items():
            value = await conn.fetchval(
                f'SELECT "{kind.column}" FROM "{kind.table}" WHERE account_id = $1 AND "{kind.column}" IS NOT NULL '
                f'ORDER BY "{kind.column}" LIMIT 1',
                b.account_id,
            )
            values[name] = [value] if value is not None else []
        values["key"].append(b.member_key)  # keys are also named by the raw sk- value
        return values
    finally:
        await conn.close()


async def _snapshot(dsn: str, account_id: str) -> dict[str, list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        out: dict[str, list[str]] = {}
        for table in TENANT_TABLES:
            rows = await conn.fetch(f'SELECT to_jsonb(t)::text AS j FROM "{table}" t WHERE account_id = $1', account_id)
            out[table] = sorted(r["j"] for r in rows)
        return out
    finally:
        await conn.close()


def _stable_snapshot(dsn: str, account_id: str) -> dict[str, list[str]]:
    """B's rows once its own set-up traffic is billed."""
    result: dict[str, list[str]] = settled(lambda: asyncio.run(_snapshot(dsn, account_id)), what="account B's rows")
    return result


@pytest.fixture(scope="module")
def b_values(database_url: str, account_b: AccountWorld) -> dict[str, list[str]]:
    asyncio.run(_plant(database_url, account_b))
    values = asyncio.run(_values_of(database_url, account_b))
    missing = [name for name, found in values.items() if not found]
    assert not missing, f"account B has no row of id types {missing}: plant one in _plant"
    return values


@pytest.fixture(scope="module")
def principals(proxy: ProxyProcess, account_a: AccountWorld) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        "admin": account_a.client(proxy.base_url, account_a.admin_key),
        "member": account_a.client(proxy.base_url, account_a.member_key),
        "ui-session": account_a.client(proxy.base_url, account_a.ui_session_key),
    }
    yield clients
    for client in clients.values():
        client.close()


# --- classification: every id-like field is classified ---------------------------------------

_ID_LIKE = re.compile(
    r"(^id$|_id$|_ids$|Id$|^email$|_email$|^key$|_key$|^keys$|^token$|_hash$|^tags$|^members$|^teams$|^team$"
    r"|^budgets$|^organizations$|_link$|^names$)"
)


def _classified(template: str, name: str) -> bool:
    return (
        refs.field_type(template, name) is not None
        or name in refs.NOT_REFERENCES
        or name in refs.ROUTE_FIELDS.get(template, {})
    )


def _unclassified_model_fields(template: str, model: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    found = [
        f"{model.__name__}.{name}"
        for name in model.model_fields
        if _ID_LIKE.search(name) and not _classified(template, name)
    ]
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            found += _unclassified_model_fields(template, sub, seen)
    return found


def test_every_id_like_parameter_is_classified() -> None:
    """LiteLLM's request models (adapter list), tenant routes' bodies, tenant/replaced routes' params."""
    unclassified: set[str] = set()
    for model in litellm.request_models().values():
        unclassified.update(_unclassified_model_fields("", model, set()))
    for method, template, cls in _open_routes():
        if cls not in ("tenant", "replaced"):
            continue
        path, query, body = _walk_dependant(DEPENDANTS[(method, template)], ([], [], []))
        for param in path + query:
            if _ID_LIKE.search(param.name) and not _classified(template, param.name):
                unclassified.add(f"{method} {template} ?{param.name}")
        if cls == "tenant":
            for param in body:
                for model in _models_in(param.field_info.annotation):
                    unclassified.update(f"{template} {f}" for f in _unclassified_model_fields(template, model, set()))
    assert not unclassified, "id-like fields not classified in references.py:\n" + "\n".join(sorted(unclassified))


def test_cases_cover_every_id_type_and_the_proven_routes() -> None:
    kinds = {c.kind for c in CASES}
    assert kinds == set(refs.ID_TYPES), f"no generated case for {set(refs.ID_TYPES) - kinds}"
    routes = {(c.method, c.template) for c in CASES}
    for expected in [
        ("POST", "/invitation/new"),
        ("GET", "/onboarding/get_token"),
        ("POST", "/onboarding/claim_token"),
        ("POST", "/key/generate"),
        ("POST", "/key/service-account/generate"),
        ("POST", "/key/update"),
        ("POST", "/key/bulk_update"),
        ("POST", "/team/member_add"),
        ("POST", "/team/bulk_member_add"),
        ("POST", "/management/v1/users/bulk"),
    ]:
        assert expected in routes, expected


def test_collector_finds_every_generated_parameter() -> None:
    """The middleware's collector sees each generated id where the case puts it (no proxy needed)."""
    missed = []
    for case in CASES:
        path, query, body, headers = case.request("sentinel-id")
        query_string = urlencode(query).encode()
        llm = case.route_class == "llm"
        found = refs.collect_references(case.template, path, query_string, body, llm=llm, headers=headers)
        if "sentinel-id" not in found.get(case.kind, set()):
            missed.append(f"{case.method} {case.template} {case.where}:{case.field} ({case.kind}): {found}")
    assert not missed, "\n".join(missed)


# --- the generated sweep ----------------------------------------------------------------------


def test_other_accounts_ids_are_refused_everywhere(
    proxy: ProxyProcess,
    principals: dict[str, httpx.Client],
    account_b: AccountWorld,
    b_values: dict[str, list[str]],
    database_url: str,
) -> None:
    before = _stable_snapshot(database_url, account_b.account_id)
    wrong: list[str] = []
    sent_count = 0
    for case in CASES:
        for value in b_values[case.kind]:
            path, query, body, headers = case.request(value)
            for who, client in principals.items():
                response = client.request(case.method, path, params=query, json=body, headers=headers, timeout=30)
                sent_count += 1
                sent = str(response.request.url) + response.request.content.decode(errors="replace")
                found = [c for c in account_b.canaries if c in response.text and c not in sent]
                label = f"{who} {case.method} {case.template} [{case.route_class}] {case.where}:{case.field}"
                # A value another account holds, sent where a new one is claimed, is a conflict (one
                # generic 409, extensions/tenancy/policy/conflicts.py); everywhere else it is not found.
                refused = (403, 404, 409) if f"{case.method} {case.template}" in CLAIMS else (403, 404)
                if response.status_code not in refused:
                    wrong.append(f"{label} -> {response.status_code} {response.text[:160]}")
                elif found:
                    wrong.append(f"{label} -> {response.status_code} returned {found}")
    assert sent_count > 1000, f"only {sent_count} requests generated"
    assert not wrong, f"{len(wrong)} of {sent_count} requests were not refused:\n" + "\n".join(wrong[:80])
    time.sleep(3)  # anything queued (spend, background writes) lands
    after = asyncio.run(_snapshot(database_url, account_b.account_id))
    changed = [t for t in TENANT_TABLES if after[t] != before[t]]
    assert not changed, f"account B's rows changed in {changed}"


# --- the proven attack, end to end ------------------------------------------------------------

OLD_PASSWORD = "Bravo-Admin-Pass-1!"


def _login(base_url: str, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{base_url}/v2/login", json={"username": email, "password": password}, timeout=30)


async def _forge_invitation(dsn: str, link: str, user_id: str, issuer: AccountWorld) -> None:
    """What A could leave behind if the invitation were ever written: A's row naming B's user."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            'INSERT INTO "LiteLLM_InvitationLink" (id, user_id, is_accepted, expires_at, created_at, created_by, '
            "updated_at, updated_by, account_id) VALUES ($1, $2, false, now() + interval '7 days', now(), $3, now(), "
            "$3, $4)",
            link,
            user_id,
            issuer.admin_user,
            issuer.account_id,
        )
    finally:
        await conn.close()


async def _invitations_for(dsn: str, user_id: str, account_id: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            'SELECT count(*) FROM "LiteLLM_InvitationLink" WHERE user_id = $1 AND account_id = $2', user_id, account_id
        )
        return count
    finally:
        await conn.close()


def _litellm_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]  # LiteLLM's ProxyException body: the admin UI parses it
    assert set(error) >= {"message", "type", "param", "code"} and error["code"] == str(status)
    assert "token" not in response.json()


def test_invitation_takeover_of_another_accounts_admin_is_refused(
    proxy: ProxyProcess, account_a: AccountWorld, account_b: AccountWorld, database_url: str
) -> None:
    base = proxy.base_url
    admin_a = account_a.client(base, account_a.admin_key)
    admin_b = account_b.client(base, account_b.admin_key)
    b_email = f"admin@{account_b.slug}.example"
    # B's admin gets an email and a password through B's own API, so the login can be checked.
    response = admin_b.post(
        "/user/update", json={"user_id": account_b.admin_user, "user_email": b_email, "password": OLD_PASSWORD}
    )
    assert response.status_code == 200, response.text
    assert _login(base, b_email, OLD_PASSWORD).status_code == 200

    # 1. A's admin invites B's admin: refused before LiteLLM writes the row.
    response = admin_a.post("/invitation/new", json={"user_id": account_b.admin_user})
    assert response.status_code == 404, response.text
    assert account_b.admin_user not in response.text
    assert asyncio.run(_invitations_for(database_url, account_b.admin_user, account_a.account_id)) == 0

    # 2. An invitation of A naming B's admin, forged in the DB: the public onboarding routes refuse it.
    link = str(uuid.uuid4())
    asyncio.run(_forge_invitation(database_url, link, account_b.admin_user, account_a))
    _litellm_error(httpx.get(f"{base}/onboarding/get_token", params={"invite_link": link}, timeout=30), 404)
    claim = {"invitation_link": link, "user_id": account_b.admin_user, "password": "Taken-Over-1!"}
    _litellm_error(httpx.post(f"{base}/onboarding/claim_token", json=claim, timeout=30), 404)
    # ... and so does every principal of A presenting it (the reference check, Atrium's shape).
    for key in (account_a.admin_key, account_a.member_key, account_a.ui_session_key):
        response = account_a.client(base, key).get("/onboarding/get_token", params={"invite_link": link})
        assert response.status_code == 404, response.text

    # 3. A's genuine invitation for its own user, claimed for B's admin: refused.
    own_user = f"{account_a.slug}-invitee-{uuid.uuid4().hex[:6]}"
    assert admin_a.post("/user/new", json={"user_id": own_user, "user_role": "internal_user"}).status_code == 200
    own_link = admin_a.post("/invitation/new", json={"user_id": own_user}).json()["id"]
    assert httpx.get(f"{base}/onboarding/get_token", params={"invite_link": own_link}, timeout=30).status_code == 200
    claim = {"invitation_link": own_link, "user_id": account_b.admin_user, "password": "Taken-Over-1!"}
    _litellm_error(httpx.post(f"{base}/onboarding/claim_token", json=claim, timeout=30), 400)

    # B's admin still logs in with the old password, and not with the attacker's.
    assert _login(base, b_email, OLD_PASSWORD).status_code == 200
    assert _login(base, b_email, "Taken-Over-1!").status_code != 200


def test_own_ids_still_work(proxy: ProxyProcess, account_a: AccountWorld) -> None:
    """The check does not refuse the account's own objects (the flows build_account uses too)."""
    admin = account_a.client(proxy.base_url, account_a.admin_key)
    user = f"{account_a.slug}-own-{uuid.uuid4().hex[:6]}"
    assert admin.post("/user/new", json={"user_id": user, "teams": [account_a.team_id]}).status_code == 200
    response = admin.post("/key/generate", json={"user_id": user, "team_id": account_a.team_id, "models": ["gpt-fake"]})
    assert response.status_code == 200, response.text
    response = admin.post(
        "/team/member_update", json={"team_id": account_a.team_id, "user_id": user, "max_budget_in_team": 5}
    )
    assert response.status_code == 200, response.text
    assert admin.get("/key/info", params={"key": response.request.headers["authorization"][7:]}).status_code == 200
