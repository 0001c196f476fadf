"""Secrets as LiteLLM handles them: encryption at rest and every reference its readers dereference.

Atrium stores IdP client secrets with LiteLLM's own encryption (the salt key, else the master
key) and refuses tenant configuration that names a secret reference or a logging callback,
so the lists of prefixes and callback params come from LiteLLM itself.
"""

from __future__ import annotations

import functools
import importlib

from extensions.litellm._base import Internal

__all__ = ["INTERNALS", "decrypt_secret", "dynamic_callback_params", "encrypt_secret", "secret_reference_prefixes"]

INTERNALS: tuple[Internal, ...] = (
    Internal(
        "litellm.proxy.common_utils.encrypt_decrypt_utils", "encrypt_value_helper", ("value", "new_encryption_key")
    ),
    Internal(
        "litellm.proxy.common_utils.encrypt_decrypt_utils",
        "decrypt_value_helper",
        ("value", "key", "exception_type", "return_original_value"),
    ),
    # Configuration references (extensions/tenancy/policy/config_values.py): every prefix LiteLLM's
    # secret readers dereference, and the params it turns into per-request callbacks.
    Internal("litellm.types.secret_managers.main", "KeyManagementSystem"),
    Internal("litellm.proxy.auth.auth_utils", "_SECRET_REFERENCE_PREFIXES"),
    Internal("litellm.llms.base_llm.auth.identity_source", "_POINTER_REF_PREFIXES"),
    Internal("litellm.litellm_core_utils.initialize_dynamic_callback_params", "_supported_callback_params"),
)


def encrypt_secret(value: str) -> str:
    """Encrypt with LiteLLM's helper (LITELLM_SALT_KEY, else the master key), as it stores credentials."""
    helper = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils").encrypt_value_helper
    encrypted: str = helper(value)
    return encrypted


def decrypt_secret(value: str, name: str) -> str | None:
    """The plaintext, or None when the salt/master key changed since it was stored."""
    helper = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils").decrypt_value_helper
    plain: str | None = helper(value, name, "debug", False)
    return plain


@functools.cache
def secret_reference_prefixes() -> tuple[str, ...]:
    """Every value prefix one of LiteLLM's secret readers dereferences (lower case).

    ``os.environ/`` and ``oidc/`` (``get_secret``), the pointer prefixes of the workload identity
    sources, and ``<secret manager>/`` for every key management system LiteLLM supports.
    """
    found: set[str] = set(importlib.import_module("litellm.proxy.auth.auth_utils")._SECRET_REFERENCE_PREFIXES)
    found |= set(importlib.import_module("litellm.llms.base_llm.auth.identity_source")._POINTER_REF_PREFIXES)
    kms = importlib.import_module("litellm.types.secret_managers.main").KeyManagementSystem
    found |= {f"{member.value}/" for member in kms}
    return tuple(sorted(prefix.lower() for prefix in found))


@functools.cache
def dynamic_callback_params() -> tuple[str, ...]:
    """Request/metadata params LiteLLM turns into per-request logging callback settings."""
    module = importlib.import_module("litellm.litellm_core_utils.initialize_dynamic_callback_params")
    return tuple(module._supported_callback_params)
