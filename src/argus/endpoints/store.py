"""The control-plane store: endpoints, API keys, audit log and metric samples in SQL (SQLAlchemy).

SQLite under ``ARGUS_HOME`` by default, PostgreSQL (or any SQLAlchemy URL) through ``ARGUS_DATABASE_URL``.
The schema is owned by the Alembic migrations shipped in ``argus/endpoints/migrations``, applied by
:func:`migrate` when the store opens.

Example:
    >>> store = EndpointStore.open("sqlite://")  # doctest: +SKIP
    >>> store.list_endpoints("acme")  # doctest: +SKIP
    []
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from argus.endpoints.keys import Role, digest_of, new_key_id, new_secret
from argus.endpoints.secrets import SecretBox
from argus.endpoints.tables import (
    ApiKeyRow,
    AuditRow,
    EndpointRow,
    MetricSampleRow,
    utcnow,
)
from argus.errors import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        memory = not path or path == ":memory:"
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               poolclass=StaticPool if memory else None)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the controller's writes
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(_with_driver(url), pool_pre_ping=True)


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 2 to SQLAlchemy; use psycopg 3 when that is what is installed."""
    if url.startswith(("postgresql://", "postgres://")):
        import importlib.util

        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg") is not None:
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


@dataclass(frozen=True)
class CreatedKey:
    """A new key: the only moment its secret exists outside the caller."""

    row: ApiKeyRow
    secret: str


class EndpointStore:
    """Typed access to the control-plane tables. Thread-safe: each call uses its own session."""

    def __init__(self, engine: Engine, secrets: SecretBox) -> None:
        self.engine = engine
        self.secrets = secrets
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, secrets: SecretBox) -> EndpointStore:
        """Connect to ``url`` and apply the migrations; ``secrets`` seals endpoint secrets at rest."""
        engine = _engine(url)
        migrate(engine)
        return cls(engine, secrets)

    def _opened(self, row: EndpointRow) -> EndpointRow:
        """A detached row whose spec carries its secrets decrypted (callers never see ciphertext)."""
        row.spec = self.secrets.open(row.spec)
        return row

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success."""
        with self._sessions.begin() as session:
            yield session

    # ------------------------------------------------------------------ endpoints

    def create_endpoint(self, namespace: str, name: str, spec: dict[str, Any], *, target: int,
                        created_by: str) -> EndpointRow:
        """Insert an endpoint; :class:`ConflictError` when the name is taken in the namespace."""
        row = EndpointRow(namespace=namespace, name=name, spec=self.secrets.seal(spec), paused=False, target=target,
                          generation=1,
                          state="pending", message="Waiting for the controller", ready=0, created_by=created_by)
        try:
            with self.session() as session:
                session.add(row)
        except IntegrityError:
            raise ConflictError(f"An endpoint named '{name}' already exists in namespace '{namespace}'.") from None
        return self._opened(row)

    def get_endpoint(self, namespace: str, name: str) -> EndpointRow:
        """One endpoint, or :class:`NotFoundError`."""
        with self.session() as session:
            row = session.scalars(select(EndpointRow).where(EndpointRow.namespace == namespace,
                                                            EndpointRow.name == name)).one_or_none()
        if row is None:
            raise NotFoundError(f"No endpoint '{name}' in namespace '{namespace}'.")
        return self._opened(row)

    def list_endpoints(self, namespace: str | None = None) -> list[EndpointRow]:
        """Endpoints of ``namespace`` (all when None), by name."""
        query = select(EndpointRow).order_by(EndpointRow.namespace, EndpointRow.name)
        if namespace is not None:
            query = query.where(EndpointRow.namespace == namespace)
        with self.session() as session:
            rows = list(session.scalars(query))
        return [self._opened(row) for row in rows]

    def update_endpoint(self, endpoint_id: int, **values: Any) -> EndpointRow:
        """Set columns of one endpoint (``updated_at`` too unless given); the row after the change."""
        with self.session() as session:
            row = session.get(EndpointRow, endpoint_id)
            if row is None:
                raise NotFoundError(f"Endpoint {endpoint_id} was deleted.")
            for key, value in values.items():
                setattr(row, key, self.secrets.seal(value) if key == "spec" else value)
            if "updated_at" not in values:
                row.updated_at = utcnow()
        return self._opened(row)

    def delete_endpoint(self, endpoint_id: int) -> None:
        """Remove an endpoint and its metric samples."""
        with self.session() as session:
            session.execute(delete(MetricSampleRow).where(MetricSampleRow.endpoint_id == endpoint_id))
            session.execute(delete(EndpointRow).where(EndpointRow.id == endpoint_id))

    # ------------------------------------------------------------------ keys

    def create_key(self, namespace: str, *, name: str, role: Role, endpoints: list[str] | None,
                   created_by: str) -> CreatedKey:
        """A new key; its secret is returned once and only its digest is stored."""
        secret, digest = new_secret()
        row = ApiKeyRow(id=new_key_id(), namespace=namespace, name=name, role=role.value,
                        endpoints=sorted(set(endpoints)) if endpoints is not None else None, digest=digest,
                        prefix=secret[:12], created_by=created_by)
        with self.session() as session:
            session.add(row)
        return CreatedKey(row=row, secret=secret)

    def find_key(self, secret: str) -> ApiKeyRow | None:
        """The live (not revoked) key with this secret."""
        with self.session() as session:
            return session.scalars(select(ApiKeyRow).where(ApiKeyRow.digest == digest_of(secret),
                                                           ApiKeyRow.revoked_at.is_(None))).one_or_none()

    def list_keys(self, namespace: str, *, include_revoked: bool = False) -> list[ApiKeyRow]:
        """Keys of a namespace, oldest first."""
        query = select(ApiKeyRow).where(ApiKeyRow.namespace == namespace).order_by(ApiKeyRow.created_at)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with self.session() as session:
            return list(session.scalars(query))

    def revoke_key(self, namespace: str, key_id: str) -> ApiKeyRow:
        """Mark a key revoked (kept for the audit trail)."""
        with self.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None or row.namespace != namespace:
                raise NotFoundError(f"No key '{key_id}' in namespace '{namespace}'.")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
        return row

    # ------------------------------------------------------------------ audit

    def audit(self, *, actor: str, action: str, namespace: str, target: str = "",
              detail: dict[str, Any] | None = None) -> None:
        """Record a control-plane action."""
        with self.session() as session:
            session.add(AuditRow(actor=actor, action=action, namespace=namespace, target=target,
                                 detail=detail or {}))

    def audit_log(self, namespace: str | None = None, *, action: str | None = None, target: str | None = None,
                  since: datetime | None = None, limit: int = 100) -> list[AuditRow]:
        """Newest first."""
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        if namespace is not None:
            query = query.where(AuditRow.namespace == namespace)
        if action is not None:
            query = query.where(AuditRow.action == action)
        if target is not None:
            query = query.where(AuditRow.target == target)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        with self.session() as session:
            return list(session.scalars(query))

    # ------------------------------------------------------------------ metrics

    def add_samples(self, samples: list[MetricSampleRow]) -> None:
        """Store metric samples."""
        if samples:
            with self.session() as session:
                session.add_all(samples)

    def samples(self, endpoint_id: int, *, since: datetime | None = None, limit: int = 360) -> list[MetricSampleRow]:
        """The newest ``limit`` samples of an endpoint, oldest first."""
        query = (select(MetricSampleRow).where(MetricSampleRow.endpoint_id == endpoint_id)
                 .order_by(MetricSampleRow.at.desc(), MetricSampleRow.id.desc()).limit(limit))
        if since is not None:
            query = query.where(MetricSampleRow.at >= since)
        with self.session() as session:
            return list(reversed(list(session.scalars(query))))
