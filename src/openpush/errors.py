"""The exception tree of openpush.

Domain errors carry no HTTP status; ``openpush.api.errors`` is the only place that maps them
to responses (Coveo's ``{"errorCode", "message"}`` body).

    OpenpushError
    ├── InvalidRequestError            a request the API refuses synchronously
    │   ├── InvalidJsonError           body is not valid JSON / duplicate keys / sub-objects (400)
    │   ├── MissingParameterError      a required parameter is absent (412)
    │   ├── InvalidParameterError      a parameter has the wrong type or value (412)
    │   ├── PayloadTooLargeError       a body or value over its size limit (413)
    │   └── UnsupportedMediaTypeError  wrong Content-Type (415)
    ├── InvalidItemError               an item the pipeline cannot apply (logged REJECTED)
    │   ├── ContentDecodingError       base64 / compression / size problems in item content
    │   └── ItemLimitError             an item over a size or count limit (413 when synchronous)
    ├── QuerySyntaxError               a search expression that does not parse (400)
    ├── AuthenticationError            no or unknown credentials (401)
    │   └── InvalidTokenError          unknown, expired or disabled key or search token
    ├── AccessDeniedError              credentials lack a privilege (403)
    ├── NotFoundError                  a named resource does not exist
    │   ├── OrganizationNotFoundError  (404)
    │   ├── SourceNotFoundError        (412 SOURCE_DOES_NOT_EXIST, as Coveo does)
    │   ├── FieldNotFoundError         (404)
    │   └── ResourceNotFoundError      any other missing resource (404)
    │       ├── FileContainerNotFoundError  unknown, expired or consumed fileId (404 FILE_NOT_FOUND)
    │       ├── StreamNotFoundError    unknown or closed streamId (404 STREAM_NOT_FOUND)
    │       └── BatchNotFoundError     unknown batch id (404 BATCH_NOT_FOUND)
    ├── ConflictError                  a resource that already exists (409)
    ├── TooManyRequestsError           a request over a rate limit (429, with retry_after)
    │   └── DailyQuotaExceededError    the organization's daily item quota is used up (429)
    ├── StorageError                   the state store failed
    │   └── StorageBusyError           the store is locked; retry later
    └── MissingDependencyError         an optional backend's extra is not installed
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "AuthenticationError",
    "BatchNotFoundError",
    "ConflictError",
    "ContentDecodingError",
    "DailyQuotaExceededError",
    "FieldNotFoundError",
    "FileContainerNotFoundError",
    "InvalidItemError",
    "InvalidJsonError",
    "InvalidParameterError",
    "InvalidRequestError",
    "InvalidTokenError",
    "ItemLimitError",
    "MissingDependencyError",
    "MissingParameterError",
    "NotFoundError",
    "OpenpushError",
    "OrganizationNotFoundError",
    "PayloadTooLargeError",
    "QuerySyntaxError",
    "ResourceNotFoundError",
    "SourceNotFoundError",
    "StorageBusyError",
    "StorageError",
    "StreamNotFoundError",
    "TooManyRequestsError",
    "UnsupportedMediaTypeError",
]


class OpenpushError(Exception):
    """Root of every error openpush raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(OpenpushError):
    """A request refused before anything is recorded."""


class InvalidJsonError(InvalidRequestError):
    """The body is not acceptable JSON for this call."""


class MissingParameterError(InvalidRequestError):
    """A required parameter is absent."""


class InvalidParameterError(InvalidRequestError):
    """A parameter has the wrong type or value."""


class PayloadTooLargeError(InvalidRequestError):
    """A body or value exceeds its size limit."""


class UnsupportedMediaTypeError(InvalidRequestError):
    """The request's Content-Type is not accepted."""


class InvalidItemError(OpenpushError):
    """An item that the pipeline cannot apply; it is logged as REJECTED."""


class ContentDecodingError(InvalidItemError):
    """Item content that cannot be decoded (base64, codec, size or ratio caps)."""


class ItemLimitError(InvalidItemError):
    """An item over a size or count limit (content, metadata value, dictionary, permissions)."""


class QuerySyntaxError(OpenpushError):
    """A query expression that does not parse; ``position`` is a 0-based offset."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.position = position


class AuthenticationError(OpenpushError):
    """No credentials were given."""


class InvalidTokenError(AuthenticationError):
    """The key or search token is unknown, expired or disabled."""


class AccessDeniedError(OpenpushError):
    """The credentials are valid but lack a privilege."""


class NotFoundError(OpenpushError):
    """A named resource does not exist (or is not visible to the caller)."""


class OrganizationNotFoundError(NotFoundError):
    """Unknown organization."""


class SourceNotFoundError(NotFoundError):
    """Unknown source."""


class FieldNotFoundError(NotFoundError):
    """Unknown field."""


class ResourceNotFoundError(NotFoundError):
    """Any other missing resource: provider, file, stream, batch, key."""


class FileContainerNotFoundError(ResourceNotFoundError):
    """A fileId that does not exist, expired, holds nothing yet, or was already consumed."""

    error_code = "FILE_NOT_FOUND"


class StreamNotFoundError(ResourceNotFoundError):
    """A streamId that does not exist in this source or is no longer open."""

    error_code = "STREAM_NOT_FOUND"


class BatchNotFoundError(ResourceNotFoundError):
    """A batch id that this source never received."""

    error_code = "BATCH_NOT_FOUND"


class ConflictError(OpenpushError):
    """The resource already exists."""


class TooManyRequestsError(OpenpushError):
    """A request refused by a rate limit; ``retry_after`` is in whole seconds (>= 1)."""

    error_code = "TOO_MANY_REQUESTS"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class DailyQuotaExceededError(TooManyRequestsError):
    """The organization pushed its daily quota of items (until the next UTC midnight)."""

    error_code = "TOO_MANY_DOCUMENTS_DAILY"


class StorageError(OpenpushError):
    """The state store failed."""


class StorageBusyError(StorageError):
    """The state store is locked by another writer; retry later."""


class MissingDependencyError(OpenpushError):
    """An optional backend was selected but its extra is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'openpush[{extra}]'"
        )
        self.package = package
        self.extra = extra
