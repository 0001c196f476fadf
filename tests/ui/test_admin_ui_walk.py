"""Issue 13 acceptance: LiteLLM's own admin UI, walked in headless Chromium as account A's admin
and as A's member, the way they sign in and click, with account B's real rows next door.

Every page the role's left menu offers is opened (the menu is read from the rendered UI, the
parameters from the UI's static export), with its tabs, Usage with each of its views, and Logs
with one request's detail and its session. For each page: a screenshot in
``test-artifacts/ui-walk/<role>/``, every API call the page made in ``test-artifacts/ui-walk/calls.json``,
and these checks: no call answered 5xx; no call answered 401/403 unless the route policy classifies
it ``super_admin`` and :data:`TOLERATED` says why the UI copes; nothing of account B (ids, hashed
keys, aliases, team names, emails, model names, spend amounts, read from B's rows) in any response
body or in the page's text.

A replacement handler that is still missing shows up here as a 403 on a ``replaced`` route, named
with its handler id in the failure: the checks stay strict until the handler exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import jwt
import openai
import pytest
from isolation.rows import settled, snapshot

from extensions.routes.replacements import HANDLERS
from extensions.tenancy.policy.decision import Classification, RouteClass
from extensions.tenancy.policy.route_policy import load_policy
from extensions.testing.needles import account_needles
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.tenants import AccountWorld, build_account
from extensions.testing.ui_walk import CHROMIUM, CHROMIUM_ARGS, Call, NavLink, UiWalker, View, export_pages, found_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui-walk"
ROLES = ("admin", "member")
PAGES = export_pages()
POLICY = load_policy()
PASSWORD = "Walk-Own-Pass-42!"  # each person sets it through LiteLLM's invitation link
CRASHED = "Application error: a client-side exception has occurred"  # Next.js, when a page throws

# super_admin routes the UI calls for a tenant role, grouped by why a 403 there leaves the page
# usable (checked on the screenshots of a walk). A super_admin route refused without an entry here
# fails its page; an entry whose route is no longer super_admin fails
# test_tolerated_routes_are_super_admin_routes.
_TOLERATED_GROUPS: dict[str, tuple[str, ...]] = {
    "a shell probe on every page: the UI takes a refusal as no licence, no warnings, telemetry off": (
        "GET /health/license",
        "GET /health/readiness/details",
        "GET /health/deployment_warnings",
        "GET /telemetry/settings",
        "GET /user/available_users",
    ),
    "proxy-wide analytics (every account's traffic): that chart or table shows no data or 'failed to load', "
    "the rest of the page works": (
        "GET /global/activity",
        "GET /global/activity/model",
        "GET /global/activity/cache_hits",
        "GET /global/spend/all_tag_names",
        "POST /global/spend/end_users",
        "GET /global/spend/keys",
        "GET /global/spend/logs",
        "GET /global/spend/models",
        "GET /global/spend/provider",
        "GET /global/spend/tags",
        "GET /global/spend/teams",
        "GET /organization/daily/activity/aggregated",
        "GET /organization/daily/activity/aggregated/keys",
        "GET /agent/daily/activity/aggregated",
        "GET /agent/daily/activity/aggregated/keys",
        "GET /model-insights",
        "GET /guardrails/usage/overview",
        "GET /v1/tool/spend",
        "GET /cost_optimization/prompt_caching/requests",
        "GET /auto_router/benchmarks",
    ),
    "proxy-wide configuration: the settings form shows empty defaults (saving is refused as well)": (
        "GET /config/list",
        "GET /config/field/info",
        "GET /config/pass_through_endpoint",
        "GET /config_overrides/cyberark",
        "GET /config_overrides/hashicorp_vault",
        "GET /config/block_requests_for_models_without_pricing",
        "GET /config/cost_discount_config",
        "GET /config/cost_margin_config",
        "GET /get/config/callbacks",
        "GET /callbacks/configs",
        "GET /alerting/settings",
        "GET /email/event_settings",
        "GET /cloudzero/settings",
        "GET /get/sso_settings",
        "GET /get/websearch_interception_settings",
        "GET /get/default_team_settings",
        "GET /get/internal_user_settings",
        "GET /get/mcp_semantic_filter_settings",
        "GET /get/mcp_tool_search_settings",
        "GET /router/settings",
        "GET /router/fields",
        "GET /cache/settings",
        "GET /coordination_redis/settings",
        "GET /health/latest",
        "GET /model/cost_map/source",
        "GET /schedule/model_cost_map_reload/status",
    ),
    "a registry shared by all accounts (no account of its own in LiteLLM 1.108.7): the list shows empty": (
        "GET /access_group/list",
        "GET /v1/access_group",
        "GET /project/list",
        "GET /search_tools/list",
        "GET /search_tools/ui/available_providers",
        "GET /v1/tool/list",
        "GET /claude-code/plugins",
        "GET /guardrails/submissions",
        "GET /guardrails/ui/add_guardrail_settings",
        "GET /guardrails/ui/provider_specific_params",
        "GET /policies/attachments/list",
        "GET /policy/templates",
        "GET /v1/mcp/server/health",
        "GET /v1/mcp/server/submissions",
        "GET /v1/mcp/sessions",
        "GET /v1/mcp/user-env-vars/status",
        "GET /v1/mcp/network/client-ip",
        "GET /credentials/user_connections",
        "* /lens",
        "* /lens/{path:path}",
        "GET /v1/traces",
        "GET /v1/traces/agents",
    ),
}
TOLERATED: dict[str, str] = {route: why for why, routes in _TOLERATED_GROUPS.items() for route in routes}
# Refusals LiteLLM gives the role itself (vanilla's UI gets the same answer), in LiteLLM's error form.
LITELLMS_OWN_REFUSALS: dict[tuple[str, str], str] = {
    ("member", "GET /api/plugins"): "LiteLLM: proxy admins only; the UI lists no plugins for an internal user",
}


@dataclass
class RoleWalk:
    nav: list[NavLink] = field(default_factory=list)
    views: list[View] = field(default_factory=list)
    failure: str | None = None  # the walk itself broke (sign-in, the menu)


@dataclass
class Walk:
    a: AccountWorld
    b: AccountWorld
    needles: dict[str, str]  # B's strings -> the table.column they come from
    own: dict[str, str]  # A's request id and session id, for the Logs detail and session views
    roles: dict[str, RoleWalk]
    seconds: float


# --- the two accounts ------------------------------------------------------------------------


def _ok(response: httpx.Response) -> None:
    assert response.status_code == 200, f"{response.request.method} {response.request.url}: {response.text}"


def _own_password(base_url: str, admin: httpx.Client, user_id: str) -> None:
    """LiteLLM's invitation link, claimed with the person's own password (no forced change)."""
    invitation = admin.post("/invitation/new", json={"user_id": user_id})
    _ok(invitation)
    link = invitation.json()["id"]
    onboarding = httpx.get(f"{base_url}/onboarding/get_token", params={"invite_link": link}, timeout=30)
    _ok(onboarding)
    key = jwt.decode(onboarding.json()["token"], options={"verify_signature": False})["key"]
    claim = {"invitation_link": link, "user_id": user_id, "password": PASSWORD}
    _ok(httpx.post(f"{base_url}/onboarding/claim_token", headers={"Authorization": f"Bearer {key}"}, json=claim))


def _people_and_data(base_url: str, world: AccountWorld, extra_chats: int) -> None:
    """The admin's email, both people's passwords, a budget, a customer and more spend: B bills
    more than A, so B's totals are amounts A never shows."""
    with world.client(base_url, world.admin_key) as admin:
        _ok(admin.post("/user/update", json={"user_id": world.admin_user, "user_email": f"admin@{world.slug}.example"}))
        for user in (world.admin_user, world.member_user):
            _own_password(base_url, admin, user)
        _ok(admin.post("/budget/new", json={"budget_id": f"{world.slug}-budget", "max_budget": 10}))
        _ok(admin.post("/customer/new", json={"user_id": f"{world.slug}-customer", "max_budget": 5}))
    client = openai.OpenAI(api_key=world.member_key, base_url=f"{base_url}/v1")
    client.chat.completions.create(
        model="gpt-fake", messages=[{"role": "user", "content": "customer"}], user=f"{world.slug}-customer"
    )
    for _ in range(extra_chats):
        client.chat.completions.create(model="gpt-fake", messages=[{"role": "user", "content": "more"}])


def _both(dsn: str, a: str, b: str) -> dict[str, dict[str, str]]:
    first, second = asyncio.run(snapshot(dsn, a)), asyncio.run(snapshot(dsn, b))
    return {table: {**first.get(table, {}), **second.get(table, {})} for table in {*first, *second}}


async def _own_request(dsn: str, account_id: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            'SELECT request_id, session_id FROM "LiteLLM_SpendLogs" WHERE account_id = $1 AND session_id IS NOT NULL '
            'ORDER BY "startTime" LIMIT 1',
            account_id,
        )
        assert row is not None, "account A has no spend log to open in the Logs page"
        return {"request_id": row["request_id"], "session_id": row["session_id"]}
    finally:
        await conn.close()


# --- the tour of one page ------------------------------------------------------------------


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _tabs(walker: UiWalker, page: str, seen: set[str]) -> None:
    """Every tab the page shows that is not in ``seen`` (the one it opened on, those walked)."""
    for name in walker.tabs():
        if name not in seen:
            seen.add(name)
            walker.act(page, _slug(name), lambda _, name=name: walker.click_tab(name))


USAGE_SELECTOR = "Select the usage data you want to view"


def _usage(walker: UiWalker, page: str, own: Mapping[str, str]) -> None:
    """Each view of the usage selector (global, team, customer, tag, ...) and each tab, once."""
    seen = set(walker.tabs()[:1])
    _tabs(walker, page, seen)
    walker.page.get_by_role("combobox", name=USAGE_SELECTOR).click()
    options = [o.inner_text().splitlines()[0].strip() for o in walker.page.get_by_role("option").all()]
    walker.page.keyboard.press("Escape")

    def choose(option: str) -> Callable[[Any], None]:
        def act(p: Any) -> None:
            p.get_by_role("combobox", name=USAGE_SELECTOR).click()
            p.get_by_role("option").filter(has_text=option).first.click()

        return act

    for option in options[1:]:
        walker.act(page, _slug(option), choose(option))
        _tabs(walker, page, seen)


def _logs(walker: UiWalker, page: str, own: Mapping[str, str]) -> None:
    """A's request: its detail, then its session; then the other tabs (audit, deleted keys/teams)."""
    request_id, session_id = own["request_id"], own["session_id"]
    walker.act(page, "request-detail", lambda p: p.locator("tbody tr").filter(has_text=request_id).first.click())
    walker.page.keyboard.press("Escape")
    walker.act(page, "session", lambda p: p.locator("tbody tr").get_by_text(session_id).first.click())
    walker.page.keyboard.press("Escape")
    _tabs(walker, page, set(walker.tabs()[:1]))


TOURS: dict[str, Callable[[UiWalker, str, Mapping[str, str]], None]] = {"usage": _usage, "logs": _logs}


def _walk_role(browser: Any, base_url: str, role: str, email: str, own: Mapping[str, str]) -> RoleWalk:
    """Sign in, read the menu, open each page it offers (Usage and Logs with their views)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    walker = UiWalker(context, base_url, ARTIFACTS, role)
    result = RoleWalk(views=walker.views)
    try:
        walker.sign_in(email, PASSWORD, new_password=PASSWORD + "-2")
        result.nav = walker.navigation()
        for page in dict.fromkeys(link.page for link in result.nav if link.page is not None):
            walker.open(page)
            if page in TOURS:
                TOURS[page](walker, page, own)
    except Exception as exc:  # the walk must still write what it saw; the tests report the failure
        result.failure = f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            walker.page.screenshot(path=str(ARTIFACTS / role / "failure.png"), full_page=True)
    finally:
        context.close()
    return result


# --- what one call means -----------------------------------------------------------------


def _classify(call: Call) -> Classification | None:
    return POLICY.classify(call.method, unquote(call.path))


def _describe(call: Call) -> str:
    entry = _classify(call)
    where = "unclassified (closed)" if entry is None else f"{entry.route_class.value} {entry.route}"
    if entry is not None and entry.handler:
        where += f" handler={entry.handler} ({'served' if entry.handler in HANDLERS else 'missing'})"
    body = (call.body or "")[:200].replace("\n", " ")
    return f"[{call.view}] {call.method} {call.url} -> {call.status} [{where}] {body}"


def _refused_wrongly(call: Call, role: str) -> bool:
    if call.status not in (401, 403):
        return False
    entry = _classify(call)
    if entry is None:
        return True
    if (role, entry.route) in LITELLMS_OWN_REFUSALS and '"hint"' not in (call.body or ""):
        return False  # LiteLLM's refusal, not Atrium's (whose error body always carries a hint)
    return not (entry.route_class is RouteClass.SUPER_ADMIN and entry.route in TOLERATED)


def _write_calls(walk: Walk) -> None:
    out: dict[str, Any] = {"seconds": round(walk.seconds, 1), "needles_of_b": len(walk.needles), "roles": {}}
    for role, result in walk.roles.items():
        views: dict[str, Any] = {}
        for view in result.views:
            calls = []
            for call in view.calls:
                entry = _classify(call)
                calls.append(
                    {
                        **call.summary(),
                        "route": entry.route if entry else None,
                        "class": entry.route_class.value if entry else None,
                        "handler": entry.handler if entry else None,
                        "handler_served": bool(entry and entry.handler in HANDLERS),
                    }
                )
            views[view.name] = {
                "page": view.page,
                "url": view.url,
                "idle": view.idle,
                "seconds": view.seconds,
                "error": view.error,
                "screenshot": str(Path(view.screenshot).relative_to(REPO_ROOT)),
                "calls": calls,
            }
        out["roles"][role] = {"failure": result.failure, "nav": [vars(n) for n in result.nav], "views": views}
    (ARTIFACTS / "calls.json").write_text(json.dumps(out, indent=1))


# --- the walk, once per module -----------------------------------------------------------


@pytest.fixture(scope="module")
def walk(proxy: ProxyProcess, master_key: str, database_url: str) -> Iterator[Walk]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install chromium` (make test installs it as root)")
    base = proxy.base_url
    a = build_account(base, master_key, "walka", with_model=True)
    b = build_account(base, master_key, "walkb", with_model=True)
    _people_and_data(base, a, extra_chats=0)
    _people_and_data(base, b, extra_chats=2)
    settled(lambda: _both(database_url, a.account_id, b.account_id), what="the walk accounts' spend")
    needles = asyncio.run(account_needles(database_url, b.account_id))
    needles.update({canary: "AccountWorld.canaries" for canary in b.canaries})
    own = asyncio.run(_own_request(database_url, a.account_id))
    emails = {"admin": f"admin@{a.slug}.example", "member": f"member@{a.slug}.example"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            roles = {role: _walk_role(browser, base, role, emails[role], own) for role in ROLES}
        finally:
            browser.close()
    result = Walk(a, b, needles, own, roles, time.monotonic() - started)
    _write_calls(result)
    yield result


def _role(walk: Walk, role: str) -> RoleWalk:
    result = walk.roles[role]
    if result.failure:
        pytest.fail(f"the {role}'s walk broke: {result.failure} (see test-artifacts/ui-walk/{role}/failure.png)")
    return result


def test_tolerated_routes_are_super_admin_routes() -> None:
    """A tolerated 403 must be a route the policy keeps from tenants on purpose, not a missing handler."""
    entries = {route: POLICY.lookup(route) for route in TOLERATED}
    wrong = {route: entry and entry.route_class.value for route, entry in entries.items()}
    wrong = {route: cls for route, cls in wrong.items() if cls != RouteClass.SUPER_ADMIN.value}
    assert not wrong, f"TOLERATED lists routes that are not super_admin in routes.toml: {wrong}"


def test_navigation_pages_are_pages_of_the_export(walk: Walk) -> None:
    """The parameters below come from the static export; a menu entry outside it would go unchecked."""
    for role in ROLES:
        pages = {link.page for link in _role(walk, role).nav if link.page is not None}
        assert pages, f"the {role} saw no menu"
        assert pages <= set(PAGES), f"{role}'s menu opens pages the export lacks: {sorted(pages - set(PAGES))}"


@pytest.mark.parametrize("role", ROLES)
def test_the_walk_shows_the_accounts_own_data(walk: Walk, role: str) -> None:
    """The leak checks mean something only if the pages show data: A's own key, team and request."""
    texts: dict[str, str] = {}
    for view in _role(walk, role).views:  # the page with its views (the Logs detail shows the request id)
        texts[view.page] = texts.get(view.page, "") + view.text
    expected = {
        "api-keys": f"{walk.a.slug}-member-key",
        "teams": f"{walk.a.slug}-team",
        "logs": walk.own["request_id"],
    }
    missing = {page: text for page, text in expected.items() if text not in texts.get(page, "")}
    assert not missing, f"the {role} does not see A's own data on: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p or "index")
@pytest.mark.parametrize("role", ROLES)
def test_page(walk: Walk, role: str, page: str) -> None:
    result = _role(walk, role)
    views = [view for view in result.views if view.page == page]
    if not views:
        pytest.skip(f"not in the {role}'s navigation")
    problems: list[str] = []
    for view in views:
        if view.error:
            problems.append(f"[{view.name}] the view did not open: {view.error}")
        if CRASHED in view.text:
            problems.append(f"[{view.name}] the page crashed: {CRASHED}")
        for call in view.calls:
            if call.status >= 500:
                problems.append("5xx: " + _describe(call))
            elif _refused_wrongly(call, role):
                problems.append("refused: " + _describe(call))
            for needle in found_in(call.body or "", walk.needles):
                problems.append(f"B's {walk.needles[needle]} {needle!r} in {_describe(call)}")
        for needle in found_in(view.text, walk.needles):
            problems.append(f"[{view.name}] B's {walk.needles[needle]} {needle!r} in the page text")
    assert not problems, f"{role} on /ui/{page}/ ({len(problems)} problems):\n" + "\n".join(problems)
