"""Full id_token validation: signature via the IdP's JWKS, iss, aud, exp, iat, nonce, azp.

joserfc (authlib's JOSE engine) checks the signature with an explicit list of asymmetric
algorithms, so ``alg: none`` and HS256-with-the-public-key tricks never verify; authlib's
``CodeIDToken`` checks the OpenID claims. Nothing here parses or signs JWTs by hand.
"""

from __future__ import annotations

from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from extensions.auth.errors import LoginRejected

__all__ = ["SIGNING_ALGORITHMS", "validate_id_token"]

SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 60


def _allowed(metadata_algs: Any) -> list[str]:
    offered = [a for a in metadata_algs or ["RS256"] if a in SIGNING_ALGORITHMS]
    return offered or ["RS256"]


def validate_id_token(
    id_token: str,
    *,
    jwks: dict[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    metadata_algs: Any = None,
) -> dict[str, Any]:
    """The verified claims, or :class:`LoginRejected` saying which check failed."""
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS JSON object
    except (JoseError, ValueError, TypeError) as exc:
        raise LoginRejected(
            "the identity provider's JWKS is unusable",
            hint="check the IdP's jwks_uri; no session was created",
            reason="jwks_unusable",
        ) from exc
    registry = JWSRegistry(algorithms=_allowed(metadata_algs))
    try:
        token = jwt.decode(id_token, key_set, registry=registry)
    except JoseError as exc:
        raise LoginRejected(
            f"the id_token signature is invalid or not allowed ({exc.error})",
            hint="the token must be signed by a key in the IdP's JWKS with an asymmetric algorithm; "
            "no session was created",
            reason="id_token_signature",
        ) from exc
    except (ValueError, TypeError) as exc:
        raise LoginRejected(
            "the id_token is malformed", hint="no session was created", reason="id_token_malformed"
        ) from exc
    params: dict[str, Any] = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(
        token.claims,
        token.header,
        {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}},
        params,
    )
    try:
        claims.validate(leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        claim = getattr(exc, "claim", None) or exc.error
        raise LoginRejected(
            f"the id_token failed validation: {exc.description or exc.error} ({claim})",
            hint="the IdP must issue a fresh token for this client (iss, aud, exp, nonce); no session was created",
            claim=str(claim),
            reason="id_token_claims",
        ) from exc
    if claims.get("email_verified") in (False, "false"):  # some IdPs send the string
        raise LoginRejected(
            "the identity provider says this email is not verified",
            hint="verify the email at your IdP first",
            reason="email_unverified",
        )
    return dict(claims)
