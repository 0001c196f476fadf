"""The database as a tenant sees it: scoped Prisma, raw-SQL guard, table registry, account stamping."""
