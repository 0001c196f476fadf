"""Sign-in throttling: every Atrium sign-in surface answers 429 + Retry-After past its limit, per
source address and per account, and the count is one across the two workers sharing Redis.

One `atrium serve` (2 workers, the session's Redis) with low limits. Requests leave from
127.0.0.2, a trusted proxy here, and name the client in X-Forwarded-For: every test uses
addresses nobody used before, so counters of earlier tests or runs (the Redis outlives the
session) never meet it.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from tests_support_config import gateway_config

from extensions.auth.throttle import UNKNOWN_SOURCE, Purpose, SigninThrottle, SigninThrottled, source_address
from extensions.settings import SigninLimits
from extensions.testing.fake_upstream import FakeUpstream
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher
from extensions.testing.sso import session_cookie

FAILURES_PER_ADDRESS = 3
FAILURES_PER_ACCOUNT = 5
ATTEMPTS_PER_ADDRESS = 4
ATTEMPTS_PER_ACCOUNT = 6
BLOCK_SECONDS = 600  # long windows and blocks: nothing may expire while a test runs
PASSWORD = "Throttle-Pass-42!"
_LINK = re.compile(r"(http://\S+/atrium/invitation/accept\?\S+)")


@dataclass
class World:
    proxy: ProxyProcess
    mail: MailCatcher
    a: tuple[str, str]  # (account_id, slug)
    b: tuple[str, str]

    def client(self, source: str) -> httpx.Client:
        """A client the gateway sees as ``source`` (via the trusted proxy 127.0.0.2)."""
        transport = httpx.HTTPTransport(local_address="127.0.0.2")
        return httpx.Client(
            base_url=self.proxy.base_url, transport=transport, headers={"X-Forwarded-For": source}, timeout=30
        )

    def root(self, account_id: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.proxy.master_key}"}
        if account_id:
            headers["X-Atrium-Account"] = account_id
        return httpx.Client(base_url=self.proxy.base_url, headers=headers, timeout=30)


def fresh_address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture(scope="module")
def world(workdir: Path, database_url: str, redis_url: str, upstream: FakeUpstream, master_key: str) -> Iterator[World]:
    mail = MailCatcher().start()
    proxy = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=master_key,
        config=gateway_config(upstream),
        workers=2,
        extra_env={
            "ATRIUM_TRUSTED_PROXIES": "127.0.0.2",
            "ATRIUM_SIGNIN_MAX_FAILURES_PER_ADDRESS": str(FAILURES_PER_ADDRESS),
            "ATRIUM_SIGNIN_MAX_FAILURES_PER_ACCOUNT": str(FAILURES_PER_ACCOUNT),
            "ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ADDRESS": str(ATTEMPTS_PER_ADDRESS),
            "ATRIUM_SIGNIN_MAX_ATTEMPTS_PER_ACCOUNT": str(ATTEMPTS_PER_ACCOUNT),
            "ATRIUM_SIGNIN_WINDOW_SECONDS": str(BLOCK_SECONDS),
            "ATRIUM_SIGNIN_BLOCK_SECONDS": str(BLOCK_SECONDS),
            "ATRIUM_SMTP_HOST": "127.0.0.1",
            "ATRIUM_SMTP_PORT": str(mail.port),
            "ATRIUM_SMTP_STARTTLS": "false",
        },
    )
    proxy.start()
    try:
        accounts = []
        with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}) as root:
            for name in ("a", "b"):
                slug = f"thr-{name}-{uuid.uuid4().hex[:6]}"
                body = {"name": slug, "slug": slug, "email_domains": [f"{slug}.example"]}
                created = root.post("/account/new", json=body, timeout=30)
                assert created.status_code == 200, created.text
                accounts.append((created.json()["account_id"], slug))
        yield World(proxy, mail, accounts[0], accounts[1])
    finally:
        proxy.stop()
        mail.stop()


def assert_throttled(response: httpx.Response, litellm_form: bool = False) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= BLOCK_SECONDS
    error = response.json()["error"]
    if litellm_form:  # LiteLLM's own error body on its own routes
        assert error["message"] == "Too many failed sign-in attempts. Try again later.", error
        assert str(error["code"]) == "429"
    else:
        assert error["code"] == "too_many_signin_attempts" and error["hint"], error
    assert session_cookie(response) is None


# -- the source address -----------------------------------------------------------------------


def test_forwarded_for_counts_only_behind_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUM_TRUSTED_PROXIES", "10.9.0.0/16")
    forwarded = {"x-forwarded-for": "203.0.113.9, 198.51.100.4, 10.9.0.7"}
    # The right-most hop that is not a trusted proxy: the left of the header is the client's own text.
    assert source_address("10.9.0.1", forwarded) == "198.51.100.4"
    assert source_address("192.0.2.1", forwarded) == "192.0.2.1"  # untrusted peer: its header is ignored
    assert source_address("::ffff:192.0.2.1", {}) == "192.0.2.1"
    assert source_address("2001:db8:1:2:3:4:5:6", {}) == "2001:db8:1:2::/64"
    assert source_address(None, forwarded) == UNKNOWN_SOURCE
    monkeypatch.delenv("ATRIUM_TRUSTED_PROXIES")
    assert source_address("10.9.0.1", forwarded) == "10.9.0.1"  # default: trust nobody's header


def test_without_redis_each_worker_still_limits() -> None:
    """The in-process fallback (no Redis, or Redis down) keeps the same rules within one worker."""
    limits = SigninLimits(failures_per_address=2, failures_per_account=3, block_seconds=30)
    throttle = SigninThrottle(limits, redis_url=None)

    async def scenario() -> None:
        for _ in range(2):
            await throttle.admit(Purpose.INVITATION, "addr", "192.0.2.1")
            await throttle.record_failure(Purpose.INVITATION, "addr", "192.0.2.1")
        with pytest.raises(SigninThrottled) as refused:
            await throttle.admit(Purpose.INVITATION, "addr", "192.0.2.1")
        assert 0 < refused.value.retry_after <= 30 and refused.value.headers["Retry-After"]
        await throttle.admit(Purpose.INVITATION, "addr", "192.0.2.2")  # another address
        await throttle.admit(Purpose.SSO_CALLBACK, "addr", "192.0.2.1")  # another surface

    asyncio.run(scenario())


# -- failures: refused past the limit, per address ----------------------------------------------


def _unknown() -> str:
    """A name no account has, new each time, so only the address's counter fills."""
    return uuid.uuid4().hex[:12]


def _bad_invitation(c: httpx.Client, slug: str) -> httpx.Response:
    return c.post("/atrium/invitation/accept", data={"account": slug, "token": "x" * 20, "password": PASSWORD})


FAILURES = {
    "sso_callback": (lambda c: c.get("/atrium/sso/callback", params={"state": _unknown(), "code": "x"}), 401),
    "trusted_header": (
        lambda c: c.get("/atrium/login/proxy", headers={"X-Forwarded-Email": f"x@{_unknown()}.example"}), 401
    ),
    "invitation_open": (
        lambda c: c.get("/atrium/invitation/accept", params={"account": _unknown(), "token": "x"}), 410
    ),
    "invitation_accept": (lambda c: _bad_invitation(c, _unknown()), 410),
    "onboarding_get": (lambda c: c.get("/onboarding/get_token", params={"invite_link": _unknown()}), 401),
    "onboarding_claim": (
        lambda c: c.post(
            "/onboarding/claim_token", json={"invitation_link": _unknown(), "user_id": "u", "password": PASSWORD}
        ),
        401,
    ),
}  # fmt: skip


@pytest.mark.parametrize("surface", sorted(FAILURES))
def test_failures_past_the_limit_are_refused_per_address(world: World, surface: str) -> None:
    fail, status = FAILURES[surface]
    with world.client(fresh_address()) as c:
        for _ in range(FAILURES_PER_ADDRESS):
            response = fail(c)
            assert response.status_code == status, response.text
        assert_throttled(fail(c), litellm_form=surface.startswith("onboarding"))
    with world.client(fresh_address()) as c:  # another address is not affected
        assert fail(c).status_code == status


# -- attempts: rate-limited where nothing can fail ---------------------------------------------

ATTEMPTS = {
    "resolve": (lambda c, email: c.post("/v2/login/resolve", json={"email": email}), 200),
    "login_form": (lambda c, email: c.post("/atrium/login", data={"email": email}), 303),
    "sso_start": (lambda c, email: c.get("/atrium/sso/start", params={"email": email}), 404),
}


@pytest.mark.parametrize("surface", sorted(ATTEMPTS))
def test_attempts_past_the_limit_are_refused_per_address(world: World, surface: str) -> None:
    attempt, status = ATTEMPTS[surface]
    address = fresh_address()
    with world.client(address) as c:
        for _ in range(ATTEMPTS_PER_ADDRESS):  # a different domain each time: the address counts, not the account
            response = attempt(c, f"user@{uuid.uuid4().hex[:8]}.example")
            assert response.status_code == status, response.text
        refused = attempt(c, f"user@{uuid.uuid4().hex[:8]}.example")
    if surface == "login_form":  # the HTML form answers in HTML, with the same status and header
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Too many sign-in attempts" in refused.text
    else:
        assert_throttled(refused)
    with world.client(fresh_address()) as c:
        assert attempt(c, f"user@{uuid.uuid4().hex[:8]}.example").status_code == status


# -- per account: one account's attacker, from many addresses, locks out only that account ------


def test_sso_start_is_limited_per_account(world: World) -> None:
    (_, slug_a), (_, slug_b) = world.a, world.b
    for _ in range(ATTEMPTS_PER_ACCOUNT):  # one attempt per address: only the account's counter fills
        with world.client(fresh_address()) as c:
            assert c.get("/atrium/sso/start", params={"account": slug_a}).status_code == 404
    with world.client(fresh_address()) as c:
        assert_throttled(c.get("/atrium/sso/start", params={"account": slug_a}))
        assert c.get("/atrium/sso/start", params={"account": slug_b}).status_code == 404  # B is not affected
        assert c.get("/atrium/sso/start", params={"email": f"x@{slug_b}.example"}).status_code == 404


def _invite(world: World, account_id: str, email: str) -> dict[str, str]:
    with world.root(account_id) as admin:
        created = admin.post("/atrium/invitation/new", json={"email": email})
    assert created.status_code == 200, created.text
    body = world.mail.wait_for(email).get_body(preferencelist=("plain",))
    assert body is not None
    match = _LINK.search(body.get_content())
    assert match, body.get_content()
    query = parse_qs(urlsplit(match.group(1)).query)
    return {"account": query["account"][0], "token": query["token"][0], "password": PASSWORD}


def test_invitations_are_limited_per_account_and_success_works_below_the_limit(world: World) -> None:
    (account_a, slug_a), (account_b, slug_b) = world.a, world.b
    invitation_b = _invite(world, account_b, f"newcomer@{slug_b}.example")
    with world.client(fresh_address()) as c:  # below the address limit, a right token still works
        assert _bad_invitation(c, slug_a).status_code == 410
        accepted = c.post("/atrium/invitation/accept", data=invitation_b)
        assert accepted.status_code == 303, accepted.text
        assert session_cookie(accepted)
    for _ in range(FAILURES_PER_ACCOUNT - 1):  # with the one above, A's counter is full; no address's is
        with world.client(fresh_address()) as c:
            assert _bad_invitation(c, slug_a).status_code == 410
    invitation_a = _invite(world, account_a, f"late@{slug_a}.example")
    with world.client(fresh_address()) as c:
        assert_throttled(c.post("/atrium/invitation/accept", data=invitation_a))  # even the right token
        assert _bad_invitation(c, slug_b).status_code == 410  # B answers as usual


def test_trusted_header_success_below_the_limit(world: World) -> None:
    with world.client(fresh_address()) as c:
        refused = c.get("/atrium/login/proxy", headers={"X-Forwarded-Email": f"x@{_unknown()}.example"})
        assert refused.status_code == 401
        signed_in = c.get("/atrium/login/proxy", headers={"X-Forwarded-Email": f"tina@{world.a[1]}.example"})
        assert signed_in.status_code == 303, signed_in.text
        assert session_cookie(signed_in)


def test_onboarding_success_below_the_limit(world: World) -> None:
    account_id, slug = world.a
    user_id = f"{slug}-onboard-{uuid.uuid4().hex[:6]}"
    with world.root() as root:  # LiteLLM's invitations are made by an account admin, as in the UI
        added = root.post("/account/admin/add", json={"account_id": account_id, "user_id": f"{slug}-admin"})
        assert added.status_code == 200, added.text
    with world.root(account_id) as acting:
        generated = acting.post("/key/generate", json={"user_id": f"{slug}-admin"})
        assert generated.status_code == 200, generated.text
    admin_key = generated.json()["key"]
    with httpx.Client(base_url=world.proxy.base_url, headers={"Authorization": f"Bearer {admin_key}"}) as admin:
        made = admin.post("/user/new", json={"user_id": user_id, "user_email": f"{user_id}@{slug}.example"})
        assert made.status_code == 200, made.text
        link = admin.post("/invitation/new", json={"user_id": user_id})
        assert link.status_code == 200, link.text
    with world.client(fresh_address()) as c:
        assert c.get("/onboarding/get_token", params={"invite_link": _unknown()}).status_code == 401
        opened = c.get("/onboarding/get_token", params={"invite_link": link.json()["id"]})
        assert opened.status_code == 200, opened.text


# -- across two workers ---------------------------------------------------------------------------


def _pids(log_path: Path, request_ids: set[str]) -> set[int]:
    """The worker processes that counted these requests' failures, from the proxy's JSON log."""
    pids: set[int] = set()
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and "sign-in failure counted" in line:
            entry = json.loads(line)
            if entry.get("request_id") in request_ids:
                pids.add(int(entry["pid"]))
    return pids


def test_the_limit_holds_across_two_workers(world: World) -> None:
    """Failures counted by BOTH workers add up to one limit: with per-worker counters neither
    worker would have reached it and the next attempt would pass."""

    def callback(address: str) -> tuple[str, httpx.Response]:
        request_id = uuid.uuid4().hex
        with world.client(address) as c:  # a new connection each: the kernel spreads them over the workers
            response = c.get("/atrium/sso/callback", params={"state": "forged"}, headers={"x-request-id": request_id})
        return request_id, response

    for _ in range(10):
        address = fresh_address()
        with ThreadPoolExecutor(FAILURES_PER_ADDRESS) as pool:
            counted = list(pool.map(callback, [address] * FAILURES_PER_ADDRESS))
        assert [r.status_code for _, r in counted] == [401] * FAILURES_PER_ADDRESS
        with ThreadPoolExecutor(4) as pool:
            after = list(pool.map(callback, [address] * 4))
        for _, response in after:
            assert_throttled(response)
        if len(_pids(world.proxy.log_path, {rid for rid, _ in counted})) == 2:
            return
    pytest.fail("the failures never landed on both workers; cannot show the shared count")


def test_a_throttled_sign_in_is_audited(world: World, database_url: str) -> None:
    """The 429 is in the audit log like any refused sign-in, from the client's address (the
    right-most X-Forwarded-For hop behind the trusted proxy), with its reason."""
    source = fresh_address()
    # An unknown account (a fresh slug): no earlier test's count of a known account can meet it.
    form = {"account": f"nobody-{uuid.uuid4().hex[:6]}", "token": "not-a-token", "password": PASSWORD}
    request_id = f"signin-throttled-{uuid.uuid4().hex}"
    with world.client(source) as client:
        for _ in range(FAILURES_PER_ADDRESS):
            assert client.post("/atrium/invitation/accept", data=form).status_code == 410
        throttled = client.post("/atrium/invitation/accept", data=form, headers={"x-request-id": request_id})
    assert_throttled(throttled)

    async def read() -> list[dict[str, object]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch('SELECT * FROM "Atrium_AuditLog" WHERE request_id = $1', request_id)
            return [dict(r) for r in rows]
        finally:
            await conn.close()

    [row] = asyncio.run(read())
    assert (row["action"], row["outcome"], row["status_code"], row["source_ip"], row["account_id"]) == (
        "invitation.accept", "refused", 429, source, "",
    )  # fmt: skip
    assert json.loads(str(row["changes"])) == {"reason": "too_many_signin_attempts"}
