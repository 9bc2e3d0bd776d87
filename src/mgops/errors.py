"""Every error mgops raises on purpose, and the exit code each one maps to.

Messages are sentences for the person at the terminal: what happened, and what
to do about it. Errors from other libraries are translated where they enter
(``raise TargetUnreachable(...) from None``) so nobody sees a foreign traceback.

The tree::

    MgopsError                      exit 1  (GENERAL)
    ├── InputError                  exit 2  (USAGE)   bad argument, file or payload
    │   ├── PolicyError                     a policy file that does not validate
    │   └── QueryError                      a log query that does not parse
    ├── NotFound                    exit 3  (NOT_FOUND)
    ├── Conflict                    exit 4  (CONFLICT) state forbids the change
    │   └── ChecklistIncomplete             leaving a phase with open items
    ├── ActionRefused               exit 5  (REFUSED) a guard said no
    │   └── ConfirmationRequired            a destructive action was not confirmed
    ├── Unauthorized                exit 6  (UNAUTHORIZED)
    ├── TargetUnreachable           exit 7  (UNAVAILABLE) a server did not answer
    ├── TargetError                 exit 8  (TARGET_FAILED) a server said no
    ├── ActionTimeout               exit 9  (TIMEOUT) waited and the outcome never came
    └── StoreError                  exit 10 (STORE) the store cannot be used
"""

from __future__ import annotations

from typing import Any

from mgops import exitcodes


class MgopsError(Exception):
    """Base of every error mgops raises on purpose."""

    exit_code = exitcodes.GENERAL
    code = "error"
    http_status = 500

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class InputError(MgopsError):
    exit_code = exitcodes.USAGE
    code = "invalid_input"
    http_status = 422


class PolicyError(InputError):
    code = "invalid_policy"


class QueryError(InputError):
    """A log query that does not parse or cannot run; carries the column."""

    code = "invalid_query"

    def __init__(
        self,
        message: str,
        *,
        query: str = "",
        column: int | None = None,
        code: str | None = None,
    ) -> None:
        detail: dict[str, Any] = {}
        if column is not None:
            detail["column"] = column
        super().__init__(message, detail=detail)
        self.query = query
        self.column = column
        if code:
            self.code = code

    def pointer(self) -> str:
        """The query with a caret under the offending column (1-based)."""
        if self.column is None or not self.query:
            return self.message
        line_start = self.query.rfind("\n", 0, self.column - 1) + 1
        line_end = self.query.find("\n", line_start)
        line = self.query[line_start : None if line_end < 0 else line_end]
        caret = " " * (self.column - 1 - line_start) + "^"
        return f"{line}\n{caret}\n{self.message}"


class NotFound(MgopsError):
    exit_code = exitcodes.NOT_FOUND
    code = "not_found"
    http_status = 404


class Conflict(MgopsError):
    exit_code = exitcodes.CONFLICT
    code = "conflict"
    http_status = 409


class ChecklistIncomplete(Conflict):
    code = "checklist_incomplete"


class ActionRefused(MgopsError):
    exit_code = exitcodes.REFUSED
    code = "refused"
    http_status = 409


class ConfirmationRequired(ActionRefused):
    code = "confirmation_required"
    http_status = 428


class Unauthorized(MgopsError):
    exit_code = exitcodes.UNAUTHORIZED
    code = "unauthorized"
    http_status = 401


class Forbidden(Unauthorized):
    code = "forbidden"
    http_status = 403


class TargetUnreachable(MgopsError):
    exit_code = exitcodes.UNAVAILABLE
    code = "unreachable"
    http_status = 502


class TargetError(MgopsError):
    exit_code = exitcodes.TARGET_FAILED
    code = "target_error"
    http_status = 502


class ActionTimeout(MgopsError):
    exit_code = exitcodes.TIMEOUT
    code = "timeout"
    http_status = 504


class StoreError(MgopsError):
    exit_code = exitcodes.STORE
    code = "store_error"
    http_status = 503
