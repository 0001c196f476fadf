"""Server-side references in tenant configuration, and the egress policy, against the real proxy.

Cases are generated: the fields come from LiteLLM's own request models (``LiteLLM_Params``,
``ModelInfo``), Atrium's SSO config model and the route table (every tenant write route the
body check covers); the reference forms from every prefix LiteLLM's secret readers
dereference (``litellm.secret_reference_prefixes()``) in the spellings a filter may
miss. Every case must be a 400 naming the field, and nothing may be stored.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import pytest
from litellm.types.router import LiteLLM_Params, ModelInfo

from extensions import litellm
from extensions.app import served_routes
from extensions.models.naming import ACCOUNT_KEY, PUBLIC_NAME_KEY, internal_name
from extensions.routes.sso_config import SsoConfigIn
from extensions.tenancy.policy.config_values import checks_management_body, refused_litellm_params
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

ENV_NAME = "LITELLM_MASTER_KEY"


def _forms() -> list[str]:
    forms: list[str] = []
    for prefix in litellm.secret_reference_prefixes():
        forms += [f"{prefix}{ENV_NAME}", f"{prefix.upper()}{ENV_NAME}", f"  {prefix}{ENV_NAME}"]
    env = f"os.environ/{ENV_NAME}"
    forms += [env.replace("/", "%2F"), env.replace("/", "%252F"), f"x-{env}", "\uff4fs.environ/" + ENV_NAME]
    return forms


FORMS = _forms()
FILE_PATHS = ["/var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/ssl/private/key.pem", "~/.aws/credentials"]
FOREIGN_URLS = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/token"]
FORBIDDEN_BASES = [
    "http://169.254.169.254/v1", "http://[fd00:ec2::254]/v1", "http://10.0.0.1/v1", "http://192.168.0.10/v1",
    "http://100.64.0.1/v1", "http://[::1]:9/v1", "http://localhost:9/v1", "http://[::ffff:127.0.0.1]:9/v1",
    "http://0.0.0.0:9/v1", "file:///etc/passwd", "gopher://127.0.0.1:9/",
]  # fmt: skip


def _rotating(fields: list[str]) -> list[tuple[str, str]]:
    """Each field once, each form at least once: (field, form) pairs."""
    count = max(len(fields), len(FORMS))
    return [(fields[i % len(fields)], FORMS[i % len(FORMS)]) for i in range(count)]


LITELLM_FIELDS = sorted(LiteLLM_Params.model_fields)
STRING_FIELDS = sorted(n for n, f in LiteLLM_Params.model_fields.items() if "str" in str(f.annotation))
INFO_FIELDS = sorted(ModelInfo.model_fields)
SSO_FIELDS = sorted(n for n, f in SsoConfigIn.model_fields.items() if "str" in str(f.annotation))


def _named(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, f"{field}: {response.status_code} {response.text[:300]}"
    error = response.json()["error"]
    assert field in str(error.get("message")), f"{field} not named: {error}"


def _rows(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def _account_models(dsn: str, account_id: str) -> int:
    rows = _rows(dsn, 'SELECT count(*) AS n FROM "LiteLLM_ProxyModelTable" WHERE model_name LIKE $1', f"{account_id}/%")
    return int(rows[0]["n"])


def _account_credentials(dsn: str, account_id: str) -> int:
    rows = _rows(
        dsn, 'SELECT count(*) AS n FROM "LiteLLM_CredentialsTable" WHERE credential_name LIKE $1', f"{account_id}/%"
    )
    return int(rows[0]["n"])


@pytest.fixture(scope="module")
def admin(proxy: ProxyProcess, account_a: AccountWorld) -> Iterator[httpx.Client]:
    with account_a.client(proxy.base_url, account_a.admin_key) as client:
        yield client


@pytest.fixture(scope="module")
def own_model(proxy: ProxyProcess, admin: httpx.Client) -> Iterator[tuple[str, FakeUpstream]]:
    upstream = FakeUpstream("refs-own").start()
    created = admin.post(
        "/model/new",
        json={
            "model_name": "refs-own",
            "litellm_params": {"model": "openai/refs-own", "api_base": upstream.base_url, "api_key": "sk-refs-own"},
        },
    )
    assert created.status_code == 200, created.text
    credential = admin.post(
        "/credentials", json={"credential_name": "refs-cred", "credential_values": {"api_key": "k"}}
    )
    assert credential.status_code == 200, credential.text
    yield created.json()["model_info"]["id"], upstream
    upstream.stop()


# --- models and credentials ---------------------------------------------------------------


def test_model_create_refuses_every_reference_in_every_litellm_param(
    admin: httpx.Client, account_a: AccountWorld, database_url: str
) -> None:
    before = _account_models(database_url, account_a.account_id)
    for field, form in _rotating(LITELLM_FIELDS):
        params = {"model": "openai/x", "api_key": "sk-x", field: form}
        _named(admin.post("/model/new", json={"model_name": "m", "litellm_params": params}), f"litellm_params.{field}")
    for field, form in _rotating(INFO_FIELDS):
        body = {"model_name": "m", "litellm_params": {"model": "openai/x", "api_key": "k"}, "model_info": {field: form}}
        _named(admin.post("/model/new", json=body), f"model_info.{field}")
    _named(admin.post("/model/new", json={"model_name": FORMS[0], "litellm_params": {"model": "o/x"}}), "model_name")
    assert _account_models(database_url, account_a.account_id) == before


def test_model_create_refuses_dangerous_and_unclassified_fields_with_paths_and_urls(
    admin: httpx.Client, account_a: AccountWorld, database_url: str
) -> None:
    before = _account_models(database_url, account_a.account_id)
    dangerous = sorted(refused_litellm_params() | {"ssl_verify", "client_cert", "credentials_path", "token_url"})
    for field, value in zip(dangerous, itertools.cycle(FILE_PATHS + FOREIGN_URLS), strict=False):
        params = {"model": "openai/x", "api_key": "sk-x", field: value}
        _named(admin.post("/model/new", json={"model_name": "m", "litellm_params": params}), f"litellm_params.{field}")
    for value in FILE_PATHS:  # a string that is not JSON is read as a credentials file
        params = {"model": "vertex_ai/gemini", "vertex_credentials": value}
        _named(admin.post("/model/new", json={"model_name": "m", "litellm_params": params}), "vertex_credentials")
    for base in FORBIDDEN_BASES:
        params = {"model": "openai/x", "api_key": "sk-x", "api_base": base}
        _named(admin.post("/model/new", json={"model_name": "m", "litellm_params": params}), "litellm_params.api_base")
    # No credential of its own: LiteLLM would send the gateway's OPENAI_API_KEY / cloud identity.
    for params in ({"model": "openai/x"}, {"model": "vertex_ai/gemini", "api_key": "k"}, {"model": "bedrock/x"}):
        _named(admin.post("/model/new", json={"model_name": "m", "litellm_params": params}), "api_key")
    assert _account_models(database_url, account_a.account_id) == before


def test_model_updates_refuse_references(
    admin: httpx.Client, own_model: tuple[str, FakeUpstream], database_url: str
) -> None:
    model_id, _ = own_model
    stored = _rows(database_url, 'SELECT litellm_params FROM "LiteLLM_ProxyModelTable" WHERE model_id = $1', model_id)
    for field, form in _rotating(STRING_FIELDS):
        update = {"model_info": {"id": model_id}, "litellm_params": {field: form}}
        _named(admin.post("/model/update", json=update), f"litellm_params.{field}")
        _named(admin.patch(f"/model/{model_id}/update", json={"litellm_params": {field: form}}), field)
    for base in FORBIDDEN_BASES:
        _named(admin.patch(f"/model/{model_id}/update", json={"litellm_params": {"api_base": base}}), "api_base")
    after = _rows(database_url, 'SELECT litellm_params FROM "LiteLLM_ProxyModelTable" WHERE model_id = $1', model_id)
    assert after == stored


def test_credentials_refuse_references_in_values_and_info(
    admin: httpx.Client, own_model: tuple[str, FakeUpstream], account_a: AccountWorld, database_url: str
) -> None:
    before = _account_credentials(database_url, account_a.account_id)
    for field, form in _rotating(STRING_FIELDS):
        body = {"credential_name": "refs-new", "credential_values": {field: form}}
        _named(admin.post("/credentials", json=body), f"credential_values.{field}")
        _named(admin.patch("/credentials/refs-cred", json={"credential_values": {field: form}}), field)
    for form in FORMS:
        body = {"credential_name": "refs-new", "credential_values": {"api_key": "k"}, "credential_info": {"d": form}}
        _named(admin.post("/credentials", json=body), "credential_info.d")
    for base in FORBIDDEN_BASES:
        body = {"credential_name": "refs-new", "credential_values": {"api_key": "k", "api_base": base}}
        _named(admin.post("/credentials", json=body), "credential_values.api_base")
    assert _account_credentials(database_url, account_a.account_id) == before


# --- management bodies: key/team/user/customer/... metadata ----------------------------------


def _write_routes() -> list[tuple[str, str]]:
    policy = load_policy()
    found: set[tuple[str, str]] = set()
    for route in served_routes():
        for method in sorted(route.methods):
            classified = policy.classify(method, route.path)
            if classified is not None and checks_management_body(str(classified.route_class), classified.route):
                found.add((method, route.path))
    return sorted(found)


WRITE_ROUTES = _write_routes()


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "refs-x", path)


def _management_counts(dsn: str) -> list[int]:
    tables = ["LiteLLM_VerificationToken", "LiteLLM_TeamTable", "LiteLLM_UserTable", "LiteLLM_EndUserTable",
              "LiteLLM_BudgetTable", "LiteLLM_InvitationLink", "LiteLLM_TeamMembership"]  # fmt: skip
    return [int(_rows(dsn, f'SELECT count(*) AS n FROM "{t}"')[0]["n"]) for t in tables]


def test_the_body_check_covers_every_key_team_user_and_customer_write() -> None:
    routes = {f"{m} {p}" for m, p in WRITE_ROUTES}
    for expected in ("POST /key/generate", "POST /key/update", "POST /team/new", "POST /team/update",
                     "POST /user/new", "POST /user/update", "POST /customer/new", "POST /end_user/update"):  # fmt: skip
        assert expected in routes


@pytest.mark.parametrize("principal", ["admin_key", "member_key", "ui_session_key"])
def test_management_writes_refuse_references_and_logging_callbacks(
    proxy: ProxyProcess, account_a: AccountWorld, database_url: str, principal: str
) -> None:
    before = _management_counts(database_url)
    forms = itertools.cycle(FORMS)
    callback_keys = itertools.cycle(
        k
        for k in ["logging", "callback_settings", *litellm.dynamic_callback_params()]
        if k != "turn_off_message_logging"  # a privacy switch: only ever reduces logging
    )
    with account_a.client(proxy.base_url, getattr(account_a, principal)) as client:
        for method, path in WRITE_ROUTES:
            url = _fill(path)
            form = next(forms)
            for body, field in (
                ({"metadata": {"note": form}, "key_alias": "refs"}, "metadata.note"),
                ({"team_metadata": {"x": [form]}}, "team_metadata.x[0]"),
                ({"config": {"api_key": form}}, "config.api_key"),
                ({"users": [{"metadata": {"tag": form}}]}, "users[0].metadata.tag"),
            ):
                _named(client.request(method, url, json=body), field)
            key = next(callback_keys)
            logging = [{"callback_name": "langfuse", "callback_vars": {"langfuse_host": "http://169.254.169.254"}}]
            _named(client.request(method, url, json={"metadata": {key: logging}}), f"metadata.{key}")
    assert _management_counts(database_url) == before


# --- SSO configuration --------------------------------------------------------------------


def test_sso_config_refuses_references_and_private_addresses(
    admin: httpx.Client, account_a: AccountWorld, database_url: str
) -> None:
    base = {"issuer": "https://idp.example.com", "client_id": "c", "client_secret": "s"}
    for field, form in _rotating(SSO_FIELDS):
        _named(admin.post("/atrium/sso/config", json={**base, field: form}), field)
    for form in FORMS:
        _named(admin.post("/atrium/sso/config", json={**base, "admin_values": [form]}), "admin_values[0]")
    for field in ("issuer", "discovery_url"):
        for url in FORBIDDEN_BASES:
            _named(admin.post("/atrium/sso/config", json={**base, field: url}), field)
    rows = _rows(database_url, 'SELECT 1 FROM "Atrium_OidcConfig" WHERE account_id = $1', account_a.account_id)
    assert rows == []


class _Redirector(BaseHTTPRequestHandler):
    hits: list[str] = []
    location = ""

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(302 if self.path.startswith("/redirect") else 200)
        if self.path.startswith("/redirect"):
            self.send_header("Location", type(self).location)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/.well-known/openid-configuration", "http://localhost:{port}/ok"]
)
def test_idp_discovery_redirect_to_a_disallowed_address_is_refused(
    proxy: ProxyProcess, account_b: AccountWorld, target: str
) -> None:
    handler: Any = type("Handler", (_Redirector,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    handler.location = target.format(port=port)
    try:
        with account_b.client(proxy.base_url, account_b.admin_key) as admin:
            config = {
                "issuer": f"http://127.0.0.1:{port}",
                "discovery_url": f"http://127.0.0.1:{port}/redirect-{uuid.uuid4().hex[:6]}",
                "client_id": "c",
                "client_secret": "s",
            }
            assert admin.post("/atrium/sso/config", json=config).status_code == 200
        started = httpx.get(f"{proxy.base_url}/atrium/sso/start", params={"email": f"x@{account_b.slug}.example"})
        # Unauthenticated, so the answer is the one every account that cannot start SSO gets
        # (tests/auth/test_sso_negative.py); the refusal itself is in the operator's log.
        assert started.status_code == 404 and started.json()["error"]["code"] == "sso_not_configured", started.text
        assert "169.254" not in started.text and "localhost" not in started.text
        assert [hit.split("-")[0] for hit in handler.hits] == ["/redirect"]  # the second hop never happened
    finally:
        server.shutdown()
        with account_b.client(proxy.base_url, account_b.admin_key) as admin:
            admin.post("/atrium/sso/config/delete")


# --- end to end: the proven attack, and connect-time checks ---------------------------------


def _chat(base_url: str, key: str, model: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": "os.environ/ in a prompt is fine"}], **extra},
        timeout=60,
    )


def _until_known(base_url: str, key: str, model: str, limit: float = 60.0) -> httpx.Response:
    """The first answer that is not 'no such model' (workers reload models from the DB)."""
    deadline = time.monotonic() + limit
    while True:
        answer = _chat(base_url, key, model)
        if answer.status_code != 404 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_master_key_reference_is_refused_and_never_reaches_an_upstream(
    proxy: ProxyProcess, admin: httpx.Client, account_a: AccountWorld, own_model: tuple[str, FakeUpstream],
    master_key: str, database_url: str,
) -> None:  # fmt: skip
    _, upstream = own_model
    attack = {"model": "openai/x", "api_key": f"os.environ/{ENV_NAME}", "api_base": upstream.base_url}
    before = _account_models(database_url, account_a.account_id)
    _named(admin.post("/model/new", json={"model_name": "steal", "litellm_params": attack}), "litellm_params.api_key")
    assert _account_models(database_url, account_a.account_id) == before
    answer = _until_known(proxy.base_url, account_a.admin_key, "refs-own")
    assert answer.status_code == 200, answer.text
    # Request-borne references and callback settings are refused in LiteLLM's error shape (LiteLLM's
    # own auth check catches the plain top-level form first with a 401; Atrium's hook the rest).
    for extra, field in (
        ({"langfuse_secret_key": f"os.environ/{ENV_NAME}"}, "langfuse_secret_key"),
        ({"langfuse_secret_key": f" OS.ENVIRON/{ENV_NAME}"}, "langfuse_secret_key"),
        ({"metadata": {"langfuse_secret_key": f"hashicorp_vault/{ENV_NAME}"}}, "metadata.langfuse_secret_key"),
        ({"metadata": {"langfuse_public_key": f"oidc/env/{ENV_NAME}"}}, "metadata.langfuse_public_key"),
        ({"langfuse_host": "http://169.254.169.254"}, "langfuse_host"),
        ({"metadata": {"logging": [{"callback_name": "langfuse"}]}}, "metadata.logging"),
        ({"aws_role_name": "arn:aws:iam::1:role/gateway"}, "aws_role_name"),
        ({"vertex_credentials": f"os.environ/{ENV_NAME}"}, "vertex_credentials"),
    ):
        refused = _chat(proxy.base_url, account_a.admin_key, "refs-own", **extra)
        assert refused.status_code in (400, 401), refused.text
        assert field.rsplit(".", 1)[-1] in refused.text
    authorizations = {r.authorization for r in upstream.requests}
    assert authorizations == {"Bearer sk-refs-own"}
    assert not any(master_key in str(r.body) or master_key in str(r.authorization) for r in upstream.requests)


def _insert_account_model(dsn: str, account_id: str, public: str, api_base: str) -> None:
    """A deployment row written behind the API's back, as if its name now resolved elsewhere."""
    model_id = str(uuid.uuid4())
    info = {"id": model_id, ACCOUNT_KEY: account_id, PUBLIC_NAME_KEY: public, "db_model": True}
    params = {"model": "openai/gpt-fake", "api_base": api_base, "api_key": "sk-inserted"}

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(
                'INSERT INTO "LiteLLM_ProxyModelTable" (model_id, model_name, litellm_params, model_info, '
                "created_by, updated_by) VALUES ($1, $2, $3::jsonb, $4::jsonb, 'test', 'test')",
                model_id,
                internal_name(account_id, public),
                json.dumps(params),
                json.dumps(info),
            )
        finally:
            await conn.close()

    asyncio.run(run())


def test_connect_time_refuses_a_disallowed_endpoint_written_behind_the_api(
    proxy: ProxyProcess, account_a: AccountWorld, database_url: str
) -> None:
    victim = FakeUpstream("refs-metadata").start()  # stands for a service on the gateway's own host
    try:
        port = victim.base_url.split(":")[2].split("/")[0]
        _insert_account_model(database_url, account_a.account_id, "via-localhost", f"http://localhost:{port}/v1")
        _insert_account_model(database_url, account_a.account_id, "via-metadata", "http://169.254.169.254/v1")
        for public in ("via-localhost", "via-metadata"):
            answer = _until_known(proxy.base_url, account_a.admin_key, public)
            assert answer.status_code == 403, answer.text
            assert answer.json()["error"]["code"] in ("egress_refused", "403")
            assert "egress" in answer.text or "not an address" in answer.text
        assert victim.requests == []
    finally:
        victim.stop()
