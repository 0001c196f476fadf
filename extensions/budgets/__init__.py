"""Account budgets: what an account may spend per period, reserved at admission, settled at the end.

``settings`` (the budget of an account), ``periods`` (which period a moment falls in),
``ledger`` (the PostgreSQL ledger: reserve, settle, release, leases), ``admission`` (LiteLLM's
callback side: worst case in, real cost out), ``alerts`` + ``delivery`` + ``alert_config``
(threshold alerts, claimed once per period, delivered from an outbox by webhook and email).
"""
