"""Accounts: the store (create, suspend, delete, admins) and the cache-invalidation bus."""
