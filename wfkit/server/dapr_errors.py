"""How Dapr's workflow routes answer a failure: one table from wfkit's errors to Dapr's
status codes, error codes and message forms.

The rules, in order:

1. What Dapr itself checks in a request (an instance id missing, too long or with
   characters not allowed, a workflow or event name missing) gets Dapr's own code,
   status and message, word for word (:func:`missing_instance_id` and the others).
2. An instance that does not exist is Dapr's ``ERR_INSTANCE_ID_NOT_FOUND`` (404), for
   every operation.
3. An operation refused because of the instance's state (pause a finished instance,
   purge a running one, start an id that is running, a history that changed under the
   operation) gets the operation's Dapr code (``ERR_PAUSE_WORKFLOW``...) and Dapr's
   message form around wfkit's reason, with 409 instead of Dapr's 500: nothing is
   broken, the request conflicts with the instance's state.
4. What Dapr cannot know of (wfkit validates inputs against the definition, knows its
   workflows, limits event data and buffers) gets wfkit's own ``ERR_WFKIT_*`` code with
   400, 404, 409 or 413, and wfkit's message (what happened, why, the likely fix).
5. Anything else is the operation's Dapr code with 500 (503 when the store is
   unavailable, which may pass), and a message without a stack trace (the server's
   log has it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from starlette.responses import JSONResponse

from wfkit.errors import (
    ContractError,
    ErrNotImplemented,
    EventBufferFull,
    IllegalTransition,
    InstanceAlreadyExists,
    InstanceBusy,
    InstanceNotFound,
    InvalidEventData,
    InvalidEventName,
    InvalidInput,
    InvalidInstanceId,
    InvalidJsonText,
    OutputTooLarge,
    StoreError,
    UnknownWorkflow,
    VersionConflict,
    WfkitError,
    short,
)
from wfkit.server.guard import BodyTooLarge
from wfkit.server.replies import STATUS_OF_CATEGORY, dapr_error

__all__ = [
    "DAPR_ERRORS",
    "OPERATION_CODE",
    "OPERATION_FAILURES",
    "DaprRefusal",
    "ErrorReply",
    "error_reply",
    "instance_id_refusal",
    "malformed_body",
    "missing_event_name",
    "missing_instance_id",
    "missing_workflow_name",
    "unreadable_body",
]

_log = logging.getLogger(__name__)

OPERATION_CODE: Final = ""
"""In :data:`DAPR_ERRORS`: answer with the failed operation's own Dapr code and message
form (:data:`OPERATION_FAILURES`)."""


@dataclass(frozen=True)
class ErrorReply:
    """How one kind of error is answered: an HTTP status and an error code
    (:data:`OPERATION_CODE`: the failed operation's own)."""

    status: int
    code: str


OPERATION_FAILURES: dict[str, tuple[str, str]] = {
    "start": ("ERR_START_WORKFLOW", "error starting workflow '{name}': {error}"),
    "get": ("ERR_GET_WORKFLOW", "error while getting workflow info on instance '{id}': {error}"),
    "terminate": ("ERR_TERMINATE_WORKFLOW", "error terminating workflow '{id}': {error}"),
    "raise_event": ("ERR_RAISE_EVENT_WORKFLOW", "error raising event on workflow '{id}': {error}"),
    "pause": ("ERR_PAUSE_WORKFLOW", "error pausing workflow {id}: {error}"),
    "resume": ("ERR_RESUME_WORKFLOW", "error resuming workflow {id}: {error}"),
    "purge": ("ERR_PURGE_WORKFLOW", "error purging workflow {id}: {error}"),
}
"""Each operation's Dapr error code and message form (``pkg/messages/predefined.go``)."""

DAPR_ERRORS: dict[type[Exception], ErrorReply] = {
    InstanceNotFound: ErrorReply(404, "ERR_INSTANCE_ID_NOT_FOUND"),
    InvalidInstanceId: ErrorReply(400, "ERR_INSTANCE_ID_INVALID"),
    InvalidJsonText: ErrorReply(400, "ERR_MALFORMED_REQUEST"),
    ContractError: ErrorReply(400, "ERR_MALFORMED_REQUEST"),
    UnknownWorkflow: ErrorReply(404, "ERR_WFKIT_WORKFLOW_NOT_FOUND"),
    InvalidInput: ErrorReply(400, "ERR_WFKIT_INVALID_INPUT"),
    InvalidEventName: ErrorReply(400, "ERR_WFKIT_INVALID_EVENT_NAME"),
    InvalidEventData: ErrorReply(400, "ERR_WFKIT_INVALID_EVENT_DATA"),
    OutputTooLarge: ErrorReply(413, "ERR_WFKIT_EVENT_DATA_TOO_LARGE"),
    EventBufferFull: ErrorReply(409, "ERR_WFKIT_EVENT_BUFFER_FULL"),
    InstanceAlreadyExists: ErrorReply(409, OPERATION_CODE),
    IllegalTransition: ErrorReply(409, OPERATION_CODE),
    InstanceBusy: ErrorReply(409, OPERATION_CODE),
    VersionConflict: ErrorReply(409, OPERATION_CODE),
    StoreError: ErrorReply(503, OPERATION_CODE),
    ErrNotImplemented: ErrorReply(501, "ERR_API_UNIMPLEMENTED"),
    BodyTooLarge: ErrorReply(413, "ERR_BODY_TOO_LARGE"),
}
"""The one table: each wfkit error the Dapr routes can meet, and how it is answered.
An error not listed (nor a base class of it) gets the operation's code with the status
of its :class:`~wfkit.errors.ErrorCategory`; an exception that is not a wfkit error
gets the operation's code with 500."""


class DaprRefusal(Exception):
    """A request refused before any operation ran, with Dapr's own answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def reply(self) -> JSONResponse:
        """The error reply."""
        return dapr_error(self.status, self.code, self.message)


def missing_instance_id() -> DaprRefusal:
    """Dapr's answer to an empty instance id."""
    return DaprRefusal(400, "ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided")


def missing_workflow_name() -> DaprRefusal:
    """Dapr's answer to a start with an empty workflow name."""
    return DaprRefusal(400, "ERR_WORKFLOW_NAME_MISSING", "workflow name is not configured")


def missing_event_name() -> DaprRefusal:
    """Dapr's answer to a raise event with an empty event name."""
    return DaprRefusal(400, "ERR_WORKFLOW_EVENT_NAME_MISSING", "missing workflow event name")


def instance_id_refusal(instance_id: str, max_length: int) -> DaprRefusal:
    """Dapr's answer to a start with an id that is too long or has characters not
    allowed (Dapr's ``validateInstanceID``; wfkit allows ASCII letters and digits)."""
    if len(instance_id) > max_length:
        return DaprRefusal(
            400,
            "ERR_INSTANCE_ID_TOO_LONG",
            f"workflow instance ID exceeds the max length of {max_length} characters",
        )
    return DaprRefusal(
        400,
        "ERR_INSTANCE_ID_INVALID",
        f"workflow instance ID '{short(instance_id)}' is invalid: only alphanumeric and "
        "underscore characters are allowed",
    )


def unreadable_body(reason: str) -> DaprRefusal:
    """Dapr's answer when the request body could not be read."""
    return DaprRefusal(400, "ERR_BODY_READ", f"failed to read request body: {reason}")


def malformed_body(reason: str) -> DaprRefusal:
    """Dapr's answer when the request body is not what the route takes."""
    return DaprRefusal(400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {reason}")


def _reply_for(exc: Exception) -> ErrorReply:
    for kind in type(exc).__mro__:
        found = DAPR_ERRORS.get(kind)
        if found is not None:
            return found
    if isinstance(exc, WfkitError):
        return ErrorReply(STATUS_OF_CATEGORY.get(exc.category, 500), OPERATION_CODE)
    return ErrorReply(500, OPERATION_CODE)


def error_reply(
    exc: Exception, operation: str, *, instance_id: str = "", name: str = ""
) -> JSONResponse:
    """The reply to ``exc``, raised by ``operation`` (a key of
    :data:`OPERATION_FAILURES`) on instance ``instance_id`` or workflow ``name``."""
    if isinstance(exc, DaprRefusal):
        return exc.reply()
    reply = _reply_for(exc)
    if isinstance(exc, WfkitError | BodyTooLarge):
        error = str(exc)
    else:  # a bug of wfkit's: the log has the traceback, the reply never does
        _log.error("%s of %r failed", operation, instance_id or name, exc_info=exc)
        error = f"internal error ({type(exc).__name__}); the server's log has the details"
    if reply.code == OPERATION_CODE:
        code, form = OPERATION_FAILURES[operation]
        message = form.format(id=short(instance_id), name=short(name), error=error)
        return dapr_error(reply.status, code, message)
    if reply.code == "ERR_INSTANCE_ID_NOT_FOUND":
        shown = short(instance_id or getattr(exc, "instance_id", ""))
        error = f"unable to find workflow with the provided instance ID: {shown}"
    elif reply.code == "ERR_MALFORMED_REQUEST":
        error = f"failed deserializing HTTP body: {error}"
    return dapr_error(reply.status, reply.code, error)
