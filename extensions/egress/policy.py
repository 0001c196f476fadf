"""The operator's one policy for addresses an account may make the gateway connect to.

An account configures URLs the gateway then calls from inside the operator's network: a
model's ``api_base``, its IdP's issuer, discovery, JWKS and token endpoints. Without a
policy those reach the cloud metadata service (169.254.169.254, fd00:ec2::254), the
database, Redis, or the gateway itself. Default: only publicly routable unicast addresses,
over http or https. ``ATRIUM_EGRESS_ALLOW`` (comma list) widens it:

- a CIDR (``10.1.0.0/16``, ``fd12::/64``) allows those addresses, whatever name resolves there;
- ``host`` or ``host:port`` (``127.0.0.1:8080``, ``llm.internal``) allows that exact host as
  written in the URL (``localhost`` does not match ``127.0.0.1``).

A hostname is allowed only if EVERY address it resolves to is allowed, and IPv6 forms that
embed an IPv4 address (mapped, NAT64, 6to4, Teredo) are judged by what they embed too.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from extensions.errors import ConfigurationError, RequestError

__all__ = [
    "ENV_VAR",
    "Destination",
    "EgressPolicy",
    "EgressRefused",
    "IPAddress",
    "Resolver",
    "current_policy",
    "system_resolver",
]

ENV_VAR = "ATRIUM_EGRESS_ALLOW"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_MAX_ECHO = 200  # URLs are echoed bounded


class EgressRefused(RequestError):
    code = "egress_refused"
    status = 400


def _shown(url: str) -> str:
    return url if len(url) <= _MAX_ECHO else url[: _MAX_ECHO - 3] + "..."


def _refuse(field_name: str, url: str, why: str) -> EgressRefused:
    return EgressRefused(
        f"{field_name}: {_shown(url)!r} {why}",
        hint=f"use a public http(s) address, or ask the operator to allow it in {ENV_VAR}",
        field=field_name,
    )


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(ip: IPAddress) -> Iterator[IPAddress]:
    """``ip`` and every IPv4 address an IPv6 form of it carries."""
    yield ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            yield ip.ipv4_mapped
        if ip.sixtofour is not None:
            yield ip.sixtofour
        if ip.teredo is not None:
            yield from ip.teredo
        if ip in _NAT64:
            yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if int(ip) >> 32 == 0 and int(ip) > 1:  # deprecated IPv4-compatible ::a.b.c.d
            yield ipaddress.IPv4Address(int(ip))


def _public(ip: IPAddress) -> bool:
    # is_global excludes private, loopback, link-local, CGNAT (100.64/10), ULA, reserved,
    # unspecified and documentation ranges; multicast is "global" for Python but never a server.
    return all(form.is_global and not form.is_multicast for form in _embedded(ip))


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return None


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]  # resolved and allowed; connect to one of these


@dataclass(frozen=True)
class EgressPolicy:
    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, raw: str | None) -> EgressPolicy:
        networks: list[IPNetwork] = []
        hosts: set[tuple[str, int | None]] = set()
        for item in (part.strip() for part in (raw or "").split(",")):
            if not item:
                continue
            try:
                if "/" in item:
                    networks.append(ipaddress.ip_network(item, strict=False))
                    continue
                parts = urlsplit(f"//{item}")
                if not parts.hostname:
                    raise ValueError("no host")
                hosts.add((parts.hostname.rstrip(".").lower(), parts.port))
            except ValueError as exc:
                raise ConfigurationError(
                    f"{ENV_VAR}: {item!r} is neither a CIDR nor host[:port]",
                    hint="e.g. 10.0.0.0/8,llm.internal:8443",
                ) from exc
        return cls(tuple(networks), frozenset(hosts))

    def host_listed(self, host: str, port: int) -> bool:
        return (host, port) in self.hosts or (host, None) in self.hosts

    def address_allowed(self, ip: IPAddress) -> bool:
        if _public(ip):
            return True
        return any(form in net for form in _embedded(ip) for net in self.networks if form.version == net.version)

    async def check(
        self,
        url: object,
        field_name: str,
        *,
        resolver: Resolver | None = None,
        unresolvable_ok: bool = False,
    ) -> Destination:
        """Refuse (400, naming ``field_name``) a URL the gateway must not connect to.

        ``unresolvable_ok`` (write time): a name that does not resolve now is accepted, since
        every connection checks again; at connect time it is refused.
        """
        if not isinstance(url, str):
            raise _refuse(field_name, str(url)[:_MAX_ECHO], "is not a URL")
        text = url.strip()
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise _refuse(field_name, text, "is not a valid URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise _refuse(field_name, text, "must be an http or https URL")
        host = (parts.hostname or "").rstrip(".").lower()
        if not host:
            raise _refuse(field_name, text, "has no host")
        port = port or (443 if scheme == "https" else 80)
        literal = _ip(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = await (resolver or system_resolver)(host, port)
            except (OSError, UnicodeError):
                addresses = []
            if not addresses:
                if unresolvable_ok:
                    return Destination(scheme, host, port, ())
                raise _refuse(field_name, text, "does not resolve")
        if not self.host_listed(host, port):
            for address in addresses:
                ip = _ip(address)
                if ip is None or not self.address_allowed(ip):
                    raise _refuse(field_name, text, "points to a private, loopback, link-local or reserved address")
        return Destination(scheme, host, port, tuple(addresses))


@functools.cache
def current_policy() -> EgressPolicy:
    """The policy of this process, read once from the environment."""
    return EgressPolicy.parse(os.environ.get(ENV_VAR))
