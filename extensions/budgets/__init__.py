"""Account budgets, plans and limits.

``settings`` (the budget of an account), ``periods`` (which period a moment falls in),
``ledger`` (the PostgreSQL ledger: leases, flushes, sweeps), ``slices`` (a worker's leased share
of an account's budget, spent in memory), ``admission`` (LiteLLM's
callback side: worst case in, real cost out), ``alerts`` + ``delivery`` + ``alert_config``
(threshold alerts, claimed once per period, delivered from an outbox by webhook and email),
``plans`` + ``entitlements`` (named plans, creation limits, features), ``rate_limits``
(per-account RPM/TPM in Redis, per-worker fallback).
"""
