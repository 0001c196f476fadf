"""What a request changed: the object type and action from its route, the ids from path, body, response.

Derived from the route, not listed per route, so a route LiteLLM adds is audited with a sensible
name the day it appears (``/<first segment>``, the last literal segment as the verb).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from extensions.audit.entries import key_ref

__all__ = ["DESCRIBE", "Target", "action_of", "object_type_of", "path_params", "target_of"]

# Path prefix -> object type; the longest prefix wins.
_OBJECTS: Final = (
    ("/account/budget/alerts", "budget_alert_config"),
    ("/account/budget", "account_budget"),
    ("/account/admin", "account_admin"),
    ("/account", "account"),
    ("/atrium/sso/config", "sso_config"),
    ("/atrium/invitation", "invitation"),
    ("/atrium/audit", "audit"),
    ("/key", "key"),
    ("/team", "team"),
    ("/user", "user"),
    ("/model", "model"),
    ("/credentials", "credential"),
    ("/invitation", "invitation"),
    ("/customer", "end_user"),
    ("/end_user", "end_user"),
    ("/budget", "budget"),
    ("/organization", "organization"),
)
_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
# Where an object's id is found (path parameters, then the body, then the response).
_ID_FIELDS: Final = {
    "key": ("key", "keys", "token", "key_hash"),
    "team": ("team_id", "team_ids"),
    "user": ("user_id", "user_ids"),
    "model": ("model_id", "id"),
    "credential": ("credential_name",),
    "account": ("account_id",),
    "account_admin": ("user_id", "account_id"),
    "account_budget": ("account_id",),
    "budget_alert_config": ("account_id",),
    "sso_config": ("account_id",),
    "invitation": ("invitation_id", "id", "email"),
    "end_user": ("user_id", "user_ids", "end_user_id"),
    "budget": ("budget_id",),
    "organization": ("organization_id",),
}
# Fields that describe an object in the diff of its deletion.
DESCRIBE: Final = {
    "key": {"key_alias", "team_id", "user_id", "models"},
    "team": {"team_alias", "models"},
    "user": {"user_email", "user_role"},
    "model": {"model_name"},
}


def object_type_of(path: str) -> str:
    for prefix, name in _OBJECTS:
        if path == prefix or path.startswith(prefix + "/"):
            return name
    first = path.strip("/").split("/", 1)[0]
    return first or "root"


def action_of(object_type: str, method: str, template: str) -> str:
    """``<object>.<verb>``: the template's last literal segment (``/key/generate``), else the method's verb."""
    prefix = next((p for p, name in _OBJECTS if name == object_type), "/" + object_type)
    rest = [s for s in template[len(prefix) :].split("/") if s and "{" not in s] if template.startswith(prefix) else []
    verb = rest[-1] if rest else _VERBS.get(method, method.lower())
    return f"{object_type}.{verb}"


def path_params(template: str, path: str) -> dict[str, str]:
    """The values of ``{name}`` segments of ``template`` in ``path`` (a ``:path`` one takes the rest)."""
    found: dict[str, str] = {}
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    for index, part in enumerate(wanted):
        if index >= len(given):
            break
        if part.startswith("{") and part.endswith("}"):
            name, _, kind = part[1:-1].partition(":")
            if kind == "path":
                tail = len(wanted) - index - 1
                found[name] = "/".join(given[index : len(given) - tail])
                break
            found[name] = given[index]
    return found


def _values(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int))]
    return [str(value)] if isinstance(value, (str, int)) and str(value) else []


class Target:
    """The object ids of one request: ``raw`` for looking rows up, ``shown`` for the log."""

    def __init__(self, object_type: str, raw: list[str]) -> None:
        self.object_type = object_type
        if object_type == "key":  # a key is looked up by its hash and shown by the hash's prefix
            self.raw = [hashlib.sha256(v.encode()).hexdigest() if v.startswith("sk-") else v for v in raw]
            self.shown = [key_ref(v) for v in self.raw]
        else:
            self.raw = raw
            self.shown = raw


def target_of(object_type: str, *sources: dict[str, Any] | None) -> Target:
    """The ids of the object, from the first source (path params, body, response) that names one."""
    fields = _ID_FIELDS.get(object_type, ("id", f"{object_type}_id"))
    for source in sources:
        if not source:
            continue
        for name in fields:
            values = _values(source.get(name))
            if values:
                return Target(object_type, values[:100])
        info = source.get("model_info") if object_type == "model" else None
        if isinstance(info, dict) and _values(info.get("id")):
            return Target(object_type, _values(info.get("id")))
    return Target(object_type, [])
