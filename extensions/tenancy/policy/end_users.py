"""End users (LiteLLM "customers") are per account: ``alice`` of A and ``alice`` of B are two rows.

LiteLLM keeps end users in one global namespace (``LiteLLM_EndUserTable.user_id`` is the
primary key, and ``user_api_key_cache`` caches them per id, process-wide), so without this
A's request with ``"user": "<B's customer>"`` would be checked against, and billed to, B's
customer. Like per-account models (``extensions/models/naming.py``), an account's end user
is stored under the internal id ``<account_id>/<id>``; LiteLLM's schema is unchanged.

The id is mapped on the way in, before LiteLLM reads it:

- LLM routes: every place ``get_end_user_id_from_request_body`` reads (the standard and
  configured customer headers, ``user``, ``litellm_metadata.user``, ``metadata.user_id``,
  ``safety_identifier``). LiteLLM's auth reads the end user (budget, block, cache) before any
  callback runs, so this cannot wait for the pre-call hook. After rewriting, LiteLLM's own
  extractor must name the account's internal id, else the request is refused (fail closed
  for a location LiteLLM reads that this module does not know). Form bodies cannot be
  rewritten here, so an end-user field in one is refused (the header works).
- Management routes (:data:`MANAGEMENT`): the body fields and query parameters naming customers.

On the way out, the account's own prefix is stripped from those routes' JSON responses (keys
and values); error bodies of every route are already stripped by ``models/masking.py``.
Global keys (no account) and the super admin keep LiteLLM's plain ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from extensions import litellm
from extensions.errors import RequestError
from extensions.request_body import replaying
from extensions.tenancy.request.context import TenantContext

__all__ = [
    "MANAGEMENT",
    "EndUserFieldRefused",
    "internal_id",
    "is_shared_registry_read",
    "namespace_request",
    "needs_body",
    "public_id",
    "restore_public_end_user",
    "rewrite_llm_body",
]


class EndUserFieldRefused(RequestError):
    code = "end_user_field_not_accepted"
    status = 400


@dataclass(frozen=True)
class Fields:
    body: tuple[str, ...] = ()  # top-level body fields: a string id or a list of ids
    query: tuple[str, ...] = ()  # query parameters: an id or a comma-separated list of ids


_ONE = Fields(body=("user_id",))
_MANY = Fields(body=("user_ids",))
# Route (as routes.toml names it) -> where it names end users. Every route listed also gets its
# JSON response mapped back to public ids.
MANAGEMENT: dict[str, Fields] = {
    **{f"POST /{p}/new": _ONE for p in ("customer", "end_user")},
    **{f"POST /{p}/update": _ONE for p in ("customer", "end_user")},
    **{f"POST /{p}/{verb}": _MANY for p in ("customer", "end_user") for verb in ("delete", "block", "unblock")},
    **{f"GET /{p}/info": Fields(query=("end_user_id",)) for p in ("customer", "end_user")},
    **{f"GET /{p}/list": Fields() for p in ("customer", "end_user")},
    **{
        f"GET /{p}/daily/activity": Fields(query=("end_user_ids", "exclude_end_user_ids"))
        for p in ("customer", "end_user")
    },
    # Atrium's spend-log views (replaced routes): the end-user filter and column.
    "GET /spend/logs/ui": Fields(query=("end_user",)),
    "GET /spend/logs/v2": Fields(query=("end_user",)),
    "GET /spend/logs/ui/{request_id}": Fields(),
    "GET /spend/logs/session/ui": Fields(),
}

# Body fields LiteLLM reads an end-user id from (auth_utils.get_end_user_id_from_request_body).
_TOP_LEVEL = ("user", "safety_identifier")
_NESTED = (("litellm_metadata", "user"), ("metadata", "user_id"))
_FORM_FIELDS = re.compile(rb'name\s*=\s*"?(user|metadata|litellm_metadata|safety_identifier)"?\s*[;\r\n]', re.I)
# Cheap pre-check so most chat bodies are not parsed twice ("user" as a role is a value, not a key).
_MAYBE_NAMED = re.compile(rb'(?:user|user_id|safety_identifier)\\*"\s*:')


# An internal id: `<account uuid>/`. A principal of no account may not name one (it would reach
# that account's customer: the spend writer and the stamping trigger go by the prefix).
_INTERNAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/")
_END_USER_TABLE = "LiteLLM_EndUserTable"


def is_shared_registry_read(table: str, action: str, kw: dict[str, Any]) -> bool:
    """LiteLLM's process-wide cache of restricted end users (auth_checks
    ``_load_end_user_restricted_registry``: blocked or budgeted ids, read with
    ``find_many(where={"OR": [{"blocked": True}, ...]}, take=...)``) must list every account's:
    loaded under one tenant's filter, it would let other accounts' blocked customers through.
    The ids carry their account, so the set is only ever matched against the caller's own ids."""
    where = kw.get("where")
    return (
        table == _END_USER_TABLE
        and action == "find_many"
        and set(kw) <= {"where", "take"}
        and isinstance(where, dict)
        and set(where) == {"OR"}
        and isinstance(where["OR"], list | tuple)
        and list(where["OR"][:1]) == [{"blocked": True}]
    )


def _no_internal_ids(values: list[Any]) -> None:
    if any(isinstance(v, str) and _INTERNAL.match(v) for v in values):
        raise EndUserFieldRefused(
            "this end-user id is reserved", hint="end-user ids may not start with an account id and '/'"
        )


def internal_id(account_id: str, public: str) -> str:
    return f"{account_id}/{public}"


def public_id(account_id: str, value: str) -> str:
    prefix = f"{account_id}/"
    return value[len(prefix) :] if value.startswith(prefix) else value


def _id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def _mapped(account_id: str, value: Any) -> Any:
    found = _id(value)
    return internal_id(account_id, found) if found is not None else value


def rewrite_llm_body(body: dict[str, Any], account_id: str) -> dict[str, Any]:
    """A copy of an LLM request body with every end-user field mapped to the account's internal id."""
    out = dict(body)
    for field in _TOP_LEVEL:
        if field in out:
            out[field] = _mapped(account_id, out[field])
    for container, field in _NESTED:
        raw = out.get(container)
        as_text = isinstance(raw, str)
        try:
            parsed = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue  # LiteLLM reads nothing from an unparsable string either
        if isinstance(parsed, dict) and field in parsed:
            parsed = {**parsed, field: _mapped(account_id, parsed[field])}
            out[container] = json.dumps(parsed) if as_text else parsed
    return out


def restore_public_end_user(data: dict[str, Any], account_id: str) -> None:
    """The provider gets the tenant's own id in ``user`` / ``safety_identifier`` (called from the
    pre-call hook, after LiteLLM's auth has read the internal id; spend tracking reads it from the
    request metadata, not from these fields)."""
    for field in _TOP_LEVEL:
        value = data.get(field)
        if isinstance(value, str):
            data[field] = public_id(account_id, value)


def _rewrite_headers(scope: Scope, account_id: str, names: frozenset[str]) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    for name, value in scope.get("headers", []):
        if name.decode("latin-1").lower() in names and value.strip():
            value = internal_id(account_id, value.decode("latin-1").strip()).encode("latin-1")
        headers.append((name, value))
    return headers


def _is_form(headers: Headers) -> bool:
    kind = headers.get("content-type", "").lower()
    return kind.startswith("multipart/form-data") or kind.startswith("application/x-www-form-urlencoded")


def _refused() -> EndUserFieldRefused:
    return EndUserFieldRefused(
        "the end-user id cannot be read from this request",
        hint="send it in the x-litellm-end-user-id header (form bodies: not as a form field)",
    )


def _llm_request(scope: Scope, body: bytes, account_id: str) -> bytes:
    """Rewrites headers in ``scope`` and returns the body to replay."""
    names = litellm.end_user_header_names()
    scope["headers"] = _rewrite_headers(scope, account_id, names)
    headers = Headers(scope=scope)
    if _is_form(headers):
        form_named = _FORM_FIELDS.search(body) or any(
            key in _TOP_LEVEL + tuple(c for c, _ in _NESTED) for key, _ in parse_qsl(body.decode("latin-1"))
        )
        if form_named:
            raise _refused()
        return body
    parsed: Any = None
    if _MAYBE_NAMED.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None  # LiteLLM answers the parse error itself
    payload = parsed if isinstance(parsed, dict) else {}
    rewritten = rewrite_llm_body(payload, account_id) if payload else payload
    after = litellm.end_user_id_of(rewritten, headers)
    if after is not None and not after.startswith(f"{account_id}/"):
        raise _refused()  # LiteLLM reads an id from somewhere this module does not map
    return json.dumps(rewritten).encode() if rewritten != payload else body


def _map_values(value: str, account_id: str) -> str:
    return ",".join(internal_id(account_id, v) if v else v for v in value.split(","))


def _management_request(scope: Scope, body: bytes, fields: Fields, account_id: str) -> bytes:
    if fields.query:
        raw = scope.get("query_string", b"").decode("latin-1")
        pairs = [(k, _map_values(v, account_id) if k in fields.query else v) for k, v in parse_qsl(raw, True)]
        scope["query_string"] = urlencode(pairs).encode("latin-1")
    if not fields.body or not body.strip():
        return body
    try:
        parsed = json.loads(body)
    except ValueError:
        return body  # LiteLLM answers the parse error itself
    if not isinstance(parsed, dict):
        return body
    for field in fields.body:
        value = parsed.get(field)
        if isinstance(value, list):
            parsed[field] = [_mapped(account_id, v) for v in value]
        elif value is not None:
            parsed[field] = _mapped(account_id, value)
    return json.dumps(parsed).encode()


def _public(value: Any, prefix: str) -> Any:
    if isinstance(value, str):
        return value[len(prefix) :] if value.startswith(prefix) else value
    if isinstance(value, list):
        return [_public(v, prefix) for v in value]
    if isinstance(value, dict):
        return {_public(k, prefix): _public(v, prefix) for k, v in value.items()}
    return value


def _mapping_send(send: Send, account_id: str) -> Send:
    """Holds a JSON response and strips the account's own prefix from its keys and values."""
    prefix = f"{account_id}/"
    held: list[Message] = []

    async def mapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            held.append(message)
            return
        if message["type"] != "http.response.body" or not held:
            await send(message)
            return
        held.append(message)
        if message.get("more_body", False):
            return
        start, *bodies = held
        held.clear()
        body = b"".join(m.get("body", b"") for m in bodies)
        try:
            body = json.dumps(_public(json.loads(body), prefix)).encode()
        except ValueError:
            pass  # not JSON: passed through as it was
        headers = [(k, str(len(body)).encode() if k.lower() == b"content-length" else v) for k, v in start["headers"]]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return mapped


def needs_body(route_class: str | None, route: str | None, ctx: TenantContext) -> bool:
    return route_class == "llm" or route in MANAGEMENT


def namespace_request(
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
    *,
    route_class: str | None,
    route: str | None,
    ctx: TenantContext,
) -> tuple[Receive, Send]:
    """Maps the request's end-user ids in place (headers, query string) and returns the
    ``receive`` that replays the mapped body, then ``receive`` (already drained of the body),
    and the ``send`` that maps the response back."""
    account_id = ctx.account_id
    if account_id is None:
        _check_unmapped(scope, body, route_class, route)
        return replaying(body, receive), send
    original = body
    if route is not None and route in MANAGEMENT:
        body = _management_request(scope, body, MANAGEMENT[route], account_id)
        send = _mapping_send(send, account_id)
    elif route_class == "llm":
        body = _llm_request(scope, body, account_id)
    if body is not original:  # pass-through routes forward the request's headers upstream
        length = str(len(body)).encode()
        scope["headers"] = [(k, length if k.lower() == b"content-length" else v) for k, v in scope["headers"]]
    return replaying(body, receive), send


def _check_unmapped(scope: Scope, body: bytes, route_class: str | None, route: str | None) -> None:
    """A principal of no account keeps plain ids, but never another account's internal ones."""
    try:
        parsed = json.loads(body) if body.strip() else {}
    except ValueError:
        parsed = {}
    payload = parsed if isinstance(parsed, dict) else {}
    if route is not None and route in MANAGEMENT:
        fields = MANAGEMENT[route]
        raw = scope.get("query_string", b"").decode("latin-1")
        values: list[Any] = [v for k, q in parse_qsl(raw) if k in fields.query for v in q.split(",")]
        for field in fields.body:
            found = payload.get(field)
            values.extend(found if isinstance(found, list) else [found])
        _no_internal_ids(values)
    elif route_class == "llm":
        _no_internal_ids([litellm.end_user_id_of(payload, Headers(scope=scope))])
