"""Which video sources a client may name through the server's stream API.

The same rule as image URLs for the network, and a folder the operator names for files:

- stream and remote-file URLs (``rtsp://``, ``rtmp://``, ``http(s)://`` ...) must resolve to global addresses
  unless ``ARGUS_ALLOW_PRIVATE_URLS=true``; any other scheme (``file:``, FFmpeg's ``concat:``, ``pipe:``,
  ``subfile:`` ...) is refused;
- local files, folders and image-sequence patterns only under ``ARGUS_MEDIA_DIR`` (none by default, so paths
  are refused), after symlinks are resolved, and never under ``ARGUS_HOME``. The pipeline receives the
  resolved absolute path, never the client's string, so FFmpeg cannot read it as a protocol.
- webcam indexes stay allowed (a device the operator attached).

Example:
    >>> check_source("/etc/passwd", Settings(media_dir=None))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ForbiddenError: ...
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from argus.errors import ForbiddenError, InvalidInputError
from argus.inputs.url import resolve_host
from argus.settings import Settings

NETWORK_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt"})
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443, "http": 80, "https": 443, "srt": 9000}


def check_source(reference: str | int, settings: Settings) -> str | int:
    """``reference`` as the pipeline must open it, or a 403/400 saying why it may not.

    Raises:
        ForbiddenError: a private host, a scheme that is not a stream, or a path outside the media folder.
        InvalidInputError: a malformed reference.
    """
    if isinstance(reference, int) or (isinstance(reference, str) and reference.strip().isdigit()):
        return reference
    if not isinstance(reference, str) or not reference.strip() or "\x00" in reference:
        raise InvalidInputError("video_reference must be a path, a stream URL or a webcam index.")
    parts = urlsplit(reference)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_SCHEMES:
        return _check_network(reference, parts, settings)
    if ":" in reference.split("/", 1)[0]:
        raise ForbiddenError(f"video_reference scheme {reference.split(':', 1)[0][:20]!r} is not allowed: use "
                             f"{', '.join(sorted(NETWORK_SCHEMES))} URLs or a file under ARGUS_MEDIA_DIR.")
    return _check_path(reference, settings)


def _check_network(reference: str, parts: SplitResult, settings: Settings) -> str:
    if not parts.hostname:
        raise InvalidInputError(f"video_reference {reference[:200]!r} has no host.")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme.lower()]
    except ValueError:
        raise InvalidInputError(f"video_reference {reference[:200]!r} has an invalid port.") from None
    try:
        resolve_host(parts.hostname, port, settings.allow_private_urls, label="video_reference",
                     setting="ARGUS_ALLOW_PRIVATE_URLS")
    except InvalidInputError as error:
        raise ForbiddenError(error.message) from None
    return reference


def _check_path(reference: str, settings: Settings) -> str:
    if settings.media_dir is None:
        raise ForbiddenError("Local video files are off on this server: the operator names a folder with "
                             "ARGUS_MEDIA_DIR to allow files under it; or send a stream URL.")
    media = settings.media_dir.expanduser().resolve()
    home = settings.home_dir.resolve()
    pattern = any(char in reference for char in "*?[%")
    path = Path(reference) if os.path.isabs(reference) else media / reference
    # A pattern's folder must be inside; the file part is matched by the reader within it.
    resolved = (path.parent.resolve() / path.name) if pattern else path.resolve()
    inside = resolved.parent if pattern else resolved
    if not (inside == media or media in inside.parents):
        raise ForbiddenError(f"video_reference {reference[:200]!r} is outside the media folder ARGUS_MEDIA_DIR.")
    if inside == home or home in inside.parents:
        raise ForbiddenError(f"video_reference {reference[:200]!r} is inside ARGUS_HOME, which is never served.")
    return str(resolved)
