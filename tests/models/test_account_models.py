"""Per-account models through the real proxy: same public name, separate upstreams and keys."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from conftest import ModelAccount, chat, ok, wait_until_gone, wait_until_served

from extensions.testing.proxy_process import ProxyProcess

pytestmark = pytest.mark.usefixtures("served")


def _auth(upstream_requests: list, text: str) -> list[str | None]:  # type: ignore[type-arg]
    return [r.authorization for r in upstream_requests if text in json.dumps(r.body)]


def test_same_model_name_reaches_each_accounts_own_upstream_with_its_own_key(
    proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    for account, other in ((models_a, models_b), (models_b, models_a)):
        client = openai.OpenAI(api_key=account.world.admin_key, base_url=f"{proxy.base_url}/v1")
        text = f"route check for {account.world.slug}"
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
        assert reply.model == "gpt-4o"
        assert reply.choices[0].message.content == f"[{account.upstream.name}] {text}"
        assert _auth(account.upstream.requests, text) == [f"Bearer {account.provider_key}"]
        assert _auth(other.upstream.requests, text) == []
        assert _auth(other.backup.requests, text) == []

        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": text + " streamed"}], stream=True
        )
        chunks = list(stream)
        assert chunks and {c.model for c in chunks} == {"gpt-4o"}
        assert _auth(account.upstream.requests, text + " streamed") == [f"Bearer {account.provider_key}"]


def test_team_member_key_uses_the_public_name_in_team_models(proxy: ProxyProcess, models_a: ModelAccount) -> None:
    admin = models_a.admin(proxy.base_url)
    team = ok(admin.post("/team/new", json={"team_alias": "mdla-gpt4o-team", "models": ["gpt-4o"]}))
    key = ok(admin.post("/key/generate", json={"team_id": team["team_id"], "models": ["gpt-4o"]}))["key"]
    assert chat(proxy.base_url, key, "gpt-4o", "team member call").status_code == 200
    refused = chat(proxy.base_url, key, "gpt-4o-backup")
    assert refused.status_code in (401, 403), refused.text  # LiteLLM's own team model check, on public names


def test_listings_show_own_and_entitled_models_by_public_name_only(
    proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    for account, other in ((models_a, models_b), (models_b, models_a)):
        admin = account.admin(proxy.base_url)
        forbidden = [other.world.account_id, other.upstream.base_url, other.provider_key, account.provider_key]
        listed = {m["id"] for m in ok(admin.get("/v1/models"))["data"]}
        assert {"gpt-4o", "gpt-4o-backup", "gpt-fake"} <= listed
        assert not any("/" in name for name in listed), listed
        for path in ("/v1/models", "/model/info", "/v2/model/info", "/model_group/info", "/v2/model/info?size=1"):
            text = admin.get(path).text
            assert all(secret not in text for secret in forbidden), (path, text[:500])
            assert account.world.account_id not in text, (path, text[:500])
        v2 = ok(admin.get("/v2/model/info"))
        own = [m for m in v2["data"] if m["model_name"] == "gpt-4o"]
        assert len(own) == 1 and own[0]["litellm_params"]["api_base"] == account.upstream.base_url
        assert v2["total_count"] == len(v2["data"])
        groups = {g["model_group"]: g for g in ok(admin.get("/model_group/info"))["data"]}
        assert "gpt-4o" in groups and groups["gpt-4o"]["providers"] == ["openai"]
        one = ok(admin.get("/v1/models/gpt-4o"))
        assert one["id"] == "gpt-4o"
        # a name with "/" matches no classified route: default deny
        assert admin.get(f"/v1/models/{other.world.account_id}/gpt-4o").status_code in (403, 404)


def test_another_accounts_models_cannot_be_called_changed_or_read(
    proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    admin_a = models_a.admin(proxy.base_url)
    internal_b = f"{models_b.world.account_id}/gpt-4o"
    before = len(models_b.upstream.requests)

    client = openai.OpenAI(api_key=models_a.world.admin_key, base_url=f"{proxy.base_url}/v1")
    for name in (internal_b, models_b.gpt4o_id, "no-such-model"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=name, messages=[{"role": "user", "content": "steal"}])
        assert "does not exist or you do not have access to it" in str(caught.value)
        assert models_b.world.slug not in str(caught.value)
    fallback_steal = chat(proxy.base_url, models_a.world.admin_key, "gpt-4o", "ERROR 500", fallbacks=[internal_b])
    assert fallback_steal.status_code == 404
    assert len(models_b.upstream.requests) == before

    b_id = models_b.gpt4o_id
    for method, path, body in (
        ("POST", "/model/update", {"model_info": {"id": b_id}, "litellm_params": {"api_base": "http://evil"}}),
        ("PATCH", f"/model/{b_id}/update", {"litellm_params": {"api_base": "http://evil"}}),
        ("POST", "/model/delete", {"id": b_id}),
        ("POST", "/model/block", {"model_id": b_id}),
        ("GET", f"/credentials/by_model/{b_id}", None),
    ):
        answer = admin_a.request(method, path, json=body)
        assert answer.status_code == 404, (path, answer.text)
        assert b_id in answer.text and models_b.provider_key not in answer.text
    assert chat(proxy.base_url, models_b.world.admin_key, "gpt-4o", "still mine").status_code == 200


def test_credentials_are_per_account_and_never_in_plain_text(
    proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    admin_a, admin_b = models_a.admin(proxy.base_url), models_b.admin(proxy.base_url)
    listed_a = ok(admin_a.get("/credentials"))["credentials"]
    assert [c["credential_name"] for c in listed_a] == ["openai-main"]
    assert models_a.provider_key not in json.dumps(listed_a)
    assert ok(admin_b.get("/credentials"))["credentials"] == []
    one = ok(admin_a.get("/credentials/by_name/openai-main"))
    assert one["credential_name"] == "openai-main" and models_a.provider_key not in json.dumps(one)
    assert admin_b.get("/credentials/by_name/openai-main").status_code == 404
    assert admin_b.delete("/credentials/openai-main").status_code == 404
    assert admin_b.patch("/credentials/openai-main", json={"credential_values": {"api_key": "x"}}).status_code == 404
    stolen = admin_b.post(
        "/model/new",
        json={"model_name": "steal", "litellm_params": {"model": "openai/x", "litellm_credential_name": "openai-main"}},
    )
    assert stolen.status_code == 400 and "not found in your account" in stolen.text
    a_credential = f"{models_a.world.account_id}/openai-main"
    by_body = chat(proxy.base_url, models_b.world.admin_key, "gpt-4o", litellm_credential_name=a_credential)
    assert by_body.status_code == 400 and "litellm_credential_name" in by_body.text
    member = httpx.get(
        f"{proxy.base_url}/credentials", headers={"Authorization": f"Bearer {models_a.world.member_key}"}, timeout=30
    )
    assert member.status_code == 403


def test_model_writes_need_an_account_admin_and_refuse_cross_account_fields(
    proxy: ProxyProcess, models_a: ModelAccount
) -> None:
    member = models_a.world.client(proxy.base_url, models_a.world.member_key)
    new = {"model_name": "m", "litellm_params": {"model": "openai/m", "api_base": "http://127.0.0.1:9"}}
    assert member.post("/model/new", json=new).status_code == 403
    admin = models_a.admin(proxy.base_url)
    for info in ({"team_id": models_a.world.team_id}, {"access_groups": ["shared"]}, {"atrium_account_id": "x"}):
        refused = admin.post("/model/new", json={**new, "model_info": info})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["hint"]
    assert admin.post("/model/new", json={"model_name": "", "litellm_params": {}}).status_code == 400


def test_fallbacks_stay_inside_the_account(proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount) -> None:
    text = f"ERROR@{models_a.upstream.name} 500 please fall back"
    reply = chat(proxy.base_url, models_a.world.admin_key, "gpt-4o", text)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"].startswith(f"[{models_a.backup.name}]")
    assert _auth(models_a.backup.requests, text) == [f"Bearer {models_a.provider_key}-backup"]
    assert _auth(models_b.backup.requests, text) == [] and _auth(models_b.upstream.requests, text) == []


def test_errors_name_the_model_the_client_asked_for(proxy: ProxyProcess, models_a: ModelAccount) -> None:
    failed = chat(proxy.base_url, models_a.world.admin_key, "gpt-4o-backup", "ERROR 500")
    assert failed.status_code >= 400
    assert models_a.world.account_id not in failed.text
    assert all(models_a.world.account_id not in v for v in failed.headers.values())
    served = chat(proxy.base_url, models_a.world.admin_key, "gpt-4o", "headers")
    assert served.headers.get("x-litellm-model-group") in (None, "gpt-4o")


def test_global_model_reaches_only_the_accounts_it_is_published_to(
    proxy: ProxyProcess, master_key: str, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    root = httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30)
    ok(
        root.post(
            "/model/new",
            json={
                "model_name": "shared-mini",
                "litellm_params": {"model": "openai/mini", "api_base": models_a.upstream.base_url, "api_key": "sk-g"},
                "model_info": {"atrium_accounts": [models_a.world.account_id]},
            },
        )
    )
    wait_until_served(proxy.base_url, models_a.world.admin_key, "shared-mini")
    assert "shared-mini" in {m["id"] for m in ok(models_a.admin(proxy.base_url).get("/v1/models"))["data"]}
    refused = chat(proxy.base_url, models_b.world.admin_key, "shared-mini")
    assert refused.status_code == 404
    listing_b = models_b.admin(proxy.base_url)
    for path in ("/v1/models", "/v2/model/info", "/model/info", "/model_group/info"):
        assert "shared-mini" not in listing_b.get(path).text, path


def test_account_model_lifecycle_update_and_delete(proxy: ProxyProcess, models_a: ModelAccount) -> None:
    admin = models_a.admin(proxy.base_url)
    created = ok(
        admin.post(
            "/model/new",
            json={
                "model_name": "short-lived",
                "litellm_params": {"model": "openai/x", "api_base": models_a.upstream.base_url, "api_key": "sk-x"},
            },
        )
    )
    assert created["model_name"] == "short-lived" and "api_key" not in created["litellm_params"]
    model_id = created["model_info"]["id"]
    wait_until_served(proxy.base_url, models_a.world.admin_key, "short-lived")
    ok(admin.post("/model/update", json={"model_info": {"id": model_id}, "litellm_params": {"api_key": "sk-y"}}))
    ok(admin.post("/model/delete", json={"id": model_id}))
    wait_until_gone(proxy.base_url, models_a.world.admin_key, "short-lived")


def test_two_deployments_of_one_account_model_are_load_balanced(proxy: ProxyProcess, models_a: ModelAccount) -> None:
    admin = models_a.admin(proxy.base_url)
    for upstream in (models_a.upstream, models_a.backup):
        ok(
            admin.post(
                "/model/new",
                json={
                    "model_name": "balanced",
                    "litellm_params": {"model": "openai/b", "api_base": upstream.base_url, "api_key": "sk-lb"},
                },
            )
        )
    wait_until_served(proxy.base_url, models_a.world.admin_key, "balanced")
    for i in range(24):
        assert chat(proxy.base_url, models_a.world.admin_key, "balanced", f"balance {i}").status_code == 200
    for upstream in (models_a.upstream, models_a.backup):
        assert any("balance " in json.dumps(r.body) for r in upstream.requests), upstream.name


def test_spend_logs_show_the_public_model_name(proxy: ProxyProcess, models_a: ModelAccount) -> None:
    import time

    admin = models_a.admin(proxy.base_url)
    assert chat(proxy.base_url, models_a.world.admin_key, "gpt-4o", "billed by name").status_code == 200
    deadline = time.monotonic() + 30
    rows: list[dict] = []  # type: ignore[type-arg]
    while time.monotonic() < deadline and not rows:
        rows = ok(admin.get("/spend/logs/ui", params={"model": "gpt-4o", "page_size": 100}))["data"]
        time.sleep(0.5)
    assert rows, "no spend log for gpt-4o"
    # failed calls (before the model reached every worker) are logged without a group
    assert {r["model_group"] for r in rows} - {""} == {"gpt-4o"}
    assert f"{models_a.world.account_id}/" not in json.dumps(rows)


def test_model_utilities_use_the_accounts_own_model(
    proxy: ProxyProcess, models_a: ModelAccount, models_b: ModelAccount
) -> None:
    admin = models_a.admin(proxy.base_url)
    counted = ok(admin.post("/utils/token_counter", json={"model": "gpt-4o", "prompt": "count these words"}))
    assert counted["total_tokens"] > 0 and models_a.world.account_id not in json.dumps(counted)
    assert admin.get("/utils/supported_openai_params", params={"model": "gpt-4o"}).status_code == 200
    internal_b = f"{models_b.world.account_id}/gpt-4o"
    assert admin.post("/utils/token_counter", json={"model": internal_b, "prompt": "x"}).status_code == 404
    for path in ("/utils/model_info", "/utils/supported_openai_params"):
        assert admin.get(path, params={"model": internal_b}).status_code == 404, path
