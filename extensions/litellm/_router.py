"""LiteLLM's router and deployments: the worker's ``Router``, deployment params, provider object ids.

Per-account models (``extensions/models``) pin every call to the account's own deployments;
object ids (files, batches, responses, containers, videos) name the deployment they were made
with in LiteLLM's own encodings, decoded here with LiteLLM's decoders.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from extensions.litellm._base import Internal, proxy_server

__all__ = [
    "INTERNALS",
    "MODEL_GROUP_CACHE_ENV",
    "ObjectRef",
    "declared_litellm_params",
    "decode_object_id",
    "llm_router",
    "process_env_defaults",
    "vector_store_registered",
]

# LiteLLM keeps what it derives per model group (``Router.get_model_group_info``: pricing, limits,
# the group's deployments) in LRU caches sized by this environment variable, read once at import
# (64 by default). Atrium multiplies the groups by the accounts (each account's models are groups
# of their own, ``<account_id>/<name>``), so with more than 64 groups in use every lookup missed and
# rebuilt the group's info, several times per request; the default Atrium serves with keeps one
# entry per group for a few thousand groups. An operator's own value wins.
MODEL_GROUP_CACHE_ENV = "DEFAULT_MAX_LRU_CACHE_SIZE"
_MODEL_GROUP_CACHE_SIZE = "4096"

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.constants", MODEL_GROUP_CACHE_ENV),
    Internal("litellm.router", "Router._cached_get_model_group_info", ("self", "model_group")),
    # Per-account models (extensions/models): the router each worker reloads from the DB,
    # the deployment filter and the last hook before a provider call.
    Internal("litellm.proxy.proxy_server", "llm_router"),
    Internal("litellm.router", "Router.get_model_list", ("self", "model_name", "team_id")),
    Internal("litellm.router", "Router.has_model_id", ("self", "candidate_id")),
    Internal("litellm.router", "Router.get_deployment", ("self", "model_id")),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_filter_deployments",
        ("self", "model", "healthy_deployments", "messages", "request_kwargs", "parent_otel_span"),
    ),
    Internal(
        "litellm.integrations.custom_logger",
        "CustomLogger.async_pre_call_deployment_hook",
        ("self", "kwargs", "call_type"),
    ),
    Internal("litellm.types.router", "LiteLLM_Params"),
    # Provider objects (extensions/models/provider_objects.py): the ids LiteLLM encodes the
    # deployment into, and the process-wide vector store registry.
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "decode_model_from_file_id", ("encoded_id",)),
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "is_base64_encoded_unified_file_id", ("b64_uid",)),
    Internal(
        "litellm.proxy.openai_files_endpoints.common_utils", "get_models_from_unified_file_id", ("unified_file_id",)
    ),
    Internal("litellm.proxy.openai_files_endpoints.common_utils", "get_model_id_from_unified_batch_id", ("file_id",)),
    Internal("litellm.responses.utils", "ResponsesAPIRequestUtils.decode_responses_api_response_id", ("response_id",)),
    Internal("litellm.responses.utils", "ResponsesAPIRequestUtils.decode_container_id", ("container_id",)),
    Internal("litellm.types.videos.utils", "decode_video_id_with_provider", ("encoded_video_id",)),
    Internal("litellm.types.videos.utils", "decode_character_id_with_provider", ("encoded_character_id",)),
    Internal("litellm", "vector_store_registry"),
    Internal(
        "litellm.vector_stores.vector_store_registry",
        "VectorStoreRegistry.get_litellm_managed_vector_store_from_registry",
        ("self", "vector_store_id"),
    ),
)


def process_env_defaults() -> dict[str, str]:
    """LiteLLM settings read from the environment at import that Atrium serves with unless the
    operator set them: ``atrium serve`` applies them before LiteLLM is imported."""
    return {MODEL_GROUP_CACHE_ENV: _MODEL_GROUP_CACHE_SIZE}


def llm_router() -> Any | None:
    """LiteLLM's ``Router`` of this worker (None before start-up or without models).

    Read at call time: LiteLLM rebuilds and reassigns it when it reloads models.
    """
    return proxy_server().llm_router


@functools.cache
def declared_litellm_params() -> frozenset[str]:
    """The fields LiteLLM's deployment model (``LiteLLM_Params``) declares; it also accepts extras."""
    fields: Mapping[str, Any] = importlib.import_module("litellm.types.router").LiteLLM_Params.model_fields
    return frozenset(fields)


# -- Provider objects: ids that name the deployment they were made with ----------------------


@dataclass(frozen=True)
class ObjectRef:
    """What LiteLLM encoded into an object id: router model names and deployment ids.

    ``encoded`` is True when the id is one of LiteLLM's encodings at all, even when it names
    no deployment (then the caller cannot attribute it).
    """

    encoded: bool
    model_names: tuple[str, ...] = ()
    model_ids: tuple[str, ...] = ()


_FILES_UTILS = "litellm.proxy.openai_files_endpoints.common_utils"


def _decoded_parts(value: str) -> ObjectRef:
    files = importlib.import_module(_FILES_UTILS)
    names: list[str] = []
    ids: list[str] = []
    encoded = False
    unified = files.is_base64_encoded_unified_file_id(value)  # managed files/batches (litellm_proxy:...)
    if unified:
        encoded = True
        names += files.get_models_from_unified_file_id(unified)
        model_id = files.get_model_id_from_unified_batch_id(unified) if "model_id:" in unified else None
        ids += [model_id] if model_id else []
        ids += re.findall(r"(?:^|;)model_id,([^;]+)", unified)
    by_model = files.decode_model_from_file_id(value)  # file-/batch_ ids of model-routed calls
    if by_model:
        encoded = True
        names.append(by_model)
    responses = importlib.import_module("litellm.responses.utils").ResponsesAPIRequestUtils
    videos = importlib.import_module("litellm.types.videos.utils")
    decoders: list[tuple[str, Callable[[str], Mapping[str, Any]]]] = [
        ("resp_", responses.decode_responses_api_response_id),
        ("cntr_", responses.decode_container_id),
        ("video_", videos.decode_video_id_with_provider),
        ("character_", videos.decode_character_id_with_provider),
    ]
    if value.startswith("resp_"):  # ResponsesIDSecurity: resp_ + encrypt(litellm_proxy:...;user_id:..;team_id:..)
        crypto = importlib.import_module("litellm.proxy.common_utils.encrypt_decrypt_utils")
        plain = crypto.decrypt_value_helper(value[len("resp_") :], "response_id", "debug", False)
        if isinstance(plain, str) and plain.startswith("litellm_proxy:"):
            inner = _decoded_parts(plain.split(";")[0].split("response_id:")[-1])
            return ObjectRef(True, inner.model_names, inner.model_ids)
    for prefix, decode in decoders:
        if value.startswith(prefix):
            decoded = decode(value)
            if decoded.get("model_id") or decoded.get("custom_llm_provider"):
                encoded = True
                ids += [str(decoded[k]) for k in ("model_id", "deployment_id") if decoded.get(k)]
                names += [str(decoded[k]) for k in ("served_model", "requested_model") if decoded.get(k)]
    return ObjectRef(encoded, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(ids)))


def _mentions_litellm(value: str) -> bool:
    """Any base64 form of the id (after a ``xxx_``/``xxx-`` prefix) that reads as LiteLLM's."""
    candidates = {value}
    for sep in ("_", "-"):
        _head, found, tail = value.partition(sep)
        if found and tail:
            candidates.add(tail)
    for candidate in candidates:
        padded = candidate + "=" * (-len(candidate) % 4)
        for decode in (base64.urlsafe_b64decode, base64.b64decode):
            try:
                text = decode(padded.encode()).decode("utf-8", "ignore")
            except (ValueError, binascii.Error):
                continue
            if "litellm" in text:
                return True
    return False


def decode_object_id(value: str) -> ObjectRef:
    """The deployments LiteLLM encoded into ``value`` (file, batch, response, container, video ids).

    An id that reads as one of LiteLLM's encodings but that no known decoder attributes is
    returned as ``encoded`` with no deployment: callers refuse it rather than guess.
    """
    if not value or len(value) > 4096:
        return ObjectRef(encoded=bool(value))
    try:
        found = _decoded_parts(value)
    except (ValueError, TypeError, UnicodeDecodeError):
        found = ObjectRef(encoded=True)
    if not found.encoded and _mentions_litellm(value):
        return ObjectRef(encoded=True)
    return found


def vector_store_registered(vector_store_id: str) -> bool:
    """Whether LiteLLM's process-wide registry knows the store (of whichever account)."""
    registry = importlib.import_module("litellm").vector_store_registry
    if registry is None:
        return False
    return registry.get_litellm_managed_vector_store_from_registry(vector_store_id) is not None
