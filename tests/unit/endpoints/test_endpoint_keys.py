"""Key secrets and digests, and who may call or manage what (each type of endpoint against each caller)."""

from __future__ import annotations

import hashlib

import pytest

from argus.endpoints.keys import (
    ANONYMOUS,
    Principal,
    Role,
    can_invoke,
    can_manage,
    can_read,
    digest_of,
    new_secret,
    open_admin,
    same_digest,
)
from argus.endpoints.spec import EndpointType

PUBLIC, AUTH, PRIVATE = EndpointType.PUBLIC, EndpointType.AUTHENTICATED, EndpointType.PRIVATE


def test_secret_is_random_and_only_its_sha256_is_kept():
    secret, digest = new_secret()
    other, _ = new_secret()
    assert secret != other and secret.startswith("argus_") and len(secret) > 40
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in digest
    assert same_digest(digest_of(secret), digest)
    assert not same_digest(digest_of(other), digest)


NS_ADMIN = Principal(actor="key:a", namespace="acme", role=Role.ADMIN)
NS_KEY = Principal(actor="key:b", namespace="acme", role=Role.INVOKE)
CAM_KEY = Principal(actor="key:c", namespace="acme", role=Role.INVOKE, endpoints=("cams",))
OTHER_NS = Principal(actor="key:d", namespace="umbrella", role=Role.ADMIN)
SERVER = Principal(actor="server-key", server_admin=True)

INVOKE = [
    # caller, endpoint, type, allowed
    (ANONYMOUS, "cams", PUBLIC, True),
    (ANONYMOUS, "cams", AUTH, False),
    (ANONYMOUS, "cams", PRIVATE, False),
    (open_admin(), "cams", AUTH, False),  # an open control plane does not open endpoints
    (NS_KEY, "cams", AUTH, True),
    (NS_KEY, "cams", PRIVATE, False),  # private needs the endpoint granted by name
    (CAM_KEY, "cams", PRIVATE, True),
    (CAM_KEY, "doors", PRIVATE, False),  # a key of another endpoint
    (CAM_KEY, "doors", AUTH, False),  # scoped keys stay in their scope
    (NS_ADMIN, "doors", PRIVATE, True),
    (OTHER_NS, "cams", AUTH, False),
    (OTHER_NS, "cams", PUBLIC, True),
    (SERVER, "cams", PRIVATE, True),
]


@pytest.mark.parametrize(("principal", "endpoint", "kind", "allowed"), INVOKE)
def test_who_may_call(principal, endpoint, kind, allowed):
    assert can_invoke(principal, "acme", endpoint, kind) is allowed


@pytest.mark.parametrize(("principal", "manage", "read"), [
    (SERVER, True, True), (open_admin(), True, True), (NS_ADMIN, True, True), (NS_KEY, False, True),
    (CAM_KEY, False, True), (OTHER_NS, False, False), (ANONYMOUS, False, False),
])
def test_who_may_manage_and_read(principal, manage, read):
    assert can_manage(principal, "acme") is manage
    assert can_read(principal, "acme") is read
