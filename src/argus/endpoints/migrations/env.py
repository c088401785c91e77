"""Alembic environment: runs on the connection that :func:`argus.endpoints.store.migrate` passes in."""

from __future__ import annotations

from alembic import context

from argus.endpoints.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
