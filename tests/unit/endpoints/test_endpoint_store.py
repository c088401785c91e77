"""The control-plane store on real databases (a SQLite file, and a PostgreSQL server started from the ``pgserver``
wheel): migrations, endpoints, keys, audit log, metric samples."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from argus.endpoints.keys import Role
from argus.endpoints.secrets import SecretBox
from argus.endpoints.store import EndpointStore
from argus.endpoints.tables import Base, MetricSampleRow
from argus.errors import ConflictError, NotFoundError
from argus.settings import Settings

BOX = SecretBox(b"uJ0gGvY5m3Yp4c8lHk9q1mN2b3V4c5X6z7A8s9D0f1E=")


_databases = itertools.count()


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for this module (its URL, database ``postgres``)."""
    with warnings.catch_warnings():  # platformdirs: XDG_RUNTIME_DIR is not set (it falls back to /tmp)
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EndpointStore]:
    """A migrated store on an empty database of each kind."""
    if request.param == "sqlite":
        url = Settings(home=tmp_path / "home").database
    else:
        import psycopg

        base = request.getfixturevalue("postgres")
        name = f"argus_test_{next(_databases)}"
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        url = base.replace("/postgres?", f"/{name}?")
    opened = EndpointStore.open(url, BOX)
    yield opened
    opened.close()


def test_default_database_is_sqlite_under_home(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    assert settings.database == f"sqlite:///{tmp_path / 'home' / 'argus.db'}"
    EndpointStore.open(settings.database, BOX).close()
    assert (tmp_path / "home" / "argus.db").is_file()


def test_migrations_create_the_schema_the_models_describe(store: EndpointStore):
    tables = set(inspect(store.engine).get_table_names())
    assert {"endpoints", "api_keys", "audit_log", "metric_samples", "alembic_version"} <= tables
    with store.engine.connect() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == "0001"
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diffs == []


def test_reopening_applies_nothing_twice(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    first = EndpointStore.open(url, BOX)
    first.create_endpoint("acme", "cams", {"name": "cams"}, target=1, created_by="t")
    first.close()
    again = EndpointStore.open(url, BOX)
    assert [row.name for row in again.list_endpoints("acme")] == ["cams"]
    again.close()


def test_endpoint_names_are_unique_per_namespace(store: EndpointStore):
    store.create_endpoint("acme", "cams", {"name": "cams"}, target=1, created_by="t")
    store.create_endpoint("umbrella", "cams", {"name": "cams"}, target=1, created_by="t")
    with pytest.raises(ConflictError, match="already exists"):
        store.create_endpoint("acme", "cams", {"name": "cams"}, target=1, created_by="t")
    assert [r.namespace for r in store.list_endpoints()] == ["acme", "umbrella"]


def test_update_and_read_back_with_utc_times(store: EndpointStore):
    row = store.create_endpoint("acme", "cams", {"name": "cams", "x": [1, 2]}, target=0, created_by="t")
    assert row.created_at.tzinfo is not None
    store.update_endpoint(row.id, paused=True, state="paused", generation=2)
    back = store.get_endpoint("acme", "cams")
    assert (back.paused, back.state, back.generation, back.spec) == (True, "paused", 2, {"name": "cams", "x": [1, 2]})
    assert back.created_at.tzinfo == UTC and back.updated_at >= back.created_at
    with pytest.raises(NotFoundError):
        store.get_endpoint("acme", "nope")


def test_deleting_an_endpoint_removes_its_samples(store: EndpointStore):
    row = store.create_endpoint("acme", "cams", {}, target=0, created_by="t")
    other = store.create_endpoint("acme", "doors", {}, target=0, created_by="t")
    store.add_samples([MetricSampleRow(endpoint_id=row.id, interval_s=1.0, requests=3, errors=1, p50_ms=2.0,
                                       ready_replicas=1, target_replicas=1, pending=0.5),
                       MetricSampleRow(endpoint_id=other.id, interval_s=1.0, requests=7, ready_replicas=0,
                                       target_replicas=0, pending=0.0)])
    assert [s.requests for s in store.samples(row.id)] == [3]
    store.delete_endpoint(row.id)
    assert store.samples(row.id) == []
    assert [s.requests for s in store.samples(other.id)] == [7]


def test_keys_are_found_by_secret_and_stop_working_when_revoked(store: EndpointStore):
    created = store.create_key("acme", name="ci", role=Role.INVOKE, endpoints=["cams", "cams", "doors"],
                               created_by="t")
    with store.engine.connect() as connection:
        stored = connection.execute(text("select * from api_keys")).mappings().one()
    assert created.secret not in str(dict(stored))  # only the digest is kept
    assert stored["prefix"] == created.secret[:12]
    found = store.find_key(created.secret)
    assert found is not None and found.endpoints == ["cams", "doors"] and found.role == "invoke"
    assert store.find_key(created.secret + "x") is None
    store.revoke_key("acme", created.row.id)
    assert store.find_key(created.secret) is None
    assert store.list_keys("acme") == []
    assert [k.id for k in store.list_keys("acme", include_revoked=True)] == [created.row.id]
    with pytest.raises(NotFoundError):
        store.revoke_key("umbrella", created.row.id)  # not a key of that namespace


def test_audit_log_filters_newest_first(store: EndpointStore):
    store.audit(actor="alice", action="endpoint.create", namespace="acme", target="cams", detail={"model": "c/1"})
    store.audit(actor="bob", action="endpoint.pause", namespace="acme", target="cams")
    store.audit(actor="carol", action="endpoint.create", namespace="umbrella", target="x")
    rows = store.audit_log("acme")
    assert [(r.actor, r.action) for r in rows] == [("bob", "endpoint.pause"), ("alice", "endpoint.create")]
    assert rows[1].detail == {"model": "c/1"}
    assert [r.actor for r in store.audit_log("acme", action="endpoint.create")] == ["alice"]
    assert store.audit_log("acme", since=datetime.now(UTC) + timedelta(minutes=1)) == []
