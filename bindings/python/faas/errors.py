"""Exceptions: one class per libfaas status, as Python programs expect to catch them.

Function errors (the handler failed, timed out, ran out of memory, or its instance could not
be made) are FunctionError and its subclasses, carrying Lambda's error body; service errors
(no handler ran) derive from FaasError alone, and also from the builtin exception a Python
programmer would reach for (NotFound is a LookupError, InvalidArgument a ValueError...).
"""

import json

from ._lib import STATUS, lib


class FaasError(Exception):
    """A libfaas call failed: .status (negative int), .code ("ETHROTTLED"), .message."""

    status = None

    def __init__(self, message, status=None, request_id=None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message
        self.request_id = request_id

    @property
    def code(self):
        name = lib.faas_err_name(self.status).decode()
        return name[len("FAAS_"):] if name.startswith("FAAS_") else name


class FunctionError(FaasError):
    """The function failed: Lambda's errorType, errorMessage and stackTrace.

    .error_type, .error_message, .stack_trace (list of str), .body (the whole error body,
    decoded), .log_tail (what the call logged), .record (faas.Record)."""

    status = STATUS["EHANDLER"]

    def __init__(self, error_type, error_message, stack_trace=(), body=None, status=None,
                 request_id=None, log_tail="", record=None):
        super().__init__("%s: %s" % (error_type, error_message), status, request_id)
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = list(stack_trace)
        self.body = body
        self.log_tail = log_tail
        self.record = record

    def __str__(self):
        text = "%s: %s" % (self.error_type, self.error_message)
        if self.stack_trace:
            text += "\nTraceback (in the function, most recent call last):\n" + "".join(
                line if line.endswith("\n") else line + "\n" for line in self.stack_trace)
        return text.rstrip("\n")


class Timeout(FunctionError):
    """The call ran past its timeout_ms (Sandbox.Timedout)."""
    status = STATUS["ETIMEOUT"]


class OutOfMemory(FunctionError):
    """The call's arena went past memory_mb (Runtime.OutOfMemory)."""
    status = STATUS["EMEMORY"]


class Crashed(FunctionError):
    """The function's isolated instance crashed (Runtime.ExitError)."""
    status = STATUS["ECRASHED"]


class LoadError(FunctionError):
    """The function's module could not be loaded (Runtime.LoadError)."""
    status = STATUS["ELOAD"]


class InitError(FunctionError):
    """The function's INIT hook failed (Runtime.InitError)."""
    status = STATUS["EINIT"]


class InvalidArgument(FaasError, ValueError):
    status = STATUS["EINVAL"]


class NoMemory(FaasError, MemoryError):
    status = STATUS["ENOMEM"]


class NotFound(FaasError, LookupError):
    status = STATUS["ENOTFOUND"]


class AlreadyExists(FaasError, ValueError):
    status = STATUS["EEXIST"]


class Throttled(FaasError):
    """The function is at its max_concurrency (Lambda's TooManyRequestsException)."""
    status = STATUS["ETHROTTLED"]


class TooLarge(FaasError, ValueError):
    status = STATUS["ETOOLARGE"]


class Busy(FaasError):
    status = STATUS["EBUSY"]


class Shutdown(FaasError):
    status = STATUS["ESHUTDOWN"]


class BudgetExceeded(FaasError):
    status = STATUS["EBUDGET"]


class NotSupported(FaasError, NotImplementedError):
    status = STATUS["ENOTSUP"]


_FUNCTION_ERRORS = {c.status: c for c in (FunctionError, Timeout, OutOfMemory, Crashed,
                                          LoadError, InitError)}
_SERVICE_ERRORS = {c.status: c for c in (InvalidArgument, NoMemory, NotFound, AlreadyExists,
                                         Throttled, TooLarge, Busy, Shutdown, BudgetExceeded,
                                         NotSupported)}


def from_status(status, message=None):
    """The exception for a call that has no response: its message is faas_last_error()."""
    if message is None:
        message = lib.faas_last_error().decode("utf-8", "replace")
    cls = _SERVICE_ERRORS.get(status)
    if cls is None:
        if status in _FUNCTION_ERRORS:
            return _FUNCTION_ERRORS[status]("Runtime.Unknown", message, status=status)
        return FaasError(message, status)
    return cls(message)


def from_response(status, data, error_type, error_message, request_id, log_tail, record):
    """The exception for a failed call's response."""
    cls = _FUNCTION_ERRORS.get(status)
    if cls is None:
        exc = from_status(status, error_message)
        exc.request_id = request_id
        exc.record = record
        return exc
    body = None
    trace = ()
    try:
        body = json.loads(data)
        if isinstance(body, dict) and isinstance(body.get("stackTrace"), list):
            trace = [str(line) for line in body["stackTrace"]]
    except ValueError:
        pass
    return cls(error_type, error_message, trace, body, status, request_id, log_tail, record)
