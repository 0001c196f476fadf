"""Tenancy: who is calling, what the route allows them, and which rows they may touch.

- :mod:`~extensions.tenancy.request`: per request: the principal (context), credential resolution,
  the middleware that transports one decision, and the isolation-check pipeline.
- :mod:`~extensions.tenancy.policy`: what a tenant may do and send: the route table and its
  decision, guarded fields, configuration values, id references, taken ids, end-user namespace.
- :mod:`~extensions.tenancy.data`: the database seen by a tenant: scoped Prisma, the raw-SQL guard,
  the table registry and the triggers that stamp ``account_id``.
- :mod:`~extensions.tenancy.accounts`: the account store and the bus that invalidates its caches.

Nothing here imports a feature package (auth, models, routes): ``extensions.app`` composes.
"""
