"""Fetch an image by URL safely: http(s) only, size cap, timeout, and no private or loopback targets.

Every hop of a redirect chain is resolved and checked again, so a public URL cannot redirect to
``http://169.254.169.254/`` (cloud metadata) or ``http://127.0.0.1/``. Addresses are checked with
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
from urllib.parse import urljoin, urlsplit

import httpx

from argus.errors import ImageDecodeError, ImageTooLargeError, InvalidInputError

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5


def check_url_allowed(url: str, allow_private: bool) -> None:
    """Raise :class:`InvalidInputError` unless ``url`` is http(s) and resolves to public addresses only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise InvalidInputError(f"Image URL must use http or https, got {parts.scheme or 'no scheme'!r}.")
    if not parts.hostname:
        raise InvalidInputError(f"Image URL {url[:200]!r} has no host.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidInputError(f"Cannot resolve the image URL's host {parts.hostname!r} ({error}).") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise InvalidInputError(
                f"Image URL host {parts.hostname!r} resolves to {address}, a private, loopback or link-local "
                "address; such URLs are refused (set ARGUS_ALLOW_PRIVATE_URLS=true to allow them)."
            )


def fetch_url(url: str, *, allow_private: bool, timeout: float, max_bytes: int) -> bytes:
    """GET ``url`` following at most :data:`MAX_REDIRECTS` checked redirects, at most ``max_bytes`` bytes."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url_allowed(url, allow_private)
            try:
                with client.stream("GET", url, headers={"User-Agent": "argus"}) as response:
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
