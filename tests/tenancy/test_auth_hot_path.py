"""Authentication's hot path through a real proxy: unknown keys, global and account keys, the account header.

- An unknown key gets LiteLLM's own 401 (its message and error type), not the raw SQL
  guard's refusal that made LiteLLM retry with backoff for seconds.
- Neither an unknown key nor a global or account key's requests leave a refused raw statement
  (or LiteLLM's "auth prefetch skipped") in the proxy's log: the prefetch is decided per key.
- ``X-Atrium-Account`` from anyone but the super admin is refused with 403, naming the header.
- A start logs no ``_Prisma__engine`` exception (LiteLLM's drain tracking instruments the client).

Log assertions read only the slice a test wrote (the session proxy's log is shared).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import openai
import pytest
from litellm.constants import INVALID_API_KEY_ERROR_MESSAGE

from extensions.settings import DEV_MASTER_KEY
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account

# What a refused or retried authentication leaves in the log; none may appear on these paths.
REFUSAL_MARKERS = (
    "raw SQL refused",
    "raw statement refused",
    "auth prefetch skipped",
    "Error with `get_data`",
    "runs raw SQL over tenant data",
)
# LiteLLM's own answer to a key it cannot find, read from the installed version.
LITELLM_UNKNOWN_KEY: str = INVALID_API_KEY_ERROR_MESSAGE


@contextmanager
def log_slice(proxy: ProxyProcess) -> Iterator[list[str]]:
    """The proxy log lines written while the block ran (filled in on exit)."""
    start = proxy.log_path.stat().st_size
    lines: list[str] = []
    yield lines
    with proxy.log_path.open("rb") as log:
        log.seek(start)
        lines.extend(log.read().decode(errors="replace").splitlines())


def _refusals(lines: list[str]) -> list[str]:
    return [line for line in lines if any(marker in line for marker in REFUSAL_MARKERS)]


@pytest.fixture(scope="module")
def world(proxy: ProxyProcess, master_key: str) -> AccountWorld:
    return build_account(proxy.base_url, master_key, f"hot-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def global_key(proxy: ProxyProcess, master_key: str) -> str:
    """A key the super admin creates without acting as an account: it belongs to no account.

    It has a (global) user and team, so LiteLLM's authentication prefetches their rows: the
    raw statement the guard used to refuse on every request.
    """
    suffix = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as root:
        team = root.post("/team/new", json={"team_alias": f"global-team-{suffix}", "models": ["gpt-fake"]})
        assert team.status_code == 200, team.text
        user = root.post("/user/new", json={"user_id": f"global-user-{suffix}", "auto_create_key": False})
        assert user.status_code == 200, user.text
        response = root.post(
            "/key/generate",
            json={"user_id": f"global-user-{suffix}", "team_id": team.json()["team_id"], "models": ["gpt-fake"]},
        )
    assert response.status_code == 200, response.text
    assert response.json().get("account_id") is None
    key: str = response.json()["key"]
    return key


def test_a_start_logs_no_prisma_engine_exception(proxy: ProxyProcess) -> None:
    text = proxy.log_path.read_text(errors="replace")
    assert "Application startup complete" in text or "atrium: serving" in text  # it is the start's log
    assert "_Prisma__engine" not in text
    assert "Prisma Client Exception connect()" not in text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/chat/completions", {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}),
        ("GET", "/v1/models", None),
        ("GET", "/key/info", None),
    ],
)
def test_an_unknown_key_gets_litellms_401_without_a_refusal(
    proxy: ProxyProcess, method: str, path: str, body: dict[str, object] | None
) -> None:
    unknown = "sk-" + uuid.uuid4().hex
    with log_slice(proxy) as lines:
        response = httpx.request(
            method, proxy.base_url + path, json=body, headers={"Authorization": f"Bearer {unknown}"}, timeout=30
        )
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["message"] == LITELLM_UNKNOWN_KEY, error
    assert error["type"] == "token_not_found_in_db" and str(error["code"]) == "401"
    assert "raw SQL" not in response.text
    assert _refusals(lines) == []


def test_the_openai_client_sees_an_authentication_error_for_an_unknown_key(proxy: ProxyProcess) -> None:
    client = openai.OpenAI(base_url=proxy.base_url, api_key="sk-" + uuid.uuid4().hex, max_retries=0)
    with pytest.raises(openai.AuthenticationError, match=re.escape(LITELLM_UNKNOWN_KEY)):
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])


def test_a_global_keys_requests_leave_no_refused_statement(proxy: ProxyProcess, global_key: str) -> None:
    client = openai.OpenAI(base_url=proxy.base_url, api_key=global_key, max_retries=0)
    with log_slice(proxy) as lines:
        for _ in range(3):
            reply = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content
        assert [m.id for m in client.models.list()] == ["gpt-fake"]
    assert _refusals(lines) == []


def test_account_keys_requests_leave_no_refused_statement(proxy: ProxyProcess, world: AccountWorld) -> None:
    with log_slice(proxy) as lines:
        for key in (world.admin_key, world.member_key):
            client = openai.OpenAI(base_url=proxy.base_url, api_key=key, max_retries=0)
            for _ in range(2):
                reply = client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "hi"}])
                assert reply.choices[0].message.content
    assert _refusals(lines) == []


@pytest.mark.parametrize("who", ["admin", "member", "ui_session"])
def test_the_account_header_from_a_non_super_admin_is_refused(
    proxy: ProxyProcess, world: AccountWorld, who: str
) -> None:
    key = {"admin": world.admin_key, "member": world.member_key, "ui_session": world.ui_session_key}[who]
    with world.client(proxy.base_url, key) as client:
        assert client.get("/v1/models").status_code == 200  # the key itself works
        for target in (world.account_id, world.slug, "another-account"):
            response = client.get("/v1/models", headers={"X-Atrium-Account": target})
            assert response.status_code == 403, response.text
            error = response.json()["error"]
            assert error["code"] == "account_header_refused"
            assert "x-atrium-account" in error["message"].lower() and "super admin" in error["message"]


def test_the_account_header_from_a_global_key_is_refused(proxy: ProxyProcess, global_key: str) -> None:
    response = httpx.get(
        proxy.base_url + "/v1/models",
        headers={"Authorization": f"Bearer {global_key}", "X-Atrium-Account": "any"},
        timeout=30,
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "account_header_refused"


def test_the_super_admin_still_acts_as_an_account(proxy: ProxyProcess, world: AccountWorld, master_key: str) -> None:
    response = httpx.get(
        proxy.base_url + "/key/list",
        headers={"Authorization": f"Bearer {master_key}", "X-Atrium-Account": world.slug},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()["keys"]
    assert world.admin_token in tokens or any(world.admin_token in str(k) for k in tokens)


def test_the_embedded_master_key_is_long_enough_for_litellms_session_hmac() -> None:
    assert DEV_MASTER_KEY.startswith("sk-")
    assert len(DEV_MASTER_KEY.encode()) >= 32
