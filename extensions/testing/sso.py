"""Drive a sign-in the way a browser does, with plain HTTP: Atrium -> IdP login form -> callback."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import httpx

__all__ = ["CALLBACK_PATH", "browserless_client", "idp_login", "session_cookie"]

CALLBACK_PATH = "/atrium/sso/callback"
_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def browserless_client() -> httpx.Client:
    """A fresh cookie jar, redirects followed by hand so each hop can be checked."""
    return httpx.Client(timeout=30, follow_redirects=False)


def idp_login(client: httpx.Client, start_url: str, email: str, password: str) -> str:
    """Run the IdP side of the flow; return the callback URL the IdP redirects to (not yet fetched)."""
    response = client.get(start_url)
    if response.status_code != 302:
        raise AssertionError(f"start: {response.status_code} {response.text}")
    url = response.headers["location"]
    for _ in range(12):
        if CALLBACK_PATH in url:
            return url
        response = client.get(url)
        if response.status_code == 200 and 'id="login"' in response.text:
            match = _ACTION.search(response.text)
            assert match is not None, response.text
            url = urljoin(url, html.unescape(match.group(1)))
            response = client.post(url, data={"login": email, "password": password})
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            continue
        raise AssertionError(f"IdP step {url}: {response.status_code} {response.text[:500]}")
    raise AssertionError("the IdP never redirected back")


def session_cookie(response: httpx.Response) -> str | None:
    """The LiteLLM UI session cookie a response sets, if any."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("token="):
            return header.split(";", 1)[0].removeprefix("token=")
    return None
