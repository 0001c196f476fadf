"""Atrium's HTTP routers, each built by a ``get_<feature>_router`` factory."""
