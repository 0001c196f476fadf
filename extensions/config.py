"""The LiteLLM config Atrium serves: the user's config (or a demo) plus Atrium's callback and metrics label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from extensions.errors import ConfigurationError

__all__ = ["CALLBACK_PATH", "DEMO_MODEL", "effective_config", "write_effective_config"]

CALLBACK_PATH = "extensions.callbacks.atrium_callback"
# The litellm_settings entry that gives LiteLLM's Prometheus series the account label
# (extensions/litellm/_observability.py; spelled here to keep this module free of LiteLLM imports).
PROMETHEUS_LABEL_SETTING = "metadata.atrium_account_id"

DEMO_MODEL: dict[str, Any] = {
    "model_name": "demo",
    "litellm_params": {
        "model": "openai/demo",
        "api_key": "not-needed",
        "mock_response": "Hello from Atrium's demo model. Add real models with POST /model/new.",
    },
}


def effective_config(user_config: Path | None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if user_config is not None:
        try:
            loaded = yaml.safe_load(user_config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(
                f"cannot read LiteLLM config {user_config}: {exc}", hint="fix ATRIUM_CONFIG / --config"
            ) from exc
        if not isinstance(loaded, dict):
            raise ConfigurationError(f"{user_config} is not a YAML mapping", hint="see LiteLLM's config.yaml docs")
        config = loaded
    if not config.get("model_list") and user_config is None:
        config["model_list"] = [DEMO_MODEL]
    litellm_settings = config.setdefault("litellm_settings", {}) or {}
    config["litellm_settings"] = litellm_settings
    callbacks = list(litellm_settings.get("callbacks") or [])
    if CALLBACK_PATH not in callbacks:
        callbacks.append(CALLBACK_PATH)
    litellm_settings["callbacks"] = callbacks
    # The account label of LiteLLM's Prometheus series (harmless without its prometheus callback).
    labels = list(litellm_settings.get("custom_prometheus_metadata_labels") or [])
    if PROMETHEUS_LABEL_SETTING not in labels:
        labels.append(PROMETHEUS_LABEL_SETTING)
    litellm_settings["custom_prometheus_metadata_labels"] = labels
    general = config.setdefault("general_settings", {}) or {}
    config["general_settings"] = general
    general.setdefault("master_key", "os.environ/LITELLM_MASTER_KEY")
    general.setdefault("store_model_in_db", True)
    return config


def write_effective_config(user_config: Path | None, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "litellm_config.yaml"
    path.write_text(yaml.safe_dump(effective_config(user_config), sort_keys=False))
    return path
