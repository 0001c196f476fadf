"""One error format on Atrium's routes: validation, NUL characters, bounded echoes, derived slugs.

Every refusal of an Atrium route is ``{"error": {"code", "message", "hint", "type", "request_id"}}``;
LiteLLM's routes (and Atrium's replacements of them) keep LiteLLM's own form.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from extensions.errors import ECHO_LIMIT, NotFound, echo
from extensions.testing.proxy_process import ProxyProcess

KEYS = {"code", "message", "hint", "type", "request_id"}


@pytest.fixture(scope="module")
def root(proxy: ProxyProcess, master_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def anonymous(proxy: ProxyProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.base_url, timeout=30) as c:
        yield c


def atrium_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of an Atrium answer, after checking status and the one format."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert KEYS <= set(error), error
    assert error["type"] == error["code"] and error["message"]
    assert error["request_id"] and error["request_id"] == response.headers.get("x-request-id"), error
    return error


def test_echo_is_bounded() -> None:
    assert echo("abc") == "'abc'"
    long = echo("x" * 5000)
    assert long.endswith("\u2026") and len(long) <= ECHO_LIMIT + 3
    assert NotFound("m" * 5000).response_body("r")["error"]["message"].endswith("\u2026")
    assert NotFound("m").response_body("r")["error"]["hint"] is None  # the key is always there


def test_validation_errors_are_atrium_errors_naming_the_field(root: httpx.Client) -> None:
    missing = atrium_error(root.post("/account/new", json={"slug": f"s-{uuid.uuid4().hex[:8]}"}), 422)
    assert missing["code"] == "invalid_request" and missing["param"] == "name"
    assert missing["message"].startswith("name:") and missing["hint"]
    wrong_type = atrium_error(root.post("/account/new", json={"name": "Ok", "email_domains": "x.example"}), 422)
    assert wrong_type["param"] == "email_domains"
    nested = atrium_error(root.post("/account/new", json={"name": "Ok", "email_domains": ["d" * 300]}), 422)
    assert nested["param"] == "email_domains.0"
    query = atrium_error(root.get("/account/info"), 422)
    assert query["param"] == "account_id"


def test_long_input_is_refused_without_echoing_it(root: httpx.Client) -> None:
    slug = "a" * 5000
    error = atrium_error(root.post("/account/new", json={"name": "Long", "slug": slug}), 422)
    assert error["param"] == "slug" and "63" in error["message"]
    response = root.post("/account/new", json={"name": "n" * 5000})
    assert atrium_error(response, 422)["param"] == "name"
    for answer in (error, response.json()["error"]):
        assert "a" * 100 not in str(answer) and "n" * 100 not in str(answer)


def test_echoed_values_are_truncated(root: httpx.Client) -> None:
    unknown = "z" * 120  # within the 128-character id limit, over the echo limit
    error = atrium_error(root.get("/account/info", params={"account_id": unknown}), 404)
    assert "z" * ECHO_LIMIT in error["message"] and unknown not in error["message"]
    assert "\u2026" in error["message"]


def test_bad_json_is_an_atrium_error(root: httpx.Client) -> None:
    response = root.post("/account/new", content=b"{not json", headers={"content-type": "application/json"})
    assert "not valid JSON" in atrium_error(response, 422)["message"]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "nul\u0000name"},
        {"name": "Fine", "slug": "sl\u0000ug"},
        {"name": "Fine", "settings": {"deep": ["ok", {"k": "v\u0000"}]}},
        {"name": "Fine", "settings": {"key\u0000": 1}},
        {"name": "Fine", "email_domains": ["a\u0000.example"]},
    ],
)
def test_nul_in_json_is_400_before_the_database(root: httpx.Client, payload: dict[str, Any]) -> None:
    before = len(root.get("/account/list").json()["accounts"])
    error = atrium_error(root.post("/account/new", json=payload), 400)
    assert error["code"] == "invalid_character" and "NUL" in error["message"]
    assert len(root.get("/account/list").json()["accounts"]) == before  # nothing was written


def test_nul_in_query_and_for_anonymous_is_400(root: httpx.Client, anonymous: httpx.Client) -> None:
    assert atrium_error(root.get("/account/info", params={"account_id": "a\u0000b"}), 400)["code"] == (
        "invalid_character"
    )
    assert atrium_error(anonymous.post("/v2/login/resolve", json={"email": "a\u0000@b.example"}), 400)
    form = anonymous.post("/atrium/login", data={"email": "x\u0000@y.example"})
    assert atrium_error(form, 400)["code"] == "invalid_character"


def test_refusals_before_the_handler_share_the_format(anonymous: httpx.Client, root: httpx.Client) -> None:
    assert atrium_error(anonymous.get("/account/list"), 401)["code"] == "authentication_required"
    assert atrium_error(root.get("/account/list", params={"status": "frozen"}), 400)["code"] == "bad_request"


def test_errors_about_the_derived_slug_say_so(root: httpx.Client) -> None:
    name = f"Derived {uuid.uuid4().hex[:8]}"
    assert root.post("/account/new", json={"name": name}).status_code == 200
    taken = atrium_error(root.post("/account/new", json={"name": name}), 409)
    assert "the slug derived from the name" in taken["message"] and "explicitly" in taken["hint"]
    invalid = atrium_error(root.post("/account/new", json={"name": "!!!"}), 400)
    assert "the slug derived from the name" in invalid["message"]
    explicit = atrium_error(root.post("/account/new", json={"name": "Ok", "slug": "Bad Slug!"}), 400)
    assert "derived" not in explicit["message"]


def test_litellm_routes_keep_litellm_validation_form(root: httpx.Client) -> None:
    # /team/new validates its body with FastAPI: LiteLLM's clients expect FastAPI's own 422 there.
    response = root.post("/team/new", json={"models": "not-a-list"})
    assert response.status_code == 422, response.text
    assert "detail" in response.json()


def test_lone_surrogates_are_refused_as_input(root: httpx.Client) -> None:
    # JSON may escape a lone surrogate; PostgreSQL's UTF-8 text cannot hold it.
    for raw in (b'{"name": "x\\ud800y"}', b'{"name": "Ok", "settings": {"k": "\\udfff"}}'):
        response = root.post("/account/new", content=raw, headers={"content-type": "application/json"})
        assert atrium_error(response, 400)["code"] == "invalid_character", response.text
    # An escaped surrogate *pair* is an ordinary character (an emoji): accepted.
    name = f"Rocket {uuid.uuid4().hex[:6]}"
    raw = ('{"name": "' + name + ' \\ud83d\\ude80"}').encode()
    created = root.post("/account/new", content=raw, headers={"content-type": "application/json"})
    assert created.status_code == 200 and created.json()["name"] == f"{name} \U0001f680", created.text


def test_bodies_are_bounded(root: httpx.Client) -> None:
    settings = {f"k{i}": "v" * 1000 for i in range(90)}  # under the key limit, over the body limit
    error = atrium_error(root.post("/account/new", json={"name": "Big", "settings": settings}), 413)
    assert error["code"] == "body_too_large" and "KiB" in error["message"]
