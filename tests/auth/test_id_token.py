"""id_token validation on its own: every check that protects the callback, with real keys."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import OctKey, RSAKey

from extensions.auth.errors import LoginRejected
from extensions.auth.id_token import validate_id_token

ISSUER, CLIENT, NONCE = "https://idp.example", "client-1", "nonce-1"
KEY = RSAKey.generate_key(2048, {"kid": "k1", "alg": "RS256", "use": "sig"})
JWKS = {"keys": [KEY.as_dict(private=False)]}


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "u1", "aud": CLIENT, "iat": now, "exp": now + 300, "nonce": NONCE}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, payload, key)


def check(token: str) -> dict[str, Any]:
    return validate_id_token(token, jwks=JWKS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE)


def test_a_correct_token_passes() -> None:
    assert check(signed(claims(email="a@b.example")))["email"] == "a@b.example"


def test_audience_list_containing_the_client_passes() -> None:
    assert check(signed(claims(aud=[CLIENT], azp=CLIENT)))["sub"] == "u1"


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (claims(aud="other-client"), "aud"),
        (claims(aud=["other-client"], azp=CLIENT), "aud"),
        (claims(iss="https://evil.example"), "iss"),
        (claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), "exp"),
        (claims(nonce="replayed"), "nonce"),
        (claims(nonce=None), "nonce"),
        (claims(sub=None), "sub"),
        (claims(email_verified=False), "not verified"),
    ],
)
def test_bad_claims_are_refused(payload: dict[str, Any], fragment: str) -> None:
    with pytest.raises(LoginRejected) as caught:
        check(signed(payload))
    assert fragment in caught.value.message


def test_alg_none_is_refused() -> None:
    registry = jws.JWSRegistry(algorithms=["none"])
    with pytest.warns(Warning):
        token = jws.serialize_compact({"alg": "none"}, json.dumps(claims()), None, registry=registry)  # type: ignore[arg-type]
    with pytest.raises(LoginRejected, match="signature"):
        check(token)


def test_symmetric_algorithms_are_refused() -> None:
    """HS256 never verifies (the key-confusion attack signs with the IdP's public key material)."""
    token = jwt.encode({"alg": "HS256", "kid": "k1"}, claims(), OctKey.generate_key(256))
    with pytest.raises(LoginRejected, match="signature"):
        check(token)


def test_a_key_outside_the_jwks_is_refused() -> None:
    stranger = RSAKey.generate_key(2048, {"kid": "k1", "alg": "RS256"})
    with pytest.raises(LoginRejected, match="signature"):
        check(signed(claims(), key=stranger))
