"""API errors as the services name them; the wire layer renders them per protocol."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: ``code`` is the wire error code (``__type`` / ``<Code>``)."""

    def __init__(self, code: str, message: str, status: int = 400, *, sender: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender  # STS's <Type>: Sender (client fault) or Receiver


def validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFound", message)


def in_use(message: str) -> ApiError:
    return ApiError("ResourceInUse", message)


def limit_exceeded(message: str) -> ApiError:
    return ApiError("ResourceLimitExceeded", message)


def internal_failure() -> ApiError:
    return ApiError(
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
        500,
        sender=False,
    )


def pattern_error(name: str, value: str, pattern: str) -> ApiError:
    """AWS's request-validation text for a member that does not match its pattern."""
    member = name[:1].lower() + name[1:]
    return validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {pattern}"
    )


def required(name: str) -> ApiError:
    """The message AWS's request validation gives for a missing member."""
    member = name[:1].lower() + name[1:]
    return validation(
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
        "Member must not be null"
    )
