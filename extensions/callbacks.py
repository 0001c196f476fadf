"""Atrium's LiteLLM callback, registered by import path in every worker's config."""

from __future__ import annotations

from typing import Any

from extensions.litellm_adapter import custom_logger_class

__all__ = ["AtriumCallback", "atrium_callback"]


class AtriumCallback(custom_logger_class()):  # type: ignore[misc]
    """Counts what it sees so ``/atrium/status`` can prove it is live in each worker."""

    def __init__(self) -> None:
        super().__init__()
        self.successes = 0

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.successes += 1


atrium_callback = AtriumCallback()
