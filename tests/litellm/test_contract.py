"""Contract tests: every LiteLLM internal ``extensions.litellm`` touches, against the installed LiteLLM."""

from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers

from extensions import litellm as adapter
from extensions.litellm._base import resolve

ATRIUM = str(Path(sys.executable).parent / "atrium")


def test_installed_litellm_matches_contract() -> None:
    assert adapter.compatibility_problems() == []


@pytest.mark.parametrize("internal", adapter.INTERNALS, ids=lambda i: f"{i.module}.{i.attribute}")
def test_internal_exists_with_expected_signature(internal: adapter.Internal) -> None:
    target = resolve(internal)
    if internal.value is not None:
        assert getattr(target, "value", target) == internal.value
    if internal.parameters is not None:
        assert tuple(inspect.signature(target).parameters) == internal.parameters


def test_schema_hash_is_the_pinned_one() -> None:
    digest = hashlib.sha256(adapter.litellm_schema_path().read_bytes()).hexdigest()
    assert digest == adapter.CONTRACT.schema_sha256


def test_proxy_app_routes_are_listed_through_included_routers() -> None:
    routes = adapter.iter_routes(adapter.proxy_app())
    paths = {r.path for r in routes}
    assert {"/chat/completions", "/v1/chat/completions", "/key/generate", "/health/liveliness"} <= paths
    assert any(r.kind == "mount" and r.path == "/ui" for r in routes)
    assert all(r.methods for r in routes if r.kind == "http")


def test_prisma_client_is_none_before_startup() -> None:
    assert adapter.prisma_client() is None


def test_hash_token_is_sha256() -> None:
    assert adapter.hash_token("sk-abc") == hashlib.sha256(b"sk-abc").hexdigest()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer sk-one"}, "sk-one"),
        ({"authorization": "bearer sk-two"}, "sk-two"),
        ({"api-key": "sk-azure"}, "sk-azure"),
        ({"x-api-key": "sk-anthropic"}, "sk-anthropic"),
        ({"x-goog-api-key": "sk-google"}, "sk-google"),
        ({"Ocp-Apim-Subscription-Key": "sk-apim"}, "sk-apim"),
        ({"x-litellm-api-key": "Bearer sk-custom", "Authorization": "Bearer sk-other"}, "sk-custom"),
        ({}, None),
    ],
)
def test_api_key_from_headers_follows_litellm_order(headers: dict[str, str], expected: str | None) -> None:
    assert adapter.api_key_from_headers(Headers(headers=headers)) == expected


def test_custom_logger_base_class_has_hooks() -> None:
    cls = adapter.custom_logger_class()
    assert callable(cls.async_pre_call_hook) and callable(cls.async_log_success_event)


def _doctor(pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "ATRIUM_PRISMA_ENGINE": "wasm"}
    return subprocess.run([ATRIUM, "doctor"], env=env, capture_output=True, text=True, timeout=120)


def test_doctor_fails_on_wrong_pinned_version(tmp_path: Path) -> None:
    # A dist-info earlier on sys.path shadows the installed one, as a different install would.
    dist = tmp_path / "litellm-1.108.6.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: litellm\nVersion: 1.108.6\n")
    result = _doctor(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "litellm: pinned 1.108.7, installed 1.108.6" in result.stderr


def test_doctor_fails_on_changed_litellm_schema(tmp_path: Path) -> None:
    shadow = tmp_path / "litellm_proxy_extras"
    shutil.copytree(adapter.litellm_schema_path().parent, shadow, ignore=shutil.ignore_patterns("__pycache__"))
    (shadow / "schema.prisma").write_text((shadow / "schema.prisma").read_text() + "\n// changed\n")
    result = _doctor(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "litellm schema" in result.stderr and "changed: sha256" in result.stderr


def test_doctor_fails_on_new_shipped_migration(tmp_path: Path) -> None:
    shadow = tmp_path / "litellm_proxy_extras"
    shutil.copytree(adapter.litellm_schema_path().parent, shadow, ignore=shutil.ignore_patterns("__pycache__"))
    (shadow / "migrations" / "20991231000000_future").mkdir()
    result = _doctor(tmp_path)
    assert result.returncode == 1
    assert "newest shipped litellm migration is 20991231000000_future" in result.stderr


# -- per-account models: the router behaviour extensions/models relies on -------------------
def _router(*deployments: tuple[str, str, dict[str, object]]) -> Any:
    from litellm import Router

    return Router(
        model_list=[
            {
                "model_name": name,
                "litellm_params": {"model": "openai/x", "api_key": "sk-x", "mock_response": f"from {model_id}"},
                "model_info": {"id": model_id, **info},
            }
            for name, model_id, info in deployments
        ]
    )


def test_router_lookups_return_deployments_with_their_model_info() -> None:
    router = _router(("acct-1/gpt-4o", "dep-1", {"atrium_account_id": "acct-1"}))
    (found,) = router.get_model_list(model_name="acct-1/gpt-4o")
    assert found["model_info"]["atrium_account_id"] == "acct-1"
    assert router.get_model_list(model_name="gpt-4o") == []
    assert router.has_model_id("dep-1") and not router.has_model_id("dep-2")
    assert router.get_deployment(model_id="dep-1").model_dump()["model_info"]["atrium_account_id"] == "acct-1"


async def test_router_consults_callback_deployment_filter_and_pre_call_deployment_hook() -> None:
    import litellm

    seen: list[dict[str, Any]] = []

    class Probe(adapter.custom_logger_class()):  # type: ignore[misc]
        async def async_filter_deployments(
            self,
            model: str,
            healthy_deployments: list[dict[str, Any]],
            messages: Any,
            request_kwargs: Any = None,
            parent_otel_span: Any = None,
        ) -> list[dict[str, Any]]:
            return [d for d in healthy_deployments if d["model_info"].get("keep")]

        async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> None:
            seen.append(dict(kwargs.get("model_info") or {}))

    router = _router(("group", "dep-drop", {}), ("group", "dep-keep", {"keep": True}))
    probe = Probe()
    litellm.callbacks.append(probe)
    try:
        for _ in range(4):
            reply = await router.acompletion(model="group", messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content == "from dep-keep"
    finally:
        litellm.callbacks.remove(probe)
    assert seen and all(info.get("id") == "dep-keep" for info in seen)


def test_proxy_exception_carries_status_and_openai_code() -> None:
    error = adapter.proxy_exception("nope", status=404, error_type="invalid_request_error", param="model", code="x")
    assert type(error).__name__ == "ProxyException"
    assert str(getattr(error, "code", "")) == "404" and getattr(error, "openai_code", None) == "x"


# -- Identity internals ------------------------------------------------------------------------


def test_secret_encryption_round_trips_with_the_salt_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITELLM_SALT_KEY", "sk-salt-for-contract-test-0123456789")
    sealed = adapter.encrypt_secret("client-secret-value")
    assert sealed != "client-secret-value" and "client-secret-value" not in sealed
    assert adapter.decrypt_secret(sealed, "oidc_client_secret") == "client-secret-value"
    monkeypatch.setenv("LITELLM_SALT_KEY", "sk-another-salt-key-9876543210")
    assert adapter.decrypt_secret(sealed, "oidc_client_secret") is None  # changed key: None, not garbage


def test_password_hash_is_what_litellm_login_verifies() -> None:
    import importlib

    verify = importlib.import_module("litellm.proxy.utils").verify_password
    hashed = adapter.hash_password("Correct-Horse-42")
    assert verify("Correct-Horse-42", hashed) and not verify("wrong", hashed)


def test_ui_session_pieces_have_the_shape_mint_ui_session_uses() -> None:
    import importlib

    login = importlib.import_module("litellm.proxy.auth.login_utils")
    result = login.LoginResult(
        user_id="u1", key="sk-k", user_email="u@x.example", user_role="internal_user", login_method="sso",
        password_reset_required=False,
    )  # fmt: skip
    token_object = login.create_ui_token_object(login_result=result, general_settings={}, premium_user=False)
    assert token_object["key"] == "sk-k" and token_object["login_method"] == "sso"
    cookie = login.encode_ui_session_jwt(token_object, "sk-master-key-for-contract-test-000")
    import jwt

    claims = jwt.decode(cookie, "sk-master-key-for-contract-test-000", algorithms=["HS256"])
    assert claims["key"] == "sk-k" and claims["user_id"] == "u1" and claims["exp"] > 0
    keys = importlib.import_module("litellm.proxy.management_endpoints.key_management_endpoints")
    params = inspect.signature(keys.generate_key_helper_fn).parameters
    assert {"request_type", "duration", "user_id", "team_id", "user_role", "metadata", "llm_router"} <= set(params)
    assert adapter.UI_SESSION_TEAM == "litellm-dashboard"


def test_ui_session_key_reads_the_cookie_litellm_encodes(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    master = "sk-master-key-for-contract-test-000"
    monkeypatch.setenv("LITELLM_MASTER_KEY", master)  # before start-up LiteLLM has no master key yet
    login = importlib.import_module("litellm.proxy.auth.login_utils")
    result = login.LoginResult(
        user_id="u1", key="sk-inside", user_email=None, user_role=adapter.ROLE_INTERNAL_USER, login_method="sso",
        password_reset_required=False,
    )  # fmt: skip
    cookie = login.encode_ui_session_jwt(login.create_ui_token_object(result, {}, False), master)
    assert adapter.ui_session_key(Headers(headers={"cookie": f"a=b; token={cookie}"})) == "sk-inside"
    forged = login.encode_ui_session_jwt(login.create_ui_token_object(result, {}, False), "sk-not-the-master-key")
    assert adapter.ui_session_key(Headers(headers={"cookie": f"token={forged}"})) is None
    assert adapter.ui_session_key(Headers(headers={"cookie": "token=not-a-jwt"})) is None
    assert adapter.ui_session_key(Headers(headers={})) is None


def test_ui_export_dir_is_the_directory_the_proxy_serves_at_ui() -> None:
    import importlib

    served = Path(importlib.import_module("litellm.proxy.proxy_server").packaged_ui_path)
    assert adapter.ui_export_dir() == served
    # One directory per page of the UI's navigation, each with its index.html.
    assert all((served / page / "index.html").is_file() for page in ("", "home", "api-keys", "usage", "logs"))


def test_role_constants_are_litellms_own_role_values() -> None:
    from litellm.proxy._types import LitellmUserRoles

    assert adapter.ROLE_PROXY_ADMIN == LitellmUserRoles.PROXY_ADMIN.value
    assert adapter.ROLE_PROXY_ADMIN_VIEWER == LitellmUserRoles.PROXY_ADMIN_VIEW_ONLY.value
    assert adapter.ROLE_INTERNAL_USER == LitellmUserRoles.INTERNAL_USER.value
    assert adapter.ROLE_INTERNAL_USER_VIEWER == LitellmUserRoles.INTERNAL_USER_VIEW_ONLY.value


def test_a_changed_constant_is_a_compatibility_problem() -> None:
    from extensions.litellm._base import Internal
    from extensions.litellm._contract import _internal_problem

    ok = Internal("litellm.proxy._types", "LitellmUserRoles.PROXY_ADMIN", value=adapter.ROLE_PROXY_ADMIN)
    assert _internal_problem(ok) is None
    renamed = Internal("litellm.proxy._types", "LitellmUserRoles.PROXY_ADMIN", value="admin")
    assert "expected 'admin', found 'proxy_admin'" in (_internal_problem(renamed) or "")
    assert any("max_ui_session_budget" in i.attribute for i in adapter.INTERNALS)


# -- Provider objects: LiteLLM's id encodings, decoded through the adapter ----------------------


def test_decode_object_id_reads_every_litellm_encoding() -> None:
    import base64

    from litellm.proxy.openai_files_endpoints.common_utils import encode_file_id_with_model
    from litellm.responses.utils import ResponsesAPIRequestUtils
    from litellm.types.videos.utils import encode_character_id_with_provider, encode_video_id_with_provider

    assert adapter.decode_object_id(encode_file_id_with_model("file-abc", "acct/gpt-4o")).model_names == (
        "acct/gpt-4o",
    )
    batch = encode_file_id_with_model("batch_abc", "acct/gpt-4o", id_type="batch")
    assert adapter.decode_object_id(batch).model_names == ("acct/gpt-4o",)
    response = ResponsesAPIRequestUtils._build_responses_api_response_id("openai", "dep-1", "resp_raw")
    assert adapter.decode_object_id(response).model_ids == ("dep-1",)
    container = ResponsesAPIRequestUtils.build_container_id("openai", "dep-2", "cntr_raw")
    assert adapter.decode_object_id(container).model_ids == ("dep-2",)
    assert adapter.decode_object_id(encode_video_id_with_provider("video_raw", "openai", "dep-3")).model_ids == (
        "dep-3",
    )
    character = encode_character_id_with_provider("char_raw", "openai", "dep-4")
    assert adapter.decode_object_id(character).model_ids == ("dep-4",)
    unified = "litellm_proxy:application/json;unified_id,u-1;target_model_names,m-a,m-b;model_id,dep-5"
    managed = base64.urlsafe_b64encode(unified.encode()).decode().rstrip("=")
    found = adapter.decode_object_id(managed)
    assert found.encoded and found.model_names == ("m-a", "m-b") and "dep-5" in found.model_ids


def test_decode_object_id_leaves_provider_ids_alone_and_flags_unattributable_encodings() -> None:
    import base64

    assert adapter.decode_object_id("file-abc123") == adapter.ObjectRef(encoded=False)
    assert adapter.decode_object_id("vs_68a1b2") == adapter.ObjectRef(encoded=False)
    odd = "obj_" + base64.b64encode(b"litellm:something;unknown,layout").decode()
    assert adapter.decode_object_id(odd) == adapter.ObjectRef(encoded=True)


def test_vector_store_registry_lookup_and_proxy_error_body() -> None:
    assert adapter.vector_store_registered("vs_not_registered") is False
    error = adapter.proxy_exception("nope", status=404, error_type="invalid_request_error", param="model", code="x")
    assert adapter.is_proxy_exception(error)
    status, body = adapter.proxy_exception_body(error)
    assert status == 404 and body["error"]["message"] == "nope" and body["error"]["param"] == "model"


def test_config_reference_internals() -> None:
    """What extensions/tenancy/policy/config_values.py builds its allow-list and reference forms from."""
    prefixes = adapter.secret_reference_prefixes()
    assert {"os.environ/", "oidc/", "hashicorp_vault/", "aws_secret_manager/", "azure_key_vault/"} <= set(prefixes)
    assert all(p == p.lower() and p.endswith("/") for p in prefixes)
    declared = adapter.declared_litellm_params()
    assert {"model", "api_key", "api_base", "vertex_credentials", "aws_role_name", "litellm_credential_name"} <= set(
        declared
    )
    assert {"langfuse_secret_key", "langfuse_host", "slack_webhook_url"} <= set(adapter.dynamic_callback_params())


# -- End users ---------------------------------------------------------------------------------


def test_end_user_is_read_from_headers_first_then_body_fields() -> None:
    assert adapter.end_user_id_of({"user": "u1"}, {}) == "u1"
    assert adapter.end_user_id_of({"user": "u1"}, {"x-litellm-end-user-id": "h1"}) == "h1"
    assert adapter.end_user_id_of({"litellm_metadata": {"user": "l1"}}, {}) == "l1"
    assert adapter.end_user_id_of({"metadata": {"user_id": "m1"}}, {}) == "m1"
    assert adapter.end_user_id_of({"safety_identifier": "s1"}, {}) == "s1"
    assert adapter.end_user_id_of({"messages": [{"role": "user"}]}, {}) is None


def test_end_user_header_names_include_the_standard_customer_headers() -> None:
    assert {"x-litellm-customer-id", "x-litellm-end-user-id"} <= adapter.end_user_header_names()


def test_litellm_sizes_its_model_group_caches_from_the_variable_atrium_sets() -> None:
    """``atrium serve`` raises LiteLLM's per-group LRU size; the knob must still be the one LiteLLM reads."""
    env = {**os.environ, adapter.MODEL_GROUP_CACHE_ENV: "321", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    code = "from litellm.router import Router; print(Router._cached_get_model_group_info.cache_parameters()['maxsize'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "321"


def test_atrium_serves_with_large_model_group_caches_unless_the_operator_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from extensions.cli import apply_env_defaults

    monkeypatch.delenv(adapter.MODEL_GROUP_CACHE_ENV, raising=False)
    apply_env_defaults()
    assert int(os.environ[adapter.MODEL_GROUP_CACHE_ENV]) >= 1024
    monkeypatch.setenv(adapter.MODEL_GROUP_CACHE_ENV, "77")
    apply_env_defaults()
    assert os.environ[adapter.MODEL_GROUP_CACHE_ENV] == "77"
