"""Every refused sign-in is a clear error and leaves no session: no cookie, no key minted."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from identity_support import PASSWORD, IdentityWorld, SsoAccount, sso_session

from extensions.testing.sso import browserless_client, idp_login, session_cookie

_DASHBOARD_KEYS = """SELECT count(*) FROM "LiteLLM_VerificationToken" WHERE team_id = 'litellm-dashboard'"""


async def _count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(_DASHBOARD_KEYS))
    finally:
        await conn.close()


@pytest.fixture
def no_new_session(database_url: str) -> Iterator[None]:
    """The test must not mint any UI session key."""
    import asyncio

    before = asyncio.run(_count(database_url))
    yield
    assert asyncio.run(_count(database_url)) == before, "a refused sign-in minted a session key"


def assert_refused(response: httpx.Response, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert session_cookie(response) is None
    error = response.json()["error"]
    assert error["code"] == code and error["hint"], error
    assert fragment in error["message"], error


def _start(world: IdentityWorld, account: SsoAccount) -> str:
    return f"{world.base_url}/atrium/sso/start?account={account.slug}"


def _callback(world: IdentityWorld, account: SsoAccount, email: str) -> str:
    with browserless_client() as client:
        return idp_login(client, _start(world, account), email, PASSWORD)


def test_unknown_state_is_refused(identity: IdentityWorld, no_new_session: None) -> None:
    response = httpx.get(f"{identity.base_url}/atrium/sso/callback", params={"state": "forged", "code": "x"})
    assert_refused(response, 401, "login_rejected", "state")


def test_missing_state_is_refused(identity: IdentityWorld, no_new_session: None) -> None:
    assert_refused(httpx.get(f"{identity.base_url}/atrium/sso/callback", params={"code": "x"}), 401, "login_rejected")


def test_replayed_callback_is_refused(identity: IdentityWorld) -> None:
    callback = _callback(identity, identity.a, identity.a.email("alice"))
    first = httpx.get(callback)
    assert first.status_code == 303 and session_cookie(first)
    assert_refused(httpx.get(callback), 401, "login_rejected", "already used")


def test_replayed_code_with_a_fresh_state_is_refused(identity: IdentityWorld, database_url: str) -> None:
    used = _callback(identity, identity.a, identity.a.email("alice"))
    assert httpx.get(used).status_code == 303
    old_code = parse_qs(urlsplit(used).query)["code"][0]
    with browserless_client() as client:
        start = client.get(_start(identity, identity.a))
        fresh_state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    import asyncio

    before = asyncio.run(_count(database_url))
    response = httpx.get(f"{identity.base_url}/atrium/sso/callback", params={"state": fresh_state, "code": old_code})
    assert_refused(response, 401, "login_rejected", "refused the authorization code")
    assert asyncio.run(_count(database_url)) == before


def test_idp_error_is_reported_and_consumes_the_state(identity: IdentityWorld, no_new_session: None) -> None:
    with browserless_client() as client:
        start = client.get(_start(identity, identity.a))
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    url = f"{identity.base_url}/atrium/sso/callback"
    denied = httpx.get(url, params={"state": state, "error": "access_denied"})
    assert_refused(denied, 401, "login_rejected", "access_denied")
    assert_refused(httpx.get(url, params={"state": state, "code": "x"}), 401, "login_rejected", "already used")


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [
        ("wrong_aud", "aud"),
        ("expired", "exp"),
        ("unsigned", "signature"),
        ("nonce", "nonce"),
        ("foreign_key", "signature"),
        ("wrong_iss", "iss"),
        ("no_email", "no email"),
    ],
)
def test_tampered_id_token_is_refused(identity: IdentityWorld, no_new_session: None, mode: str, fragment: str) -> None:
    identity.tamper.mode = mode
    try:
        callback = _callback(identity, identity.t, identity.t.email("tess"))
        response = httpx.get(callback)
    finally:
        identity.tamper.mode = "pass"
    assert_refused(response, 401, "login_rejected", fragment)


def test_untampered_front_signs_in(identity: IdentityWorld) -> None:
    """Control for the cases above: through the same front, an honest token works."""
    response = httpx.get(_callback(identity, identity.t, identity.t.email("tess")))
    assert response.status_code == 303 and session_cookie(response)


def test_email_outside_the_allowed_domains_is_refused(identity: IdentityWorld, no_new_session: None) -> None:
    callback = _callback(identity, identity.a, f"mallory@outside-{identity.a.slug.split('-')[-1]}.example")
    assert_refused(httpx.get(callback), 401, "login_rejected", "outside the domains")


def test_unverified_email_is_refused(identity: IdentityWorld, no_new_session: None) -> None:
    callback = _callback(identity, identity.a, identity.a.email("unverified"))
    assert_refused(httpx.get(callback), 401, "login_rejected", "not verified")


def test_suspended_account_cannot_sign_in(identity: IdentityWorld, no_new_session: None) -> None:
    acc = identity.s
    pending = _callback(identity, acc, acc.email("sue"))  # started while active
    with identity.root() as root:
        assert root.post("/account/suspend", json={"account_id": acc.account_id}).status_code == 200
    try:
        assert_refused(httpx.get(pending), 401, "login_rejected", "suspended")
        assert _public_answer(httpx.get(_start(identity, acc))) == NO_SSO
    finally:
        with identity.root() as root:
            root.post("/account/reactivate", json={"account_id": acc.account_id})


def _public_answer(response: httpx.Response) -> tuple[int, dict[str, str]]:
    assert session_cookie(response) is None
    error = response.json()["error"]
    return response.status_code, {k: v for k, v in error.items() if k != "request_id"}


NO_SSO = (
    404,
    {
        "code": "sso_not_configured",
        "message": "single sign-on is not available for this address",
        "hint": "sign in with your password at /ui/login, or ask your administrator",
        "type": "sso_not_configured",
    },
)


def test_sso_start_answers_alike_for_every_account_that_cannot_start(
    identity: IdentityWorld, no_new_session: None
) -> None:
    """Unauthenticated: unknown slug or domain, no SSO, IdP down (timeout, closed port): one answer."""
    url = f"{identity.base_url}/atrium/sso/start"
    cases = {
        "unknown slug": {"account": "no-such-account-slug"},
        "unknown domain": {"email": "x@no-such-domain-here.example"},
        "password-only account": {"account": identity.pw.slug},
        "password-only domain": {"email": identity.pw.email("x")},
        "IdP never answers": {"account": identity.down.slug},
        "IdP port closed": {"account": identity.closed.slug},
    }
    answers = {case: _public_answer(httpx.get(url, params=params, timeout=60)) for case, params in cases.items()}
    assert all(answer == NO_SSO for answer in answers.values()), answers
    for response_text in (str(a) for a in answers.values()):
        assert "http" not in response_text  # no discovery URL of any IdP


def test_a_session_of_a_never_opens_b(identity: IdentityWorld) -> None:
    _, alice_key = sso_session(identity, identity.a.email("alice"))
    response = httpx.get(
        f"{identity.base_url}/atrium/sso/config",
        headers={"Authorization": f"Bearer {alice_key}", "X-Atrium-Account": identity.b.account_id},
    )
    # The account header is the super admin's only; anyone else sending it is refused.
    assert response.status_code == 403
    assert identity.b.client_id not in response.text


def test_response_from_another_issuer_is_refused(identity: IdentityWorld, no_new_session: None) -> None:
    """RFC 9207 mix-up defence: a code that says it comes from IdP B is not exchanged at A's IdP."""
    callback = urlsplit(_callback(identity, identity.a, identity.a.email("alice")))
    query = parse_qs(callback.query)
    assert query["iss"] == [identity.idp_a.issuer]  # oidc-provider sends iss (RFC 9207)
    forged = {**{k: v[0] for k, v in query.items()}, "iss": identity.idp_b.issuer}
    response = httpx.get(callback._replace(query="").geturl(), params=forged)
    assert_refused(response, 401, "login_rejected", "issuer")


def test_token_endpoint_that_stops_answering_times_out(identity: IdentityWorld, no_new_session: None) -> None:
    callback = _callback(identity, identity.t, identity.t.email("tess"))
    identity.tamper.mode = "hang"
    identity.tamper.released.clear()
    try:
        response = httpx.get(callback, timeout=60)
    finally:
        identity.tamper.mode = "pass"
        identity.tamper.released.set()
    assert_refused(response, 504, "idp_unreachable", "token exchange")
