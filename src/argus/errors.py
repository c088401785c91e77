"""The Argus error tree.

Every error a user can cause is a :class:`ClientError` (HTTP 4xx) with a public message that says
what to fix; faults of the server are :class:`ServerError` (HTTP 5xx). One handler in the server
turns any :class:`ArgusError` into the JSON error body of the protocol being served.

Example:
    >>> try:
    ...     raise ModelNotFoundError("Model 'cats/9' is not in the store.")
    ... except ArgusError as error:
    ...     (error.status_code, error.message)
    (404, "Model 'cats/9' is not in the store.")
"""

from __future__ import annotations


class ArgusError(Exception):
    """Base of every error Argus raises on purpose."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(ArgusError):
    """The request was wrong; the message tells the caller what to change."""

    status_code = 400
    code = "bad_request"


class InvalidInputError(ClientError):
    """A parameter is out of range or malformed."""

    code = "invalid_input"


class ImageDecodeError(ClientError):
    """Bytes that are not a decodable image."""

    code = "image_decode_error"

    def __init__(self, cause: str) -> None:
        super().__init__(f"Could not load input image. Cause: {cause}")


class ImageTooLargeError(ClientError):
    """An image or a body beyond the configured limits."""

    status_code = 413
    code = "payload_too_large"


class InvalidModelIdError(ClientError):
    """A model id that is not ``name/version`` or tries to escape the store."""

    code = "invalid_model_id"


class UnauthorizedError(ClientError):
    """Missing or wrong API key."""

    status_code = 401
    code = "unauthorized"


class ForbiddenError(ClientError):
    """A valid caller asking for something that is switched off or not theirs."""

    status_code = 403
    code = "forbidden"


class ClientGoneError(ClientError):
    """The client disconnected; its remaining work was dropped (nginx's 499: nobody reads the answer)."""

    status_code = 499
    code = "client_closed_request"


class NotFoundError(ClientError):
    """A resource that does not exist."""

    status_code = 404
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    """A model id that is neither in the store nor in the zoo."""

    code = "model_not_found"


class ModelArtifactError(ClientError):
    """A model file in the store that cannot be loaded (corrupt, truncated, wrong layout)."""

    status_code = 422
    code = "model_artifact_error"


class ConflictError(ClientError):
    """The request conflicts with the current state (for example, the id is taken)."""

    status_code = 409
    code = "conflict"


class NotImplementedFeatureError(ArgusError):
    """A feature or model family Argus does not implement (HTTP 501)."""

    status_code = 501
    code = "not_implemented"


class ServerError(ArgusError):
    """A fault of the server, not of the request."""

    status_code = 500
    code = "server_error"


class ZooFetchError(ServerError):
    """A zoo source could not be fetched or failed its checksum."""

    status_code = 502
    code = "zoo_fetch_error"


class OverloadedError(ServerError):
    """Too much work queued; the caller should retry after ``retry_after`` seconds."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
