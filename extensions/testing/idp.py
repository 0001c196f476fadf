"""Test identity providers: a real OpenID Provider on loopback, and what breaks one.

- :class:`OidcIdp` runs panva's ``oidc-provider`` (OpenID Certified, ``oidc_idp/idp.mjs``)
  with the given clients and users.
- :class:`TamperingIdp` sits in front of an :class:`OidcIdp`: its discovery document is the
  real one with the token endpoint and JWKS pointing at itself, so it can alter the
  id_token a correct IdP would never send (wrong audience, expired, unsigned, nonce
  mismatch, foreign key). Tokens are re-signed with joserfc, never by hand.
- :class:`SilentServer` accepts TCP connections and never answers (an IdP that hangs).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from extensions.testing.fake_upstream import free_port
from extensions.testing.processes import ProcessExited, stop_process, wait_until_answering

__all__ = ["IDP_DIR", "IdpClient", "IdpUser", "OidcIdp", "SilentServer", "TamperingIdp"]

IDP_DIR = Path(__file__).resolve().parent / "oidc_idp"


@dataclass
class IdpClient:
    client_id: str
    client_secret: str
    redirect_uris: list[str]


@dataclass
class IdpUser:
    email: str
    password: str
    groups: list[str] = field(default_factory=list)
    email_verified: bool = True


class OidcIdp:
    def __init__(self, clients: list[IdpClient], users: list[IdpUser], log_dir: Path | None = None) -> None:
        self.port = free_port()
        self.clients = clients
        self.users = users
        self.log_path = (log_dir or Path(os.environ.get("ATRIUM_TEST_LOG_DIR", "."))) / f"idp-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> OidcIdp:
        if not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=IDP_DIR, check=True)
        config = {
            "port": self.port,
            "clients": [vars(c) for c in self.clients],
            "users": [vars(u) for u in self.users],
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            ["node", str(IDP_DIR / "idp.mjs")],
            env={**os.environ, "IDP_CONFIG": json.dumps(config)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            if wait_until_answering(f"{self.issuer}/.well-known/openid-configuration", self._proc, timeout):
                return self
        except ProcessExited as exc:
            raise RuntimeError(f"IdP exited: {self.log_path.read_text(errors='replace')}") from exc
        self.stop()
        raise RuntimeError(f"IdP did not start in {timeout}s")

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


Tamper = Callable[[dict[str, Any]], dict[str, Any]]


class TamperingIdp:
    """Forwards to ``idp`` and, in a given ``mode``, replaces the id_token in token responses."""

    MODES = ("pass", "wrong_aud", "expired", "unsigned", "nonce", "foreign_key", "wrong_iss", "no_email", "hang")

    def __init__(self, idp: OidcIdp) -> None:
        self.idp = idp
        self.port = free_port()
        self.mode = "pass"
        self.key = RSAKey.generate_key(2048, {"kid": "tamper-published", "use": "sig", "alg": "RS256"})
        self.foreign = RSAKey.generate_key(2048, {"kid": "tamper-published", "alg": "RS256"})  # same kid, unpublished
        self._server: ThreadingHTTPServer | None = None
        self.released = threading.Event()  # set to let hanging requests go

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def _resign(self, original: str) -> str:
        claims: dict[str, Any] = dict(jwt.decode(original, self._upstream_keys()).claims)
        now = int(time.time())
        header = {"alg": "RS256", "kid": "tamper-published"}
        if self.mode == "wrong_aud":
            claims["aud"] = "someone-else"
        elif self.mode == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif self.mode == "nonce":
            claims["nonce"] = "not-the-nonce-we-sent"
        elif self.mode == "wrong_iss":
            claims["iss"] = "https://evil.example"
        elif self.mode == "no_email":
            claims.pop("email", None)
        elif self.mode == "unsigned":
            from joserfc import jws

            # alg "none" is only available from a registry that allows it explicitly.
            registry = jws.JWSRegistry(algorithms=["none"])
            return jws.serialize_compact({"alg": "none"}, json.dumps(claims), None, registry=registry)  # type: ignore[arg-type]
        elif self.mode == "foreign_key":
            return jwt.encode(header, claims, self.foreign)
        return jwt.encode(header, claims, self.key)

    def _upstream_keys(self) -> Any:
        from joserfc.jwk import KeySet

        jwks = httpx.get(f"{self.idp.issuer}/jwks", timeout=5).json()
        return KeySet.import_key_set(jwks)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path.startswith("/.well-known/openid-configuration"):
                    meta = httpx.get(f"{outer.idp.issuer}/.well-known/openid-configuration", timeout=5).json()
                    meta["token_endpoint"] = f"{outer.url}/token"
                    meta["jwks_uri"] = f"{outer.url}/jwks"
                    self._send(200, json.dumps(meta).encode())
                elif self.path.startswith("/jwks"):
                    upstream = httpx.get(f"{outer.idp.issuer}/jwks", timeout=5).json()
                    keys = [*upstream["keys"], outer.key.as_dict(private=False)]
                    self._send(200, json.dumps({"keys": keys}).encode())
                else:
                    self._send(404, b"{}")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if outer.mode == "hang":
                    outer.released.wait(30)  # an IdP whose token endpoint stops answering
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                upstream = httpx.post(f"{outer.idp.issuer}/token", content=body, headers=headers, timeout=10)
                payload = upstream.json()
                if upstream.status_code == 200 and outer.mode != "pass" and "id_token" in payload:
                    payload["id_token"] = outer._resign(payload["id_token"])
                self._send(upstream.status_code, json.dumps(payload).encode())

        return Handler

    def start(self) -> TamperingIdp:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class SilentServer:
    """Listens and never accepts: connections succeed, requests never get an answer."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.sock.close()
