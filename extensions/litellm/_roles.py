"""LiteLLM's user roles (``LitellmUserRoles``), spelled once.

The values are written out rather than read from the enum at import time because importing
``litellm`` costs seconds and ``atrium doctor`` must answer before it; the contract check
(doctor, serve and ``tests/litellm``) compares each constant with the enum member it names,
so a renamed role fails start-up instead of silently granting the wrong rights.
"""

from __future__ import annotations

from typing import Final

from extensions.litellm._base import Internal

__all__ = [
    "INTERNALS",
    "PROXY_ADMIN_USER_ID",
    "ROLE_INTERNAL_USER",
    "ROLE_INTERNAL_USER_VIEWER",
    "ROLE_PROXY_ADMIN",
    "ROLE_PROXY_ADMIN_VIEWER",
]

ROLE_PROXY_ADMIN: Final = "proxy_admin"
ROLE_PROXY_ADMIN_VIEWER: Final = "proxy_admin_viewer"
ROLE_INTERNAL_USER: Final = "internal_user"
ROLE_INTERNAL_USER_VIEWER: Final = "internal_user_viewer"
# The user id LiteLLM gives the master key (``litellm_proxy_admin_name``): the operator's own user.
PROXY_ADMIN_USER_ID: Final = "default_user_id"

INTERNALS: tuple[Internal, ...] = (
    Internal("litellm.proxy._types", "LitellmUserRoles.PROXY_ADMIN", value=ROLE_PROXY_ADMIN),
    Internal("litellm.proxy._types", "LitellmUserRoles.PROXY_ADMIN_VIEW_ONLY", value=ROLE_PROXY_ADMIN_VIEWER),
    Internal("litellm.proxy._types", "LitellmUserRoles.INTERNAL_USER", value=ROLE_INTERNAL_USER),
    Internal("litellm.proxy._types", "LitellmUserRoles.INTERNAL_USER_VIEW_ONLY", value=ROLE_INTERNAL_USER_VIEWER),
    Internal("litellm.constants", "LITELLM_PROXY_ADMIN_NAME", value=PROXY_ADMIN_USER_ID),
    Internal("litellm.proxy.proxy_server", "litellm_proxy_admin_name", value=PROXY_ADMIN_USER_ID),
)
