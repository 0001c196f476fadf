"""The routing guard: a tenant request only ever reaches its own account's deployments.

Three layers, each enough on its own for the requests it sees:

1. ``pin_request`` (LiteLLM's pre-call hook, after auth): maps the public name to the
   account's deployment group, refuses names that are not the account's, translates
   fallbacks, and refuses client-supplied provider credentials.
2. ``usable_deployments`` (router deployment filter): drops other accounts' deployments
   from every routing decision, fallbacks and retries included.
3. ``check_deployment`` (just before the provider call): the deployment about to be
   called must be the account's own or a global model published to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from extensions import litellm
from extensions.models import catalog
from extensions.models.naming import FALLBACKS_KEY, entitled, public_name
from extensions.tenancy.policy.end_users import restore_public_end_user
from extensions.tenancy.request.context import data_scope

__all__ = ["CLIENT_CREDENTIAL_FIELDS", "check_deployment", "pin_request", "usable_deployments"]

# Body fields that would make LiteLLM use a credential or endpoint other than the
# deployment's own (LiteLLM refuses only workload-identity credentials by itself).
CLIENT_CREDENTIAL_FIELDS = ("litellm_credential_name", "api_key", "api_base", "base_url")


def model_not_found(model: object | None) -> Exception:
    named = f" `{model}`" if model else ""
    return litellm.proxy_exception(
        f"The model{named} does not exist or you do not have access to it.",
        status=404,
        error_type="invalid_request_error",
        param="model",
        code="model_not_found",
    )


def _refused_field(field: str) -> Exception:
    return litellm.proxy_exception(
        f"`{field}` is not accepted in requests: provider credentials and endpoints come from your "
        "account's model configuration. Remove the field, or ask your account admin to configure the model.",
        status=400,
        error_type="invalid_request_error",
        param=field,
        code="unsupported_parameter",
    )


def _own_fallbacks(account_id: str | None, group: str) -> list[str]:
    names: list[str] = []
    for deployment in catalog.deployments_named(group):
        configured = (deployment.get("model_info") or {}).get(FALLBACKS_KEY) or []
        for public in configured if isinstance(configured, list) else []:
            resolved = catalog.resolve(account_id, str(public))
            if resolved is not None and resolved != group and resolved not in names:
                names.append(resolved)
    return names


def _client_fallbacks(account_id: str | None, fallbacks: object) -> list[str]:
    if not isinstance(fallbacks, list):
        raise _refused_field("fallbacks")
    names: list[str] = []
    for entry in fallbacks:
        if not isinstance(entry, str):
            raise _refused_field("fallbacks")  # dict entries can carry their own api_key/api_base
        resolved = catalog.resolve(account_id, entry)
        if resolved is None:
            raise model_not_found(entry)
        names.append(resolved)
    return names


def pin_request(data: dict[str, Any]) -> dict[str, Any]:
    scope = data_scope()  # outside a request: the gateway's own calls (health checks of every deployment)
    if not scope.restricted:
        return data
    account = scope.account_id  # None: a global key
    for field in CLIENT_CREDENTIAL_FIELDS:
        if data.get(field) not in (None, ""):
            raise _refused_field(field)
    if account is not None:
        restore_public_end_user(data, account)  # LiteLLM read `<account>/<id>`; the provider sees `<id>`
    model = data.get("model")
    if not isinstance(model, str) or not model:
        return data  # routes without a model; the deployment filter still applies
    resolved = catalog.resolve(account, model)
    if resolved is None:
        raise model_not_found(public_name(account, model) if account else model)
    data["model"] = resolved
    if data.get("fallbacks") is not None:
        data["fallbacks"] = _client_fallbacks(account, data["fallbacks"])
    else:
        own = _own_fallbacks(account, resolved)
        if own:
            data["fallbacks"] = own
    return data


def usable_deployments(deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scope = data_scope()
    if not scope.restricted:
        return deployments
    return [d for d in deployments if entitled(d, scope.account_id)]


def check_deployment(kwargs: Mapping[str, Any]) -> None:
    scope = data_scope()
    if not scope.restricted:
        return
    info = kwargs.get("model_info")
    if not isinstance(info, Mapping) or not info:
        return  # not a router deployment (no model_info): nothing of an account's to protect
    if not entitled(info, scope.account_id):
        raise model_not_found(None)  # only reached if the layers above failed: name nothing
