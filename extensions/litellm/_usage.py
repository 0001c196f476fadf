"""LiteLLM's usage analytics limits and markers, spelled once for Atrium's tenant-scoped copies.

Atrium serves the Home and Usage pages' daily-activity routes itself (``routes/replacements/usage``)
with LiteLLM's parameters and bounds, so a page that works against LiteLLM works against Atrium.
The values are written out (importing the proxy modules costs seconds); the contract check
compares each with LiteLLM's own, so an upgrade that moves a bound fails the contract test
instead of silently answering differently.
"""

from __future__ import annotations

from typing import Final

from extensions.litellm._base import Internal

__all__ = [
    "INTERNALS",
    "PTU_SENTINEL_API_KEY",
    "TAG_ANALYTICS_MAX_DAYS",
    "TAG_ANALYTICS_MAX_MONTHS",
    "TAG_ANALYTICS_MAX_TAGS",
    "TAG_ANALYTICS_MAX_WEEKS",
    "TEAM_AGGREGATED_MAX_RANGE_DAYS",
    "USAGE_CACHE_LEAKAGE_KEYS_DEFAULT",
    "USAGE_CACHE_LEAKAGE_KEYS_MAX",
    "USAGE_EXPORT_BATCH_SIZE",
    "USAGE_KEY_PAGE_DEFAULT",
    "USAGE_KEY_PAGE_MAX",
    "USAGE_KEY_SEARCH_DEFAULT",
    "USAGE_KEY_SEARCH_MAX",
    "USAGE_MODEL_TOP_KEYS_DEFAULT",
    "USAGE_MODEL_TOP_KEYS_MAX",
    "USAGE_TOP_API_KEYS_DEFAULT",
    "USAGE_TOP_API_KEYS_MAX",
    "USAGE_USER_PAGE_DEFAULT",
    "USAGE_USER_PAGE_MAX",
]

# The api_key of the daily rows that carry a PTU deployment's flat cost; never a key of anyone.
PTU_SENTINEL_API_KEY: Final = "__ptu_flat_cost__"
USAGE_TOP_API_KEYS_DEFAULT: Final = 100
USAGE_TOP_API_KEYS_MAX: Final = 1000
USAGE_KEY_PAGE_DEFAULT: Final = 50
USAGE_KEY_PAGE_MAX: Final = 100
USAGE_USER_PAGE_DEFAULT: Final = 50
USAGE_USER_PAGE_MAX: Final = 100
USAGE_KEY_SEARCH_DEFAULT: Final = 100
USAGE_KEY_SEARCH_MAX: Final = 100
USAGE_MODEL_TOP_KEYS_DEFAULT: Final = 5
USAGE_MODEL_TOP_KEYS_MAX: Final = 100
USAGE_CACHE_LEAKAGE_KEYS_DEFAULT: Final = 20
USAGE_CACHE_LEAKAGE_KEYS_MAX: Final = 100
USAGE_EXPORT_BATCH_SIZE: Final = 1000
TEAM_AGGREGATED_MAX_RANGE_DAYS: Final = 400
TAG_ANALYTICS_MAX_TAGS: Final = 250
TAG_ANALYTICS_MAX_DAYS: Final = 7
TAG_ANALYTICS_MAX_WEEKS: Final = 7
TAG_ANALYTICS_MAX_MONTHS: Final = 7

_CONSTANTS = "litellm.constants"
_TAGS = "litellm.proxy.management_endpoints.user_agent_analytics_endpoints"

INTERNALS: tuple[Internal, ...] = (
    Internal(_CONSTANTS, "PTU_SENTINEL_API_KEY", value=PTU_SENTINEL_API_KEY),
    Internal(_CONSTANTS, "USAGE_TOP_API_KEYS_DEFAULT", value=USAGE_TOP_API_KEYS_DEFAULT),
    Internal(_CONSTANTS, "USAGE_TOP_API_KEYS_MAX", value=USAGE_TOP_API_KEYS_MAX),
    Internal(_CONSTANTS, "USAGE_KEY_PAGE_DEFAULT", value=USAGE_KEY_PAGE_DEFAULT),
    Internal(_CONSTANTS, "USAGE_KEY_PAGE_MAX", value=USAGE_KEY_PAGE_MAX),
    Internal(_CONSTANTS, "USAGE_USER_PAGE_DEFAULT", value=USAGE_USER_PAGE_DEFAULT),
    Internal(_CONSTANTS, "USAGE_USER_PAGE_MAX", value=USAGE_USER_PAGE_MAX),
    Internal(_CONSTANTS, "USAGE_KEY_SEARCH_DEFAULT", value=USAGE_KEY_SEARCH_DEFAULT),
    Internal(_CONSTANTS, "USAGE_KEY_SEARCH_MAX", value=USAGE_KEY_SEARCH_MAX),
    Internal(_CONSTANTS, "USAGE_MODEL_TOP_KEYS_DEFAULT", value=USAGE_MODEL_TOP_KEYS_DEFAULT),
    Internal(_CONSTANTS, "USAGE_MODEL_TOP_KEYS_MAX", value=USAGE_MODEL_TOP_KEYS_MAX),
    Internal(_CONSTANTS, "USAGE_CACHE_LEAKAGE_KEYS_DEFAULT", value=USAGE_CACHE_LEAKAGE_KEYS_DEFAULT),
    Internal(_CONSTANTS, "USAGE_CACHE_LEAKAGE_KEYS_MAX", value=USAGE_CACHE_LEAKAGE_KEYS_MAX),
    Internal(_CONSTANTS, "USAGE_EXPORT_BATCH_SIZE", value=USAGE_EXPORT_BATCH_SIZE),
    Internal(
        "litellm.proxy.management_endpoints.team_endpoints",
        "_MAX_AGGREGATED_RANGE_DAYS",
        value=TEAM_AGGREGATED_MAX_RANGE_DAYS,
    ),
    Internal(_TAGS, "MAX_TAGS", value=TAG_ANALYTICS_MAX_TAGS),
    Internal(_TAGS, "MAX_DAYS", value=TAG_ANALYTICS_MAX_DAYS),
    Internal(_TAGS, "MAX_WEEKS", value=TAG_ANALYTICS_MAX_WEEKS),
    Internal(_TAGS, "MAX_MONTHS", value=TAG_ANALYTICS_MAX_MONTHS),
)
