"""Credentials as LiteLLM reads them: API-key headers and query keys, key hashing, end users.

Atrium decides the tenant from the same credential LiteLLM will authenticate, so the order
of headers and the query-key rules here follow LiteLLM's ``get_api_key`` exactly.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from extensions.litellm._base import Internal, proxy_server

__all__ = [
    "INTERNALS",
    "api_key_from_headers",
    "api_key_from_query",
    "end_user_header_names",
    "end_user_id_of",
    "hash_password",
    "hash_token",
    "master_key",
    "query_key_allowed",
    "query_key_wins",
]

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy.proxy_server", "master_key"),
    Internal("litellm.proxy.utils", "hash_token", ("token",)),
    Internal("litellm.proxy.utils", "hash_password", ("password",)),
    Internal("litellm.proxy.auth.user_api_key_auth", "_get_bearer_token_or_received_api_key", ("api_key",)),
    Internal("litellm.types.proxy.auth.special_headers", "SpecialHeaders"),
    # End users (customers): Atrium maps a tenant's end-user id to `<account>/<id>` wherever
    # LiteLLM reads one, so it asks LiteLLM itself which id and headers a request names.
    Internal("litellm.proxy.auth.auth_utils", "get_end_user_id_from_request_body", ("request_body", "request_headers")),
    Internal("litellm.proxy.auth.auth_utils", "get_customer_user_header_from_mapping", ("user_id_mapping",)),
    Internal("litellm.constants", "STANDARD_CUSTOMER_ID_HEADERS"),
)

# Headers LiteLLM reads an API key from, in the order `get_api_key` tries them.
_KEY_HEADER_ORDER = (
    "custom_litellm_api_key",
    "openai_authorization",
    "azure_authorization",
    "anthropic_authorization",
    "google_ai_studio_authorization",
    "azure_apim_authorization",
)

# LiteLLM 1.108.7 reads a `key` query parameter as the credential on Google-style routes:
# the Gemini pass-through prefers it over every header (verified against the running
# proxy); generateContent routes use it when no header carries a key.
_QUERY_KEY_WINS = ("/gemini/",)
_QUERY_KEY_FALLBACK = (":generateContent", ":streamGenerateContent", ":countTokens", ":embedContent")


def master_key() -> str | None:
    key: str | None = proxy_server().master_key
    return key


def hash_token(token: str) -> str:
    hashed: str = importlib.import_module("litellm.proxy.utils").hash_token(token)
    return hashed


def hash_password(password: str) -> str:
    """LiteLLM's password hash (scrypt), so its own ``/login`` verifies passwords Atrium sets."""
    hashed: str = importlib.import_module("litellm.proxy.utils").hash_password(password)
    return hashed


def query_key_wins(path: str) -> bool:
    return path.startswith(_QUERY_KEY_WINS)


def query_key_allowed(path: str) -> bool:
    return query_key_wins(path) or any(marker in path for marker in _QUERY_KEY_FALLBACK)


def api_key_from_query(scope: Mapping[str, Any]) -> str | None:
    raw = scope.get("query_string", b"")
    values = parse_qs(raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)).get("key")
    return values[0] if values else None


@functools.cache
def _key_header_reader() -> tuple[tuple[str, ...], Callable[[str], str]]:
    special = importlib.import_module("litellm.types.proxy.auth.special_headers").SpecialHeaders
    strip = importlib.import_module("litellm.proxy.auth.user_api_key_auth")._get_bearer_token_or_received_api_key
    return tuple(getattr(special, member).value for member in _KEY_HEADER_ORDER), strip


def api_key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The API key LiteLLM would read from these headers, extracted the way it does.

    ``headers`` must be case-insensitive (Starlette's ``Headers``).
    """
    names, strip = _key_header_reader()
    for name in names:
        value = headers.get(name)
        if value:
            key: str = strip(value)
            return key.strip() or None
    return None


def end_user_id_of(body: Mapping[str, object], headers: Mapping[str, str]) -> str | None:
    """The end-user id LiteLLM's auth would read from this request (headers first, then body fields)."""
    reader = importlib.import_module("litellm.proxy.auth.auth_utils").get_end_user_id_from_request_body
    found: str | None = reader(body, headers)
    return found


def end_user_header_names() -> frozenset[str]:
    """Lower-case names of every header LiteLLM takes an end-user id from: the standard customer
    headers plus those the operator configured (``user_header_mappings``, ``user_header_name``)."""
    auth_utils = importlib.import_module("litellm.proxy.auth.auth_utils")
    names = {str(h).lower() for h in importlib.import_module("litellm.constants").STANDARD_CUSTOMER_ID_HEADERS}
    settings = proxy_server().general_settings or {}
    mapped = auth_utils.get_customer_user_header_from_mapping(settings.get("user_header_mappings"))
    names.update(str(h).lower() for h in mapped or ())
    legacy = settings.get("user_header_name")
    if isinstance(legacy, str) and legacy.strip():
        names.add(legacy.strip().lower())
    return frozenset(names)
