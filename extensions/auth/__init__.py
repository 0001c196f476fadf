"""Identity: email-first login, per-account OIDC SSO, super admins, trusted header, invitations.

Protocol work (discovery, PKCE, token exchange, id_token checks) is authlib's; this package
maps identities to accounts and mints LiteLLM's own UI session through ``extensions.litellm``.
"""
