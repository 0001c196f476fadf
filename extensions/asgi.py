"""ASGI entry point served by ``atrium serve``: LiteLLM's app with Atrium installed.

uvicorn imports this module in every worker process, so the additions are live in all
of them (patching LiteLLM's module and calling its CLI would be lost with N workers).
"""

from __future__ import annotations

from extensions.app import build_app

app = build_app()
