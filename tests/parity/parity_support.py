"""The parity suite's one comparison: same request, vanilla LiteLLM and Atrium, normalised bodies.

Everything that may legitimately differ between two proxies on two databases is dropped or
replaced HERE and nowhere else (``normalise``); every difference a tenancy rule requires is a row
of ``TENANCY_DIFFERENCES`` and is applied by ``compare`` only when a test names its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from extensions.testing.proxy_process import ProxyProcess

# Values that differ between any two runs of the same proxy: generated ids and secrets, clocks.
VOLATILE_KEYS = frozenset(
    {
        "token",
        "key",
        "key_name",  # "sk-...abcd": the tail of the generated key
        "token_id",
        "created_at",
        "updated_at",
        # Who acted: the account admin is another caller than vanilla's master key, by design.
        "created_by",
        "updated_by",
        "deleted_by",
        "deleted_by_api_key",
        "expires",
        "budget_reset_at",
        "last_refreshed_at",
        "litellm_budget_table",
        "budget_id",
        "team_id",
        "id",
        "model_id",
        "request_id",
        "litellm_call_id",
        "system_fingerprint",
        "created",
        "spend",  # written in batches (proxy_batch_write_at): its timing is not behaviour
        "object_permission_id",
        "object_permission",
        "rotation_count",
        "last_rotation_at",
        "key_rotation_at",
        "user_api_key_hash",
    }
)
_ACCOUNT_PREFIX = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/")
# Generated values inside strings and lists: virtual keys, their hashes, uuids.
_GENERATED = (
    (re.compile(r"\bsk-[A-Za-z0-9_-]{22}\b"), "<key>"),
    (re.compile(r"\bsk-\.\.\.[A-Za-z0-9_-]{4}"), "<key-name>"),  # LiteLLM's abbreviated key in messages
    (re.compile(r"\b[0-9a-f]{64}\b"), "<hash>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?"), "<time>"),  # clocks inside messages
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
)


@dataclass(frozen=True)
class Difference:
    route: str
    what: str
    rule: str
    fields: frozenset[str] = field(default_factory=frozenset)  # top-level body fields it concerns


# The ONE list of differences from vanilla LiteLLM 1.108.7 that the suite accepts. Each is required
# by a tenancy rule (docs/route-policy.md, docs/security.md); a test applies one only by naming it.
TENANCY_DIFFERENCES: dict[str, Difference] = {
    "account-fields": Difference(
        "every route returning LiteLLM rows (keys, users, teams)",
        "rows carry Atrium's `account_id` column (absent in vanilla's schema)",
        "every tenant row is stamped with its account (CLAUDE.md: every table has account_id)",
        frozenset({"account_id"}),
    ),
    "model-presentation": Difference(
        "/model/info, /v1/model/info, /v2/model/info",
        "a deployment's litellm_params show only `model` (no api_base, prices, provider flags) and model_info "
        "carries `access_via_team_ids`; the suite compares which models are listed, by name and underlying model",
        "tenants never read the operator's deployment settings or secrets (docs/models.md, account view)",
    ),
}
# The caller's own user id, recorded by LiteLLM where it acts (team creator as team admin): vanilla's
# master key acts as `default_user_id`, Atrium's account admin as its user. Who acts is the test's choice.
CALLERS = frozenset({"default_user_id", "parity-admin"})


def normalise(value: Any, tags: tuple[str, ...] = (), drop: frozenset[str] = frozenset()) -> Any:
    """``value`` without volatile fields, with run tags and ``<account_id>/`` internal prefixes neutralised.

    ``tags`` are the per-side name prefixes a test used (user ids, aliases): both proxies then read alike.
    """
    if isinstance(value, dict):
        return {
            k: normalise(v, tags, drop)
            for k, v in sorted(value.items())
            if k not in VOLATILE_KEYS and k not in drop and not k.endswith("_at")  # *_at: clocks
        }
    if isinstance(value, list):
        items = [normalise(v, tags, drop) for v in value]
        try:
            return sorted(items, key=repr)
        except TypeError:
            return items
    if isinstance(value, str):
        if value in CALLERS:
            return "<caller>"
        value = _ACCOUNT_PREFIX.sub("", value)
        for pattern, placeholder in _GENERATED:
            value = pattern.sub(placeholder, value)
        for tag in tags:
            value = value.replace(tag, "<tag>")
        return value
    return value


@dataclass
class Side:
    """One proxy as one caller: vanilla as its master key, Atrium as the super admin or an account admin."""

    name: str
    base_url: str
    api_key: str
    headers: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key or self.api_key}", **(self.headers if key is None else {})}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)

    def tag(self, test: str) -> str:
        """A name prefix unique to this side and test (both Atrium sides share one database)."""
        return f"par-{self.name}-{test}"


@dataclass
class Pair:
    vanilla: Side
    atrium: Side

    def tags(self, test: str) -> tuple[str, str]:
        return self.vanilla.tag(test), self.atrium.tag(test)


@dataclass
class Proxies:
    vanilla: ProxyProcess
    atrium: ProxyProcess
    account_id: str
    admin_key: str


# The access group given to one global model in the parity config (LiteLLM: model_info.access_groups).
ACCESS_GROUP = "parity-group"


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def compare(
    vanilla: httpx.Response,
    atrium: httpx.Response,
    *,
    tags: tuple[str, ...] = (),
    allowed: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> None:
    """Same status, same normalised body (or the ``only`` top-level fields of it).

    ``allowed`` names rows of ``TENANCY_DIFFERENCES`` whose fields are left out of the comparison.
    """
    drop: frozenset[str] = frozenset()
    for name in allowed:
        drop |= TENANCY_DIFFERENCES[name].fields
    where = f"{atrium.request.method} {atrium.request.url.path}"
    assert atrium.status_code == vanilla.status_code, (
        f"{where}: vanilla {vanilla.status_code} {vanilla.text[:600]}\natrium {atrium.status_code} {atrium.text[:600]}"
    )
    left, right = body_of(vanilla), body_of(atrium)
    if only is not None and isinstance(left, dict) and isinstance(right, dict):
        left = {k: left.get(k) for k in only}
        right = {k: right.get(k) for k in only}
    left, right = normalise(left, tags, drop), normalise(right, tags, drop)
    assert right == left, f"{where}: {_differences(left, right)}"


def _differences(vanilla: Any, atrium: Any, path: str = "") -> list[str]:
    if isinstance(vanilla, dict) and isinstance(atrium, dict):
        found: list[str] = []
        for k in sorted(set(vanilla) | set(atrium)):
            if k not in atrium:
                found.append(f"{path}.{k}: only vanilla ({vanilla[k]!r:.200})")
            elif k not in vanilla:
                found.append(f"{path}.{k}: only atrium ({atrium[k]!r:.200})")
            else:
                found += _differences(vanilla[k], atrium[k], f"{path}.{k}")
        return found
    if vanilla != atrium:
        return [f"{path}: vanilla {vanilla!r:.300} atrium {atrium!r:.300}"]
    return []
