"""Per request: the principal, credential resolution, the middleware and its check pipeline."""
