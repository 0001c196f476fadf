"""The egress policy in-process: addresses, names, schemes, allow-list entries, redirects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from extensions.egress.policy import EgressPolicy, EgressRefused
from extensions.egress.transport import guarded_transport

# Every class the policy refuses by default, in each notation an attacker may pick.
FORBIDDEN = [
    "127.0.0.1", "127.1.2.3", "0.0.0.0", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "224.0.0.1", "255.255.255.255", "[::1]", "[::]", "[fe80::1]", "[fc00::1]",
    "[fd00:ec2::254]", "[ff02::1]", "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]",
    "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::1]", "[::127.0.0.1]",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "[2606:2800:220:1:248:1893:25c8:1946]"]


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def fixed(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver answering from ``table`` (a hostname's DNS as the test wants it)."""

    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [])

    return resolve


@pytest.mark.parametrize("host", FORBIDDEN)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_private_and_special_addresses_are_refused_by_default(host: str, scheme: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        run(EgressPolicy().check(f"{scheme}://{host}:8080/v1", "litellm_params.api_base"))
    assert refused.value.status == 400 and "litellm_params.api_base" in refused.value.message


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_pass(host: str) -> None:
    destination = run(EgressPolicy().check(f"https://{host}/v1", "api_base"))
    assert destination.addresses


@pytest.mark.parametrize("url", ["ftp://93.184.216.34/", "file:///etc/passwd", "gopher://93.184.216.34/", "//x", "x"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(EgressRefused):
        run(EgressPolicy().check(url, "api_base"))


def test_names_are_judged_by_every_address_they_resolve_to() -> None:
    policy = EgressPolicy()
    dns = fixed(
        {"internal.example": ["10.0.0.7"], "mixed.example": ["93.184.216.34", "169.254.169.254"],
         "public.example": ["93.184.216.34"], "mapped.example": ["::ffff:10.0.0.7"]}
    )  # fmt: skip
    for name in ("internal.example", "mixed.example", "mapped.example"):
        with pytest.raises(EgressRefused):
            run(policy.check(f"https://{name}/", "issuer", resolver=dns))
    assert run(policy.check("https://public.example/", "issuer", resolver=dns)).addresses == ("93.184.216.34",)
    with pytest.raises(EgressRefused):  # at connect time a name that does not resolve is refused
        run(policy.check("https://nowhere.example/", "issuer", resolver=dns))
    assert run(policy.check("https://nowhere.example/", "issuer", resolver=dns, unresolvable_ok=True))


def test_localhost_resolves_to_loopback_and_is_refused_even_when_127_0_0_1_is_listed() -> None:
    policy = EgressPolicy.parse("127.0.0.1")
    with pytest.raises(EgressRefused):
        run(policy.check("http://localhost:9/", "api_base"))
    assert run(policy.check("http://127.0.0.1:9/", "api_base")).addresses == ("127.0.0.1",)
    for other in ("http://127.0.0.2:9/", "http://[::1]:9/", "http://2130706433:9/", "http://0x7f000001:9/"):
        with pytest.raises(EgressRefused):
            run(policy.check(other, "api_base"))


def test_allow_list_entries() -> None:
    policy = EgressPolicy.parse(" 10.1.0.0/16, llm.internal:8443 ,fd12::/64")
    dns = fixed({"llm.internal": ["10.9.9.9"], "in-range.example": ["10.1.2.3"]})
    assert run(policy.check("https://llm.internal:8443/v1", "api_base", resolver=dns))
    with pytest.raises(EgressRefused):  # the listed host, another port
        run(policy.check("https://llm.internal/v1", "api_base", resolver=dns))
    assert run(policy.check("http://in-range.example/", "api_base", resolver=dns))
    assert run(policy.check("http://[::ffff:10.1.0.9]/", "api_base"))  # mapped form of an allowed address
    assert run(policy.check("http://[fd12::5]/", "api_base"))
    with pytest.raises(EgressRefused):
        run(policy.check("http://10.2.0.1/", "api_base"))


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []
    location = ""

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", type(self).location)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[type[_Recorder], int]]:
    handler = type("Handler", (_Recorder,), {"hits": [], "location": ""})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, server.server_address[1]
    server.shutdown()


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://localhost:{port}/ok"])
def test_redirect_hops_are_checked(recorder: tuple[type[_Recorder], int], target: str) -> None:
    handler, port = recorder
    handler.location = target.format(port=port)
    policy = EgressPolicy.parse("127.0.0.1")

    async def fetch() -> None:
        async with httpx.AsyncClient(
            transport=guarded_transport("discovery", policy=policy), follow_redirects=True
        ) as client:
            await client.get(f"http://127.0.0.1:{port}/redirect")

    with pytest.raises(EgressRefused):
        run(fetch())
    assert handler.hits == ["/redirect"]  # the refused hop never reached anything (localhost is this server)


def test_allowed_hops_are_followed_and_pinned(recorder: tuple[type[_Recorder], int]) -> None:
    handler, port = recorder
    handler.location = f"http://127.0.0.1:{port}/ok"

    async def fetch() -> httpx.Response:
        transport = guarded_transport("discovery", policy=EgressPolicy.parse("127.0.0.1"))
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as client:
            return await client.get(f"http://127.0.0.1:{port}/redirect")

    assert run(fetch()).status_code == 200
    assert handler.hits == ["/redirect", "/ok"]
