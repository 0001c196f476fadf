"""Egress policy: which addresses an account's configuration may make the gateway call.

``policy`` decides (write time and connect time), ``transport`` enforces it on the
gateway's own HTTP clients (IdP calls, redirects included), ``deployments`` on LLM calls
to an account's models just before LiteLLM connects.
"""

from __future__ import annotations

from extensions.egress.policy import ENV_VAR, Destination, EgressPolicy, EgressRefused, current_policy

__all__ = ["ENV_VAR", "Destination", "EgressPolicy", "EgressRefused", "current_policy"]
