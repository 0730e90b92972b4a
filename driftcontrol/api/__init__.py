"""The REST API (/api/v1/): authentication, errors, pagination, schema, and the core
resources (tokens, webhooks, audit events)."""
