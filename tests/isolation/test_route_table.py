"""The isolation sweep, generated from the route table, with every outcome stated.

Every HTTP route the app serves (``served_routes()``) gets its class from ``routes.toml``
(``load_policy()``), and every principal of account C (admin key, viewer key, member key,
team key, member UI session) calls it:

- own: every open GET route with C's own ids (read from C's rows) in its path and id-typed
  query parameters must answer 2xx; a 404 from a missing replacement fails here;
- foreign: every open route that takes an id (path, query, or a top-level field of its JSON
  body, from the served OpenAPI) is called with D's real ids in all of them: 403/404 (409
  where the value claims a new object), which checks the deeper layers too for ids the
  reference check does not know (models, credentials, spend log requests);
- closed: every super_admin, unserved replaced and unclassified route: 401/403.

A different answer is stated in ``EXCEPTIONS`` with its reason. Transport errors and 5xx
fail. No response may carry an identifier of D the caller did not send (``identifiers.py``),
and D's rows in every tenant table and every row of every global table (``tables.py``) are
hashed before and after: nothing created, changed or deleted.

``test_the_sweep_fails_on_a_broken_scope`` runs the same sweep against a second proxy whose
policy wrongly opens one route, and shows that the sweep reports it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from expectations import CLAIMS, EXCEPTIONS
from identifiers import account_identifiers
from principals import principal_clients
from rows import TOKEN, USER, Snapshot, diff, id_values, settled, snapshot, value_finder
from sweep import Call, Outcome, Route, closed_calls, foreign_calls, judge, own_calls, routes_of, run, unused
from tests_support_config import gateway_config

from extensions.app import served_routes
from extensions.tenancy.policy import route_policy
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld

POLICY = load_policy()
SERVED = served_routes(include_lazy=True)
ROUTES = routes_of(POLICY, SERVED)
PRINCIPALS = ("admin", "viewer", "member-key", "team-key", "ui-session")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()  # how LiteLLM stores a virtual key


def own_overrides(world: AccountWorld) -> dict[str, dict[tuple[str, str], str]]:
    """Each principal's own key and user, so "own data" is the caller's own, not a colleague's."""
    return {
        "admin": {TOKEN: world.admin_token, USER: world.admin_user},
        "viewer": {TOKEN: _hash(str(world.extras["viewer_key"])), USER: f"{world.slug}-viewer"},
        "member-key": {TOKEN: world.member_token, USER: world.member_user},
        "team-key": {TOKEN: _hash(str(world.extras["team_key"]))},
        "ui-session": {TOKEN: _hash(world.ui_session_key), USER: f"{world.slug}-ui"},
    }


def sweep_calls(
    routes: list[Route],
    spec: dict[str, Any],
    mine: dict[tuple[str, str], str],
    theirs: dict[tuple[str, str], str],
    me: AccountWorld,
) -> tuple[list[Call], list[Call]]:
    """(reads and closed routes, foreign calls): the first run side by side, the second in order."""
    overrides = own_overrides(me)
    reads = own_calls(routes, spec, {who: value_finder(mine, overrides[who]) for who in PRINCIPALS})
    reads += closed_calls(routes, PRINCIPALS, value_finder(theirs))
    return reads, foreign_calls(routes, spec, PRINCIPALS, value_finder(theirs))


def sweep(
    clients: dict[str, httpx.Client],
    routes: list[Route],
    spec: dict[str, Any],
    values: tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]],
    me: AccountWorld,
    identifiers: dict[str, str],
) -> tuple[int, list[Outcome]]:
    """Every planned call of ``routes``, sent; (number of calls, outcomes)."""
    reads, foreign = sweep_calls(routes, spec, *values, me)
    outcomes = run(clients, reads, identifiers) + run(clients, foreign, identifiers, parallel=False)
    return len(reads) + len(foreign), outcomes


def stable_snapshot(dsn: str, account_id: str) -> Snapshot:
    """The account's rows once its own set-up traffic is billed."""
    result: Snapshot = settled(lambda: asyncio.run(snapshot(dsn, account_id)), what="the account's rows")
    return result


@pytest.fixture(scope="module")
def spec(proxy: ProxyProcess) -> dict[str, Any]:
    response = httpx.get(f"{proxy.base_url}/openapi.json", timeout=60)
    assert response.status_code == 200, response.text[:300]
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture(scope="module")
def clients(
    proxy: ProxyProcess, sweep_accounts: tuple[AccountWorld, AccountWorld]
) -> Iterator[dict[str, httpx.Client]]:
    found = principal_clients(proxy.base_url, sweep_accounts[0])
    yield found
    for client in found.values():
        client.close()


@pytest.fixture(scope="module")
def values(
    database_url: str, sweep_accounts: tuple[AccountWorld, AccountWorld]
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    mine, other = sweep_accounts
    own = asyncio.run(id_values(database_url, mine.account_id, public=True))
    return own, asyncio.run(id_values(database_url, other.account_id))


@pytest.fixture(scope="module")
def other_identifiers(database_url: str, sweep_accounts: tuple[AccountWorld, AccountWorld]) -> dict[str, str]:
    other = sweep_accounts[1]
    found = asyncio.run(account_identifiers(database_url, other.account_id))
    for expected in (other.team_id, other.member_user, other.member_token, str(other.extras["model_id"])):
        assert any(expected in value for value in found), f"{expected} missing from D's identifiers"
    return found


def test_every_served_route_is_planned(spec: dict[str, Any]) -> None:
    """Each served HTTP route has a class, and each open route is swept by some call (no threshold to tune)."""
    served = {(m, r.path) for r in SERVED if r.kind == "http" for m in r.methods - {"HEAD", "OPTIONS"}}
    assert served == {(r.method, r.template) for r in ROUTES}
    assert {r.route_class for r in ROUTES} == {"public", "llm", "tenant", "replaced", "closed"}
    fake = {("T", "c"): "v"}
    world = AccountWorld(
        "s", "a", "u", "k", "t", "team", "m", "mk", "mt", "ui", "cookie", {"viewer_key": "v", "team_key": "t"}
    )
    reads, foreign = sweep_calls(ROUTES, spec, fake, fake, world)
    planned = {(c.route.method, c.route.template) for c in reads + foreign}
    # Open writes that take no id have no other account's value to carry; every other route is called.
    unswept = [r for r in ROUTES if (r.method, r.template) not in planned and r.method == "GET"]
    assert not unswept, unswept


def test_open_routes_answer_as_stated_and_change_nothing_of_another_account(
    spec: dict[str, Any],
    clients: dict[str, httpx.Client],
    values: tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]],
    other_identifiers: dict[str, str],
    sweep_accounts: tuple[AccountWorld, AccountWorld],
    database_url: str,
) -> None:
    me, other = sweep_accounts
    before = stable_snapshot(database_url, other.account_id)
    assert sum(len(rows) for rows in before.values()) > 10, "account D has too few rows for the sweep to mean much"
    count, outcomes = sweep(clients, ROUTES, spec, values, me, other_identifiers)
    problems = judge(outcomes, EXCEPTIONS, CLAIMS) + unused(outcomes, EXCEPTIONS)
    time.sleep(3)  # anything queued (spend, background writes) lands
    changes = diff(before, asyncio.run(snapshot(database_url, other.account_id)))
    assert len(outcomes) == count and count > 1000, count
    assert not problems, f"{len(problems)} of {count} calls:\n" + "\n".join(problems[:150])
    assert not changes, "another account's rows changed:\n" + "\n".join(changes)


# --- the sweep can fail: the same sweep against a proxy whose policy is deliberately broken --------

BROKEN_ROUTE = "GET /v2/model/info"  # reads the process-wide router: every account's deployments
_BROKEN_GROUP = f"""
[[group]]
class = "tenant"
reason = "DELIBERATELY BROKEN by tests/isolation/test_route_table.py: this route reads every account's deployments"
routes = ["{BROKEN_ROUTE}"]
"""
# Test only, never shipped: a sitecustomize.py on the second proxy's PYTHONPATH points the default
# policy at the broken copy before Atrium loads it (there is no production hook for this).
_SITECUSTOMIZE = """
from pathlib import Path

import extensions.tenancy.policy.route_policy as route_policy

route_policy.DEFAULT_POLICY_PATH = Path({path!r})
"""


def broken_policy(where: Path) -> Path:
    """A copy of routes.toml with ``BROKEN_ROUTE`` moved from its replaced group into a tenant group."""
    text = Path(route_policy.DEFAULT_POLICY_PATH).read_text()
    entry = f'"{BROKEN_ROUTE}", '
    assert text.count(entry) == 1, f"{BROKEN_ROUTE} is no longer listed once in routes.toml: pick another route"
    path = where / "routes.toml"
    path.write_text(text.replace(entry, "") + _BROKEN_GROUP)
    return path


@pytest.fixture(scope="module")
def broken_proxy(
    workdir: Path,
    database_url: str,
    redis_url: str,
    upstream: FakeUpstream,
    master_key: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ProxyProcess, Path]]:
    where = tmp_path_factory.mktemp("broken-policy")
    policy = broken_policy(where)
    (where / "sitecustomize.py").write_text(_SITECUSTOMIZE.format(path=str(policy)))
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(where), os.environ.get("PYTHONPATH", "")) if p)}

    def start() -> ProxyProcess:
        server = ProxyProcess(
            workdir,
            database_url=database_url,
            redis_url=redis_url,
            master_key=master_key,
            config=gateway_config(upstream),
            workers=1,
            extra_env=env,
        )
        return server.start()

    try:
        server = start()
    except RuntimeError:  # a start under load can time out: once more, then the error stands
        server = start()
    yield server, policy
    server.stop()


def test_the_sweep_fails_on_a_broken_scope(
    broken_proxy: tuple[ProxyProcess, Path],
    spec: dict[str, Any],
    values: tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]],
    other_identifiers: dict[str, str],
    sweep_accounts: tuple[AccountWorld, AccountWorld],
) -> None:
    server, policy = broken_proxy
    me = sweep_accounts[0]
    correct = set(ROUTES)
    changed = [route for route in routes_of(load_policy(policy), SERVED) if route not in correct]
    assert [f"{r.method} {r.template}" for r in changed] == [BROKEN_ROUTE]
    clients = principal_clients(server.base_url, me)
    try:
        count, outcomes = sweep(clients, changed, spec, values, me, other_identifiers)
    finally:
        for client in clients.values():
            client.close()
    problems = judge(outcomes, EXCEPTIONS, CLAIMS)
    leaks = [p for p in problems if p.startswith("LEAK") and BROKEN_ROUTE.split()[1] in p]
    assert count and leaks, (
        "the sweep did not report the wrongly opened route (did sitecustomize.py load? see "
        f"{server.log_path}):\n" + "\n".join(problems)
    )
