"""API keys for endpoints: generation, hashing, and who may do what (pure functions, no I/O).

A key belongs to a namespace. Its ``role`` is ``invoke`` (call endpoints) or ``admin`` (also manage the
namespace's endpoints and keys). ``endpoints`` optionally restricts which endpoints it may call. Server keys
(``ARGUS_API_KEYS``) are administrators of every namespace.

Secrets are 256-bit random tokens, so one SHA-256 digest is enough to store them (a slow password hash adds
nothing against guessing a random 256-bit value); lookups go by digest, compared in constant time.

Example:
    >>> secret, digest = new_secret()
    >>> digest_of(secret) == digest
    True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argus.endpoints.spec import EndpointType

SECRET_PREFIX = "argus_"


class Role(StrEnum):
    """What a namespace key may do."""

    INVOKE = "invoke"
    ADMIN = "admin"


def new_secret() -> tuple[str, str]:
    """A fresh secret and its digest."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, digest_of(secret)


def new_key_id() -> str:
    """A public key id (safe to show and log)."""
    return "key_" + secrets.token_hex(6)


def digest_of(secret: str) -> str:
    """Hex SHA-256 of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Principal:
    """Who is calling: a server administrator, an anonymous caller, or a namespace key."""

    actor: str
    server_admin: bool = False
    namespace: str | None = None
    role: Role | None = None
    endpoints: tuple[str, ...] | None = None

    @property
    def is_key(self) -> bool:
        """True for a namespace key."""
        return self.namespace is not None


ANONYMOUS = Principal(actor="anonymous")


def open_admin() -> Principal:
    """The caller of a server without ``ARGUS_API_KEYS`` (bound to loopback): administers everything."""
    return Principal(actor="local", server_admin=True)


def can_manage(principal: Principal, namespace: str) -> bool:
    """May ``principal`` create, change or delete endpoints and keys of ``namespace``?"""
    if principal.server_admin:
        return True
    return principal.namespace == namespace and principal.role == Role.ADMIN


def can_read(principal: Principal, namespace: str) -> bool:
    """May ``principal`` list and describe ``namespace``'s endpoints? Any of its keys may."""
    return principal.server_admin or principal.namespace == namespace


def can_invoke(principal: Principal, namespace: str, endpoint: str, kind: EndpointType) -> bool:
    """May ``principal`` send requests to ``namespace/endpoint`` of type ``kind``?

    ``public``: anyone. ``authenticated``: any key of the namespace. ``private``: keys granted this
    endpoint by name, and namespace administrators. Server keys may call everything.
    """
    if kind == EndpointType.PUBLIC or (principal.server_admin and principal.actor != "local"):
        return True
    if principal.namespace != namespace:
        return False
    if principal.role == Role.ADMIN:
        return True
    if kind == EndpointType.AUTHENTICATED:
        return principal.endpoints is None or endpoint in principal.endpoints
    return principal.endpoints is not None and endpoint in principal.endpoints
