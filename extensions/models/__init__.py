"""Per-account models: naming, the per-worker catalogue over LiteLLM's router, and the routing guard."""
