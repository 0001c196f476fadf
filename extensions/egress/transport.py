"""HTTP transports that apply the egress policy on every connection, redirects included.

Each request (and so each redirect hop, which the client sends as a new request) is
resolved and checked, then connected to the checked address: the URL's host is replaced
by the address, the ``Host`` header keeps the name and TLS verifies the name (httpcore's
``sni_hostname``), so a DNS answer that changes between check and connect (rebinding)
cannot steer the connection elsewhere.

Works for ``httpx`` and ``httpx2`` (authlib's client) alike: both share httpx's transport API.
"""

from __future__ import annotations

from typing import Any

import httpx

from extensions.egress.policy import EgressPolicy, EgressRefused, Resolver, current_policy

__all__ = ["EgressRefused", "guarded_transport", "guarded_transport_httpx2"]


async def _pin(request: Any, policy: EgressPolicy, resolver: Resolver | None, field: str) -> None:
    destination = await policy.check(str(request.url), field, resolver=resolver)
    address = destination.addresses[0]
    if request.url.host != address:
        request.extensions = {**request.extensions, "sni_hostname": destination.host}
        request.url = request.url.copy_with(host=address)


class _Guard:
    """The shared part: check and pin, then hand the request to the real transport."""

    def __init__(self, inner: Any, policy: EgressPolicy | None, resolver: Resolver | None, field: str) -> None:
        self._inner = inner
        self._policy = policy
        self._resolver = resolver
        self._field = field

    async def _send(self, request: Any) -> Any:
        await _pin(request, self._policy or current_policy(), self._resolver, self._field)
        return await self._inner.handle_async_request(request)


class _HttpxGuard(_Guard, httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self._send(request)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_transport(
    field: str, *, policy: EgressPolicy | None = None, resolver: Resolver | None = None, **kwargs: Any
) -> httpx.AsyncBaseTransport:
    """An ``httpx`` transport that refuses (:class:`EgressRefused`) what the policy refuses."""
    return _HttpxGuard(httpx.AsyncHTTPTransport(**kwargs), policy, resolver, field)


def guarded_transport_httpx2(
    field: str, *, policy: EgressPolicy | None = None, resolver: Resolver | None = None, **kwargs: Any
) -> Any:
    """The same for ``httpx2`` (authlib >= 1.7 sends token requests with it)."""
    import httpx2

    class _Httpx2Guard(_Guard, httpx2.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            return await self._send(request)

        async def aclose(self) -> None:
            await self._inner.aclose()

    return _Httpx2Guard(httpx2.AsyncHTTPTransport(**kwargs), policy, resolver, field)
