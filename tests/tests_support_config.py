"""The LiteLLM config every test proxy serves: two fake-upstream deployments with prices."""

from __future__ import annotations

from extensions.testing.fake_upstream import FakeUpstream


def gateway_config(upstream: FakeUpstream) -> dict:  # type: ignore[type-arg]
    return {
        "model_list": [
            {
                "model_name": "gpt-fake",
                "litellm_params": {
                    "model": "openai/gpt-fake",
                    "api_base": upstream.base_url,
                    "api_key": "sk-upstream-primary",
                    "input_cost_per_token": 0.001,
                    "output_cost_per_token": 0.002,
                },
            },
            {
                "model_name": "embed-fake",
                "litellm_params": {
                    "model": "openai/embed-fake",
                    "api_base": upstream.base_url,
                    "api_key": "sk-upstream-primary",
                },
            },
        ],
        # Write spend every second instead of every 10 s, so tests need not wait long.
        "general_settings": {"proxy_batch_write_at": 1},
    }
