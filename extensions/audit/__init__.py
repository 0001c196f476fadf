"""The audit log: every state-changing request, per account a hash chain (docs/audit.md)."""
