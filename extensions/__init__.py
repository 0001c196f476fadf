"""Atrium: a multi-tenant enterprise layer for the unmodified LiteLLM proxy.

The package is organised by idea: ``tenancy`` (context, resolution, scoped DB),
``auth``, ``routes``, ``db`` (migrations, pools), ``prisma_engine`` (the offline
engine) and ``litellm`` (the only module touching LiteLLM internals).
"""

__version__ = "0.1.0"
