"""Tenant-scoped usage analytics: the admin UI's Home and Usage pages, one account's figures.

:mod:`.daily` serves LiteLLM's daily-activity routes (user, team, tag, customer), :mod:`.tags` the
user-agent tab; :mod:`.scope`, :mod:`.access`, :mod:`.sql`, :mod:`.lookups` and :mod:`.fold` are
what they share (what a request reads, who sees what, the statements, the labels, the shape).
"""

from __future__ import annotations

from extensions.routes.replacements.usage.daily import get_daily_activity_router
from extensions.routes.replacements.usage.tags import get_tag_analytics_router

__all__ = ["get_daily_activity_router", "get_tag_analytics_router"]
