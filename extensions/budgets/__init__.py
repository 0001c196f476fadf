"""Budgets, plans and limits of an account: named plans with entitlements, per-account rate limits."""
