"""Fetch an image by URL safely: http(s) only, size cap, timeout, and no private or loopback targets.

Every hop of a redirect chain is resolved once, checked, and connected to at the address that was
checked (:func:`pin_url`: the IP in the URL, the name in ``Host`` and TLS SNI), so neither a redirect nor
a second DNS answer (rebinding) can reach ``http://169.254.169.254/`` (cloud metadata) or
``http://127.0.0.1/``. Addresses are checked with
:mod:`ipaddress` (``is_global``), which covers private, loopback, link-local, reserved and
shared ranges for IPv4 and IPv6.

Example:
    >>> check_url_allowed("http://127.0.0.1/x.jpg", allow_private=False)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidInputError: ...
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from argus.errors import ImageDecodeError, ImageTooLargeError, InvalidInputError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class PinnedUrl:
    """A URL whose host was resolved once and checked: requests go to ``url`` (the checked address as host)
    with ``headers`` (the original ``Host``) and ``extensions`` (TLS SNI and certificate check on the original
    name), so a second DNS answer can never send them elsewhere."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def pin_url(url: str, allow_private: bool, *, label: str = "Image URL",
            setting: str = "ARGUS_ALLOW_PRIVATE_URLS") -> PinnedUrl:
    """Resolve ``url``'s host once; refuse non-http(s) URLs and, unless ``allow_private``, any address that is
    not global (private, loopback, link-local, reserved, shared).

    Raises:
        InvalidInputError: naming the URL, the address and ``setting``.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"{label} must use http or https, got {parts.scheme or 'no scheme'!r}.")
    if not parts.hostname:
        raise InvalidInputError(f"{label} {url[:200]!r} has no host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InvalidInputError(f"{label} {url[:200]!r} has an invalid port.") from None
    address = resolve_host(parts.hostname, port, allow_private, label=label, setting=setting)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = host + (f":{parts.port}" if parts.port else "")
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = name + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return PinnedUrl(pinned, {"Host": host_header}, extensions)


def resolve_host(hostname: str, port: int, allow_private: bool, *, label: str, setting: str
                 ) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The one address to connect to for ``hostname``; every address it resolves to must pass the guard."""
    try:
        literal = ipaddress.ip_address(hostname.strip("[]").split("%")[0])
        addresses = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise InvalidInputError(f"Cannot resolve the {label}'s host {hostname!r} ({error}).") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for address in addresses:
            if not address.is_global:
                raise InvalidInputError(
                    f"{label} host {hostname!r} resolves to {address}, a private, loopback or link-local "
                    f"address; such URLs are refused (set {setting}=true to allow them).")
    return addresses[0]


def check_url_allowed(url: str, allow_private: bool) -> None:
    """Raise :class:`InvalidInputError` unless ``url`` is http(s) and resolves to public addresses only."""
    pin_url(url, allow_private)


def fetch_url(url: str, *, allow_private: bool, timeout: float, max_bytes: int) -> bytes:
    """GET ``url`` following at most :data:`MAX_REDIRECTS` redirects, each hop resolved once, checked and pinned;
    at most ``max_bytes`` bytes."""
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target = pin_url(url, allow_private)
            try:
                with client.stream("GET", target.url, headers={"User-Agent": "argus", **target.headers},
                                   extensions=target.extensions) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code >= 400:
                        raise ImageDecodeError(f"fetching {url[:200]} answered HTTP {response.status_code}")
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise _too_large(max_bytes)
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _too_large(max_bytes)
                        chunks.append(chunk)
                    return b"".join(chunks)
            except httpx.TimeoutException:
                raise ImageDecodeError(f"fetching {url[:200]} timed out after {timeout:g} s") from None
            except httpx.HTTPError as error:
                raise ImageDecodeError(f"fetching {url[:200]} failed ({error})") from None
    raise InvalidInputError(f"Image URL redirected more than {MAX_REDIRECTS} times.")


def _too_large(max_bytes: int) -> ImageTooLargeError:
    return ImageTooLargeError(f"The image at the URL is larger than {max_bytes} bytes (ARGUS_URL_MAX_BYTES).")
