"""What Atrium measures per account on top of LiteLLM's own metering."""
