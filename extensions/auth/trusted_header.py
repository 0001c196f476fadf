"""Trusted-header sign-in behind an auth proxy (oauth2-proxy style).

The proxy authenticates the person and forwards ``X-Forwarded-Email``; Atrium believes the
header only when the connection comes from an address in ``ATRIUM_TRUSTED_PROXIES``. With the
variable unset the mode is off. The peer address is the one uvicorn reports (it already
applied its own FORWARDED_ALLOW_IPS rule), so a client cannot spoof its way in with
X-Forwarded-For.
"""

from __future__ import annotations

import ipaddress
import os

from extensions.auth.errors import LoginRejected

__all__ = ["trusted_email", "trusted_proxy_networks"]

DEFAULT_HEADER = "X-Forwarded-Email"


def trusted_proxy_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The operator's proxies; the sign-in throttle reads X-Forwarded-For only from them."""
    raw = os.environ.get("ATRIUM_TRUSTED_PROXIES", "")
    return [ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()]


def trusted_email(peer: str | None, headers: dict[str, str]) -> str:
    networks = trusted_proxy_networks()
    if not networks:
        raise LoginRejected(
            "trusted-header sign-in is not enabled",
            hint="set ATRIUM_TRUSTED_PROXIES to the auth proxy's addresses",
            reason="trusted_header_disabled",
        )
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        address = None
    if address is None or not any(address in net for net in networks):
        raise LoginRejected(
            f"{peer or 'this address'} is not a trusted auth proxy",
            hint="sign in through the auth proxy; direct requests cannot use the trusted header",
            reason="untrusted_proxy",
        )
    name = (os.environ.get("ATRIUM_TRUSTED_EMAIL_HEADER") or DEFAULT_HEADER).lower()
    email = headers.get(name)
    if not email:
        raise LoginRejected(
            f"the auth proxy sent no {name} header",
            hint="configure the proxy to forward the email",
            reason="email_header_missing",
        )
    return email
