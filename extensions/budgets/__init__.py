"""Account budgets: settings, periods, the spend ledger, and threshold alerts."""
