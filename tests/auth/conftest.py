"""One identity gateway for the package: an `atrium serve` with SSO, super-admin, trusted-proxy
and SMTP settings, two real OpenID Providers (one per account), a tampering front for the
negative id_token cases, and a local SMTP server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from identity_support import PASSWORD, IdentityWorld, SsoAccount
from tests_support_config import gateway_config

from extensions.testing.fake_upstream import FakeUpstream, free_port
from extensions.testing.idp import IdpClient, IdpUser, OidcIdp, SilentServer, TamperingIdp
from extensions.testing.proxy_process import ProxyProcess
from extensions.testing.smtp import MailCatcher

SUFFIX = uuid.uuid4().hex[:6]


def _account(slug: str, client_id: str) -> SsoAccount:
    return SsoAccount(slug, "", f"{slug}.example", client_id, f"secret-{client_id}-{SUFFIX}")


@pytest.fixture(scope="package")
def identity(
    workdir: Path, database_url: str, redis_url: str, upstream: FakeUpstream, master_key: str
) -> Iterator[IdentityWorld]:
    accounts = {
        name: _account(f"{name}-{SUFFIX}", f"atrium-{name}") for name in ("a", "b", "t", "s", "down", "closed", "pw")
    }
    a, b = accounts["a"], accounts["b"]
    mail = MailCatcher().start()
    proxy = ProxyProcess(
        workdir,
        database_url=database_url,
        redis_url=redis_url,
        master_key=master_key,
        config=gateway_config(upstream),
        workers=1,
        extra_env={
            "SUPER_ADMIN_EMAILS": f"boss@{a.domain},boss@{b.domain}",
            "ATRIUM_TRUSTED_PROXIES": "127.0.0.1",
            "ATRIUM_OIDC_TIMEOUT": "2",
            "ATRIUM_SMTP_HOST": "127.0.0.1",
            "ATRIUM_SMTP_PORT": str(mail.port),
            "ATRIUM_SMTP_FROM": "atrium@gateway.example",
            "ATRIUM_SMTP_STARTTLS": "false",
        },
    )
    callback = f"{proxy.base_url}/atrium/sso/callback"
    idp_a = OidcIdp(
        [IdpClient(acc.client_id, acc.client_secret, [callback]) for acc in (a, accounts["t"], accounts["s"])],
        [
            IdpUser(a.email("alice"), PASSWORD),
            IdpUser(a.email("ada"), PASSWORD, groups=["atrium-admins"]),
            IdpUser(a.email("boss"), PASSWORD),
            IdpUser(a.email("unverified"), PASSWORD, email_verified=False),
            IdpUser(f"mallory@outside-{SUFFIX}.example", PASSWORD),
            IdpUser(accounts["t"].email("tess"), PASSWORD),
            IdpUser(accounts["s"].email("sue"), PASSWORD),
        ],
    ).start()
    idp_b = OidcIdp(
        [IdpClient(b.client_id, b.client_secret, [callback])],
        # IdP B also vouches for an address of account A: B's admin controls B's IdP.
        [IdpUser(b.email("bob"), PASSWORD), IdpUser(b.email("boss"), PASSWORD), IdpUser(a.email("alice"), PASSWORD)],
    ).start()
    tamper = TamperingIdp(idp_a).start()
    silent = SilentServer()
    proxy.start()
    world = IdentityWorld(
        proxy.base_url, master_key, idp_a, idp_b, tamper, silent, mail, a, b, accounts["t"], accounts["s"],
        accounts["down"], accounts["closed"], accounts["pw"],
    )  # fmt: skip
    sso = {
        "a": (idp_a.issuer, None),
        "b": (idp_b.issuer, None),
        "t": (idp_a.issuer, tamper.discovery_url),
        "s": (idp_a.issuer, None),
        "down": (silent.url, f"{silent.url}/.well-known/openid-configuration"),
        "closed": (f"http://127.0.0.1:{free_port()}", None),
    }
    try:
        with world.root() as root:
            for name, acc in accounts.items():
                created = root.post(
                    "/account/new", json={"name": acc.slug, "slug": acc.slug, "email_domains": [acc.domain]}
                )
                assert created.status_code == 200, created.text
                acc.account_id = created.json()["account_id"]
                if name in sso:
                    issuer, discovery = sso[name]
                    body = {
                        "issuer": issuer,
                        "discovery_url": discovery,
                        "client_id": acc.client_id,
                        "client_secret": acc.client_secret,
                        "scopes": "openid email profile groups",
                        "admin_values": ["atrium-admins"],
                    }
                    configured = root.post(
                        "/atrium/sso/config", json=body, headers={"X-Atrium-Account": acc.account_id}
                    )
                    assert configured.status_code == 200, configured.text
        yield world
    finally:
        proxy.stop()
        tamper.stop()
        silent.stop()
        idp_a.stop()
        idp_b.stop()
        mail.stop()
