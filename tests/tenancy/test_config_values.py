"""config_values in-process: generated from LiteLLM's LiteLLM_Params and its secret-reader prefixes."""

from __future__ import annotations

import json

import pytest

from extensions import litellm
from extensions.tenancy.policy import config_values as cv

MASTER = "LITELLM_MASTER_KEY"


def reference_forms() -> list[str]:
    """Every prefix LiteLLM's secret readers understand, in the spellings a filter might miss."""
    forms: list[str] = []
    for prefix in litellm.secret_reference_prefixes():
        forms += [f"{prefix}{MASTER}", f"{prefix.upper()}{MASTER}", f"  {prefix}{MASTER}", f"\t{prefix}{MASTER}"]
    env = f"os.environ/{MASTER}"
    forms += [
        env.replace("/", "%2F"),
        env.replace("/", "%252F"),
        "%6Fs.environ/" + MASTER,
        "Os.Environ/" + MASTER,
        "os.environ\\" + MASTER,
        "prefix-os.environ/" + MASTER,  # LiteLLM's callback reader looks anywhere in the value
        "\uff4fs.environ/" + MASTER,  # fullwidth o, NFKC-equal
    ]
    return forms


FORMS = reference_forms()
ALLOWED = sorted(cv.allowed_litellm_params())


def test_the_allow_list_comes_from_litellm_and_excludes_the_dangerous_fields() -> None:
    declared = litellm.declared_litellm_params()
    assert {"api_key", "api_base", "model", "mock_response", "vertex_credentials"} <= set(ALLOWED)
    assert set(ALLOWED) - declared <= {"temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop",
                                       "seed", "frequency_penalty", "presence_penalty", "n", "reasoning_effort",
                                       "extra_headers", "extra_body"}  # fmt: skip
    for name in ("aws_role_name", "aws_web_identity_token", "anthropic_identity_token_file", "token_exchange_endpoint",
                 "auto_router_config_path", "use_litellm_proxy", "configurable_clientside_auth_params"):  # fmt: skip
        assert name in declared and name not in ALLOWED


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("field", ALLOWED)
def test_every_allowed_field_refuses_every_reference_form(field: str, form: str) -> None:
    for value in (form, [form], {"nested": form}):
        with pytest.raises(cv.ConfigValueRefused) as refused:
            cv.check_litellm_params({field: value})
        assert refused.value.status == 400
        assert refused.value.message.startswith(f"litellm_params.{field}")


@pytest.mark.parametrize("field", sorted(cv.refused_litellm_params()))
def test_refused_fields_are_refused_whatever_the_value(field: str) -> None:
    with pytest.raises(cv.ConfigValueRefused, match=f"credential_values.{field}"):
        cv.check_credential_values({field: "x"})


def test_unclassified_fields_are_refused() -> None:
    for field in ("ssl_verify", "client_cert", "credentials_path", "azure_ad_token_provider", "langfuse_host",
                  "success_callback", "token_url", "proxy", "http_client", "some_future_field"):  # fmt: skip
        with pytest.raises(cv.ConfigValueRefused, match=f"litellm_params.{field}"):
            cv.check_litellm_params({field: "/etc/ssl/cert.pem"})


@pytest.mark.parametrize(
    "value",
    [
        "/var/run/secrets/google/key.json",
        "key.json",
        {"type": "external_account", "credential_source": {"file": "/var/run/token"}},
        {"type": "service_account", "token_uri": "http://169.254.169.254/token"},
        json.dumps({"type": "impersonated_service_account", "service_account_impersonation_url": "https://x"}),
        {"type": "service_account", "credential_source": {"url": "http://169.254.169.254/"}},
    ],
)
def test_vertex_credentials_must_be_inline_service_account_json(value: object) -> None:
    with pytest.raises(cv.ConfigValueRefused, match=r"litellm_params\.vertex_credentials"):
        cv.check_litellm_params({"vertex_credentials": value})
    ok = {"type": "service_account", "project_id": "p", "private_key": "k", "client_email": "e@p.iam"}
    cv.check_litellm_params({"vertex_credentials": ok})
    cv.check_litellm_params({"vertex_credentials": json.dumps(ok)})


def test_plain_values_pass() -> None:
    cv.check_litellm_params(
        {"model": "openai/gpt-4o", "api_key": "sk-live-1", "api_base": "https://api.example.com/v1", "rpm": 10,
         "mock_response": "hi", "tags": ["a"], "temperature": 0.2, "extra_headers": {"x-team": "a"}}
    )  # fmt: skip


@pytest.mark.parametrize("form", FORMS)
def test_management_bodies_refuse_references_anywhere(form: str) -> None:
    with pytest.raises(cv.ConfigValueRefused, match=r"metadata\.team\[0\]"):
        cv.check_management_body({"key_alias": "k", "password": "os.environ/pw", "metadata": {"team": [form]}})
    cv.check_management_body({"password": form, "metadata": {"turn_off_message_logging": True}})


CALLBACK_KEYS = ["logging", "callback_settings", "success_callback", *litellm.dynamic_callback_params()]


@pytest.mark.parametrize("key", [k for k in CALLBACK_KEYS if k != "turn_off_message_logging"])
def test_management_bodies_refuse_logging_callbacks(key: str) -> None:
    body = {"metadata": {key: [{"callback_name": "langfuse", "callback_vars": {"langfuse_host": "http://10.0.0.1"}}]}}
    with pytest.raises(cv.ConfigValueRefused, match=f"metadata.{key}"):
        cv.check_management_body(body)


def test_content_routes_are_not_checked_and_every_other_tenant_write_is() -> None:
    assert not cv.checks_management_body("tenant", "POST /v1/memory")
    assert not cv.checks_management_body("tenant", "GET /key/info")
    assert cv.checks_management_body("tenant", "POST /key/generate")
    assert cv.checks_management_body("tenant", "POST /some/new/route")
