"""Domain errors about users and the clients they belong to (mapped to OA codes in v1/errors)."""

from __future__ import annotations


class AccountError(Exception):
    code = "account_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UserNotFound(AccountError):
    """No such user, or one the calling client may not see."""

    code = "user_not_found"


class ForeignClientForbidden(AccountError):
    """An untrusted client named another client's users (``api_client_id``)."""

    code = "foreign_client_forbidden"


class InvalidKeyset(AccountError):
    """A keyset page bound names an id without the sort key it belongs to."""

    code = "invalid_keyset"
