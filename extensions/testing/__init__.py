"""Test support shipped with the package (like django-tenants' TenantClient): real services only."""
