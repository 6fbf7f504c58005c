"""faas.Runtime: Python handlers with Lambda's signature on libfaas, and the calls to them.

Owns handler dispatch (event decoding, the Lambda context, print/logging capture, the error
body of an exception), the life of every ctypes callback object the library may call, and
the mapping from responses to results and exceptions. The C declarations are in _lib.
"""

import atexit
import ctypes
import functools
import itertools
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Mapping
from concurrent.futures import Future

from . import errors
from . import cost
from ._lib import (CALLBACK, HANDLER, INIT_HOOK, LOG_SINK, MONO_NS, RECORD_HOOK, STATUS,
                   WALL_NS, WATCH_EVENTS, Config, Options, ScheduleOptions, WatchOptions, lib)
from ._lib import AliasInfo as _CAliasInfo
from ._lib import Budget as _CBudget
from ._lib import VersionInfo as _CVersionInfo
from ._lib import InvokeOptions as _CInvokeOptions
from ._lib import Response as _CResponse
from ._lib import UpdateInfo as _CUpdateInfo
from ._lib import Stats as _CStats
from .records import Alias, Budget, Record, Response, Stats, UpdateStatus, Version

_EHANDLER = STATUS["EHANDLER"]
_ETOOLARGE = STATUS["ETOOLARGE"]
_UINT_MAX = 0xFFFFFFFF
_CONFIG_UINTS = ("memory_mb", "timeout_ms", "max_concurrency", "min_warm", "keep_alive_ms",
                 "max_retries")
_CONFIG_STRINGS = ("dead_letter", "tag")
# faas_config.isolation and .seccomp by name (<faas.h>'s enum faas_isolation, faas_seccomp).
_CONFIG_ENUMS = {
    "isolation": {None: 0, "none": 0, "process": 1},
    "seccomp": {None: 0, "none": 0, "no-network": 1, "strict": 2},
}
_NO_EVENT = object()


class _PerThread(threading.local):
    """Per thread: call, the Context of the Python handler this thread is running (the
    innermost, when handlers invoke each other); callbacks, how deep this thread is in
    other callbacks from libfaas (a runtime must not be freed from inside one). The class
    attributes are each new thread's values."""
    call = None
    callbacks = 0


_tls = _PerThread()


# ---- events and results ------------------------------------------------------------------

# Made once: json.dumps() builds an encoder on every call that has any argument. Payloads are
# UTF-8 JSON, compact (what Lambda's runtime marshals is UTF-8 too).
_json_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_json_decode = json.JSONDecoder().decode


def _encode_event(event):
    """What a Python caller passes becomes the payload: bytes as they are, else JSON."""
    if event is _NO_EVENT:
        return b""
    if isinstance(event, (bytes, bytearray, memoryview)):
        return bytes(event)
    return _json_encode(event).encode("utf-8")


def _loads(raw):
    """Decoded JSON, or the bytes themselves when they are not UTF-8 JSON."""
    try:
        return _json_decode(raw.decode("utf-8"))
    except ValueError:                  # UnicodeDecodeError is one
        return raw


def _decode_event(raw):
    """A payload becomes the handler's event: decoded JSON, {} for none (as SAM's local
    emulator does), or the bytes themselves when they are not JSON."""
    return _loads(raw) if raw else {}


def _decode_result(raw):
    return _loads(raw) if raw else None


class _MarshalError(Exception):
    pass


def _encode_result(result):
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    try:
        return _json_encode(result).encode("utf-8")
    except (TypeError, ValueError, OverflowError) as e:
        # Lambda's Python runtime: Runtime.MarshalError, "Unable to marshal response: ..."
        raise _MarshalError("Unable to marshal response: %s" % e) from None


def _text(address):
    return ctypes.string_at(address).decode("utf-8", "replace") if address else None


def _payload(res):
    n = res.len
    return res.data[:n] if n else b""


def _error_of(res):
    return errors.from_response(res.status, _payload(res), _text(res.error_type),
                                _text(res.error_message), res.record.request_id.decode(),
                                _text(res.log_tail) or "", Record._from_c(res.record))


def _result_of(res):
    if res.status == 0:
        return _decode_result(_payload(res))
    raise _error_of(res)


# ---- a call's log: print, logging and context.log --------------------------------------------

class _Capture:
    """Stands in for sys.stdout and sys.stderr: what a thread writes while it runs a Python
    handler goes to that call's log (its log_tail and the log sink); all other writes go to
    the stream it replaced. Any other attribute is the replaced stream's."""

    def __init__(self, stream):
        self._faas_stream = stream

    def write(self, text):
        call = _tls.call
        if call is not None and call._fn.capture:
            call._write(text)
            return len(text)
        if self._faas_stream is None:
            return len(text)
        return self._faas_stream.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        call = _tls.call
        if (call is None or not call._fn.capture) and self._faas_stream is not None:
            self._faas_stream.flush()

    def __getattr__(self, name):
        return getattr(self._faas_stream, name)


def _capture_streams():
    # Checked on every call: a test harness (pytest) swaps sys.stdout per test.
    if type(sys.stdout) is not _Capture:
        sys.stdout = _Capture(sys.stdout)
    if type(sys.stderr) is not _Capture:
        sys.stderr = _Capture(sys.stderr)


class _LogHandler(logging.Handler):
    """On the root logger, as Lambda's Python runtime puts its own there: a record logged by
    a thread running a Python handler goes to the call's log, in Lambda's format. Outside
    handlers it does what logging's last resort would have done had it not been there."""

    def __init__(self):
        super().__init__()
        fmt = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S")
        fmt.converter = time.gmtime
        self.setFormatter(fmt)

    def emit(self, record):
        call = _tls.call
        if call is None or not call._fn.capture:
            if all(h is self for h in logging.getLogger().handlers):
                last = logging.lastResort
                if last is not None and record.levelno >= last.level:
                    last.handle(record)
            return
        try:
            record.aws_request_id = call.aws_request_id
            call._flush()
            call._log(self.format(record))
        except Exception:
            self.handleError(record)


_log_handler = None
_log_lock = threading.Lock()


def _install_log_handler():
    global _log_handler
    with _log_lock:
        if _log_handler is None:
            _log_handler = _LogHandler()
            logging.getLogger().addHandler(_log_handler)


# ---- the context ---------------------------------------------------------------------------

class _Function:
    """A registered Python handler and what its calls need to know about it."""

    def __init__(self, name, fn, memory_mb, capture, region, account_id, token):
        self.name = name
        self.fn = fn
        self.memory = str(memory_mb)     # a str, as in Lambda (read from the environment)
        self.capture = capture
        self.arn = "arn:aws:lambda:%s:%s:function:%s" % (region, account_id, name)
        self.log_group = "/aws/lambda/" + name
        self.stream_prefix = time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()) + token
        self.handler = None
        self.env_names = ()


# Lambda's reserved variables, which faas_ctx_getenv() gives every function.
_LAMBDA_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
               "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION",
               "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "_HANDLER", "TZ", "LANG")


class Environ(Mapping):
    """context.environ: the function's environment as os.environ shows a Lambda function's,
    read-only: Lambda's reserved variables and the function's own (environment=...), never
    the host's (faas_ctx_getenv). Valid during the call."""

    __slots__ = ("_context",)

    def __init__(self, context):
        self._context = context

    def __getitem__(self, name):
        value = self._context.getenv(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self):
        seen = set()
        for name in self._context._fn.env_names + _LAMBDA_ENV:
            if name not in seen and self._context.getenv(name) is not None:
                seen.add(name)
                yield name

    def __len__(self):
        return sum(1 for _ in self)


class Client:
    """context.client_context.client: the calling app, as Lambda's Python runtime has it."""

    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name")

    def __init__(self, d):
        for k in self.__slots__:
            setattr(self, k, d.get(k))


class ClientContext:
    """context.client_context: the call's X-Amz-Client-Context (faas_ctx_client_context),
    as Lambda's Python runtime shapes it: .client (a Client or None), .custom and .env (the
    JSON objects, or None)."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, d):
        client = d.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = d.get("custom")
        self.env = d.get("env")


class Context:
    """Lambda's context object, for the call it was given to (Python runtime attributes).
    It also holds the call's unfinished log line."""

    __slots__ = ("_ctx", "_fn", "_request_id", "_pending", "_outer")
    function_version = "$LATEST"
    identity = None
    tenant_id = None

    def __init__(self, ctx, fn, outer):
        self._ctx = ctx
        self._fn = fn
        self._request_id = None
        self._pending = ""
        self._outer = outer

    @property
    def aws_request_id(self):
        if self._request_id is None and self._ctx is not None:
            self._request_id = lib.faas_ctx_request_id(self._ctx).decode()
        return self._request_id

    def getenv(self, name, default=None):
        """The function's environment variable NAME (Lambda's reserved ones and its own),
        or default: os.getenv for an in-process function (faas_ctx_getenv)."""
        if self._ctx is None:
            return default
        value = lib.faas_ctx_getenv(self._ctx, str(name).encode("utf-8"))
        return default if value is None else value.decode("utf-8")

    @property
    def environ(self):
        """The function's environment, an os.environ-like read-only mapping (Environ)."""
        return Environ(self)

    @property
    def client_context(self):
        """The caller's client context (a ClientContext), or None when it sent none."""
        text = lib.faas_ctx_client_context(self._ctx) if self._ctx is not None else None
        return ClientContext(json.loads(text)) if text else None

    @property
    def function_name(self):
        return self._fn.name

    @property
    def memory_limit_in_mb(self):
        return self._fn.memory

    @property
    def invoked_function_arn(self):
        return self._fn.arn

    @property
    def log_group_name(self):
        return self._fn.log_group

    @property
    def log_stream_name(self):
        serial = lib.faas_ctx_state(self._ctx) if self._ctx is not None else None
        return "%s%08x" % (self._fn.stream_prefix, serial or 0)

    def get_remaining_time_in_millis(self):
        """Milliseconds left before the call's deadline (0 once it has passed)."""
        if self._ctx is None:
            return 0
        return max(0, lib.faas_ctx_remaining_ms(self._ctx))

    def log(self, msg):
        """Write msg to the call's log, as Lambda's context.log does (no newline added)."""
        self._write(str(msg))

    def __repr__(self):
        return "<faas.Context %s of %s>" % (self.aws_request_id, self._fn.name)

    # The call's log: whole lines go to faas_ctx_log(); a partial one waits for its end.
    def _write(self, text):
        if not text:
            return
        text = self._pending + text
        lines = text.split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._log(line)

    def _log(self, line):
        if self._ctx is not None:
            lib.faas_ctx_log(self._ctx, b"%s",
                             line.encode("utf-8", "replace").replace(b"\0", b"\\0"))

    def _flush(self):
        if self._pending:
            self._log(self._pending)
            self._pending = ""


# ---- handler dispatch: runs on the thread libfaas calls the handler on ---------------------

_THIS_FILE = __file__


def _fail(context, error_type, message, trace):
    context._flush()
    context._log("[ERROR] %s: %s" % (error_type, message))
    if trace:
        context._log("Traceback (most recent call last):\n" + "".join(trace).rstrip("\n"))
    # Lambda's Python runtime sends this body (awslambdaric bootstrap.make_error).
    body = {"errorMessage": message, "errorType": error_type,
            "requestId": context.aws_request_id or "", "stackTrace": trace}
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    ctx = context._ctx
    if lib.faas_fail_body(ctx, data, len(data)) == _ETOOLARGE:   # a huge message or trace
        body["errorMessage"] = message[:4096]
        body["stackTrace"] = trace[-20:]
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        lib.faas_fail_body(ctx, data, len(data))
    return _EHANDLER


def _fail_exception(context, exc):
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != _THIS_FILE]
    exc.__traceback__ = None            # frees the frames now, not at the next collection
    return _fail(context, type(exc).__name__, str(exc), traceback.format_list(frames))


def _dispatch(fn, ctx, payload, length):
    """The C trampoline's body: never lets an exception reach ctypes (it would print it and
    report success)."""
    tls = _tls
    context = Context(ctx, fn, tls.call)
    tls.call = context
    try:
        if fn.capture:
            _capture_streams()
            if _log_handler is None:
                _install_log_handler()
        try:
            event = _decode_event(payload[:length] if length else b"")
            data = _encode_result(fn.fn(event, context))
        except _MarshalError as e:
            return _fail(context, "Runtime.MarshalError", str(e), [])
        except BaseException as e:      # SystemExit and KeyboardInterrupt too: the host lives
            return _fail_exception(context, e)
        return lib.faas_reply(ctx, data, len(data))
    except BaseException:
        return _EHANDLER
    finally:
        try:
            context._flush()
        except BaseException:
            pass
        context._ctx = None
        tls.call = context._outer


# ---- the runtime -------------------------------------------------------------------------------

def _from_libfaas(method):
    """A method libfaas calls back (not a handler): counted in _tls.callbacks (see
    Runtime.__del__), and no exception leaves it (ctypes would print it and go on)."""
    @functools.wraps(method)
    def callback(*args):
        depth = _tls.callbacks
        _tls.callbacks = depth + 1
        try:
            method(*args)
        except BaseException:
            pass
        finally:
            _tls.callbacks = depth
    return callback


class _Core:
    """Everything libfaas may call back into for one runtime. It is not referenced by the
    callbacks' targets through the Runtime object, so dropping a Runtime frees it at once
    (Runtime.__del__) rather than in a garbage collection on whichever thread runs it."""

    def __init__(self):
        self.rt = None
        self.functions = {}             # name -> _Function: keeps each trampoline alive
        self.pending = {}               # async call key -> Future
        self.keys = itertools.count(1)
        self.serials = itertools.count(1)
        self.token = uuid.uuid4().hex[:24]
        self.callback = CALLBACK(self._complete)
        self.init_hook = INIT_HOOK(self._init)
        self.record_hook = RECORD_HOOK(self._record)
        self.record_fn = None
        self.log_sink = None
        self.log_fn = None
        self.clock = None               # the (mono_ns, wall_ns) callbacks of clock=...

    def _init(self, state, function):
        # INIT of a new instance: its serial number is its state (the log stream's suffix).
        state[0] = next(self.serials)
        return 0

    @_from_libfaas
    def _complete(self, res, key):
        future = self.pending.pop(key, None)
        if future is not None:
            try:
                value = _result_of(res.contents)
            except BaseException as e:
                future.set_exception(e)
            else:
                future.set_result(value)

    @_from_libfaas
    def _record(self, rec, arg):
        hook = self.record_fn
        if hook is not None:
            hook(Record._from_c(rec.contents))

    @_from_libfaas
    def _log(self, line, arg):
        self.log_fn(line.decode("utf-8", "replace"))

    def free(self):
        rt, self.rt = self.rt, None
        if rt is not None:
            lib.faas_runtime_free(rt)   # the GIL is released: cancelled calls complete here
        self.functions.clear()
        self.record_fn = None
        self.clock = None               # only now: the library reads it until it is freed


def _clock_callbacks(clock):
    """The C clock of a Python clock object: its monotonic_ns() and time_ns() (the time
    module itself is one). A clock that raises reads as 0 rather than unwinding into C."""
    mono, wall = clock.monotonic_ns, clock.time_ns

    def mono_ns(arg):
        try:
            return mono()
        except BaseException:
            return 0

    def wall_ns(arg):
        try:
            return wall()
        except BaseException:
            return 0
    return MONO_NS(mono_ns), WALL_NS(wall_ns)


class ManualClock:
    """A clock that moves only when told: Runtime(manual=True, clock=ManualClock(...)) runs
    schedules and deadlines in a test without waiting. wall is Unix time in seconds (a
    number or an aware datetime); the monotonic time starts at 1 s."""

    def __init__(self, wall=0):
        if hasattr(wall, "timestamp"):
            wall = wall.timestamp()
        self._lock = threading.Lock()
        self._wall_ns = int(round(wall * 1e9))
        self._mono_ns = 1000000000

    def advance(self, seconds=0, *, ns=0):
        """Move both clocks forward (never back)."""
        step = int(round(seconds * 1e9)) + int(ns)
        if step < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._wall_ns += step
            self._mono_ns += step

    def monotonic_ns(self):
        return self._mono_ns

    def time_ns(self):
        return self._wall_ns


def schedule_next(expression, after=None, time_zone=None):
    """When EXPRESSION next fires strictly after AFTER (Unix seconds or an aware datetime;
    None: now) in TIME_ZONE (None: UTC), as an aware UTC datetime; None if it never does.
    faas.InvalidArgument names what is wrong with an expression."""
    import datetime
    if after is None:
        after_ns = time.time_ns()
    elif hasattr(after, "timestamp"):
        after_ns = int(after.timestamp()) * 1000000000 + after.microsecond * 1000
    else:
        after_ns = int(round(after * 1e9))
    out = ctypes.c_int64()
    rc = lib.faas_schedule_next(str(expression).encode(),
                                None if time_zone is None else str(time_zone).encode(),
                                after_ns, ctypes.byref(out))
    if rc == STATUS["ENOTFOUND"]:
        return None
    if rc != 0:
        raise errors.from_status(rc)
    sec, ns = divmod(out.value, 1000000000)
    return datetime.datetime.fromtimestamp(sec, datetime.timezone.utc).replace(
        microsecond=ns // 1000)


def _opt(value):
    return None if value is None else str(value).encode("utf-8")


def _watch_events(events):
    if isinstance(events, str):
        events = (events,)
    mask = 0
    for e in events:
        if e not in WATCH_EVENTS:
            raise ValueError("a watch's events are %s, not %r"
                             % (" and ".join(repr(k) for k in WATCH_EVENTS), e))
        mask |= WATCH_EVENTS[e]
    if not mask:
        raise ValueError("a watch needs at least one of its events")
    return mask


_live = weakref.WeakSet()           # open runtimes, closed at interpreter exit
_orphans = []                       # cores dropped where they cannot be freed (see _may_free)


def _may_free():
    """Whether this thread may free a runtime now. Not inside a callback from libfaas: it
    would wait for that very call. Nor on a thread libfaas made, at all: a runtime in a
    reference cycle is freed by whichever thread the garbage collector runs on, and that
    may be one of the runtime's own workers, inside a callback before _dispatch or
    _from_libfaas could count it (ctypes allocates its arguments first), where
    faas_runtime_free() waits for, or joins, the thread it runs on. Python's own threads
    are safe: a call of a runtime made from one holds the Runtime in a frame, so it is not
    garbage while the call runs."""
    if _tls.callbacks or _tls.call is not None:
        return False
    thread = threading._active.get(threading.get_ident())
    return thread is not None and not isinstance(thread, threading._DummyThread)


def _free_orphans():
    """Free the cores dropped elsewhere, if this thread may (a Runtime made or closed)."""
    while _orphans and _may_free():
        try:
            core = _orphans.pop()
        except IndexError:              # another thread took the last one
            return
        core.free()


@atexit.register
def _close_all():
    for rt in list(_live):
        rt.close()
    while _orphans:
        _orphans.pop().free()


def _name(name):
    if not isinstance(name, str):
        raise TypeError("a function name is a str, not %s" % type(name).__name__)
    return name.encode("utf-8")


class Runtime:
    """A libfaas runtime: registers Python handlers and modules, and calls them.

    Runtime(workers=0, price_model=None, *, manual=False, cpu_time=False, queue_capacity=0,
    max_payload_sync=0, max_payload_async=0, retry_base_ms=0, retry_cap_ms=0, log=None,
    no_histograms=False, capture_output=True, region="us-east-1", account_id="000000000000",
    clock=None)

    Zero means libfaas's default (workers: one per CPU). log, a callable, receives AWS's
    START/END/REPORT lines. clock, an object with monotonic_ns() and time_ns() (such as
    faas.ManualClock), replaces the system clocks for deadlines, schedules and timestamps. As a context manager it drains the queue on exit, then closes.
    Every method may be called from any thread, except close().
    """

    def __init__(self, workers=0, price_model=None, *, manual=False, cpu_time=False,
                 queue_capacity=0, max_payload_sync=0, max_payload_async=0, retry_base_ms=0,
                 retry_cap_ms=0, log=None, no_histograms=False, capture_output=True,
                 region="us-east-1", account_id="000000000000", clock=None):
        _free_orphans()
        core = _Core()
        opts = Options()
        opts.workers = workers
        opts.queue_capacity = queue_capacity
        opts.price_model = price_model.encode() if price_model else None
        opts.manual = 1 if manual else 0
        opts.cpu_time = 1 if cpu_time else 0
        opts.max_payload_sync = max_payload_sync
        opts.max_payload_async = max_payload_async
        opts.retry_base_ms = retry_base_ms
        opts.retry_cap_ms = retry_cap_ms
        opts.no_histograms = 1 if no_histograms else 0
        if log is not None:
            core.log_fn = log
            core.log_sink = LOG_SINK(core._log)
            opts.log = core.log_sink
        if clock is not None:
            core.clock = _clock_callbacks(clock)
            opts.clock.mono_ns = ctypes.cast(core.clock[0], ctypes.c_void_p)
            opts.clock.wall_ns = ctypes.cast(core.clock[1], ctypes.c_void_p)
        rt = ctypes.c_void_p()
        rc = lib.faas_runtime_new(ctypes.byref(rt), ctypes.byref(opts))
        if rc != 0:
            raise errors.from_status(rc)
        core.rt = rt
        self._core = core
        self._capture = bool(capture_output)
        self._region = region
        self._account_id = account_id
        _live.add(self)

    # -- lifecycle --

    def _rt(self):
        rt = self._core.rt
        if rt is None:
            raise errors.Shutdown("the runtime is closed")
        return rt

    def close(self):
        """Free the runtime: running calls finish, queued ones complete with faas.Shutdown.
        Not to be called while another thread uses the runtime, nor from a callback of the
        library (a handler, a Future's done-callback, a record hook): RuntimeError."""
        if self._core.rt is not None and not _may_free():
            # On its own worker faas_runtime_free() would join itself and free the runtime
            # under the call that is running it.
            raise RuntimeError("faas: rt.close() from inside a callback of the library")
        _live.discard(self)
        self._core.free()
        _free_orphans()

    def drain(self, timeout_ms=None):
        """Wait until every asynchronous call has completed; False if timeout_ms passed."""
        ms = _UINT_MAX if timeout_ms is None else int(timeout_ms)
        return lib.faas_drain(self._rt(), ms) == 0

    def run_pending(self):
        """Manual mode: run what is due now on this thread; returns how many ran."""
        n = lib.faas_run_pending(self._rt())
        if n < 0:
            raise errors.from_status(n)
        return n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self._core.rt is not None:
                self.drain()
        finally:
            self.close()
        return False

    def __del__(self):
        core = getattr(self, "_core", None)
        if core is None or core.rt is None:
            return
        if _may_free():
            core.free()
        else:
            _orphans.append(core)       # freed by the next Runtime made or closed, or at exit

    # -- registering --

    def _config(self, settings):
        cfg = Config()
        lib.faas_config_init(ctypes.byref(cfg))
        for key, value in settings.items():
            if key in _CONFIG_UINTS:
                value = int(value)
                if not 0 <= value <= _UINT_MAX:
                    raise ValueError("%s must be 0 to %d, not %d" % (key, _UINT_MAX, value))
                setattr(cfg, key, value)
            elif key == "environment":
                # {"NAME": "value"}: the function's own variables (copied by the library)
                items = ["%s=%s" % (k, v) for k, v in (value or {}).items()]
                arr = (ctypes.c_char_p * (len(items) + 1))(
                    *[i.encode("utf-8") for i in items], None)
                cfg._environment = arr          # alive while cfg is
                cfg.environment = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            elif key in _CONFIG_STRINGS:
                setattr(cfg, key, None if value is None else str(value).encode("utf-8"))
            elif key in _CONFIG_ENUMS:
                names = _CONFIG_ENUMS[key]
                if value not in names:
                    raise ValueError("%s must be one of %s, not %r"
                                     % (key, ", ".join(repr(n) for n in names), value))
                setattr(cfg, key, names[value])
            else:
                raise TypeError("unknown function setting %r (one of: %s)"
                                % (key, ", ".join(_CONFIG_UINTS + _CONFIG_STRINGS +
                                                  tuple(_CONFIG_ENUMS) + ("environment",))))
        return cfg

    def register(self, name, fn, **config):
        """Register fn(event, context) as NAME. config: memory_mb, timeout_ms,
        max_concurrency, min_warm, keep_alive_ms, max_retries, dead_letter, tag (and, for
        modules only, isolation="process" and seccomp="no-network" or "strict")."""
        if not callable(fn):
            raise TypeError("the handler must be callable")
        name_b = _name(name)
        cfg = self._config(config)
        core = self._core
        f = _Function(name, fn, cfg.memory_mb, self._capture, self._region,
                      self._account_id, core.token)
        f.env_names = tuple((config.get("environment") or {}).keys())
        f.handler = HANDLER(functools.partial(_dispatch, f))
        cfg.init = core.init_hook
        rc = lib.faas_register(self._rt(), name_b, f.handler, ctypes.byref(cfg))
        if rc != 0:
            raise errors.from_status(rc)
        core.functions[name] = f
        return fn

    def function(self, name=None, **config):
        """Decorator: @rt.function("resize", memory_mb=256) registers the function below it
        (by its own name when none is given) and leaves it callable as it was."""
        if callable(name):
            return self.register(name.__name__, name)

        def decorate(fn):
            return self.register(name or fn.__name__, fn, **config)
        return decorate

    def register_module(self, name, path, symbol, **config):
        """Register SYMBOL of the shared object PATH; it is loaded at its first call.
        isolation="process" runs each instance in its own process (faas-isolation(7));
        faas.NotSupported where libfaas was built without it."""
        cfg = self._config(config)
        rc = lib.faas_register_module(self._rt(), _name(name), str(path).encode(),
                                      _name(symbol), ctypes.byref(cfg))
        if rc != 0:
            raise errors.from_status(rc)

    def register_ffi(self, name, path, symbol, signature, **config):
        """Register an existing C function by its C signature (faas_register_ffi(3)); path
        None means a symbol of the process. faas.NotSupported where libfaas lacks libffi."""
        cfg = self._config(config)
        rc = lib.faas_register_ffi(self._rt(), _name(name),
                                   None if path is None else str(path).encode(),
                                   _name(symbol), signature.encode(), ctypes.byref(cfg))
        if rc != 0:
            raise errors.from_status(rc)

    def unregister(self, name):
        """Remove NAME; waits for its running calls."""
        rc = lib.faas_unregister(self._rt(), _name(name))
        if rc != 0:
            raise errors.from_status(rc)
        self._core.functions.pop(name, None)

    # -- calling --

    def invoke(self, name, event=_NO_EVENT, client_context=None):
        """Call NAME on this thread and return its decoded result; raise the exception of
        its status (faas.FunctionError, faas.Throttled, faas.NotFound...) if it failed.
        client_context: a dict (or JSON object text) the handler sees as
        context.client_context, as boto3's ClientContext (decoded)."""
        payload = _encode_event(event)
        res = _CResponse()
        if client_context is None:
            lib.faas_invoke(self._rt(), _name(name), payload, len(payload), ctypes.byref(res))
        else:
            if not isinstance(client_context, (str, bytes)):
                client_context = json.dumps(client_context)
            if isinstance(client_context, str):
                client_context = client_context.encode()
            opts = _CInvokeOptions(client_context=client_context)
            lib.faas_invoke_ex(self._rt(), _name(name), payload, len(payload),
                               ctypes.byref(opts), ctypes.byref(res))
        try:
            return _result_of(res)
        finally:
            lib.faas_response_free(ctypes.byref(res))

    def invoke_response(self, name, event=_NO_EVENT):
        """Call NAME and return the whole faas.Response (status, payload, error, log tail,
        record) instead of raising."""
        payload = _encode_event(event)
        res = _CResponse()
        lib.faas_invoke(self._rt(), _name(name), payload, len(payload), ctypes.byref(res))
        try:
            data = _payload(res)
            return Response(res.status, data, _text(res.error_type), _text(res.error_message),
                            _text(res.log_tail) or "", Record._from_c(res.record),
                            _decode_result(data) if res.status == 0 else None)
        finally:
            lib.faas_response_free(ctypes.byref(res))

    def invoke_async(self, name, event=_NO_EVENT):
        """Queue a call of NAME; returns a concurrent.futures.Future (its request_id
        attribute is the call's id) that a worker completes with the result or exception.
        asyncio.wrap_future() turns it into an awaitable."""
        payload = _encode_event(event)
        rt, name_b = self._rt(), _name(name)    # raise before the future is pending
        core = self._core
        future = Future()
        future.set_running_or_notify_cancel()   # an accepted call cannot be withdrawn
        key = next(core.keys)
        core.pending[key] = future
        rid = ctypes.create_string_buffer(37)
        rc = lib.faas_invoke_async(rt, name_b, payload, len(payload), core.callback, key, rid)
        if rc != 0:
            core.pending.pop(key, None)
            raise errors.from_status(rc)
        future.request_id = rid.value.decode()
        return future

    def warm(self, name, instances=1):
        """Make at least INSTANCES instances of NAME live and initialised."""
        rc = lib.faas_warm(self._rt(), _name(name), int(instances))
        if rc != 0:
            raise errors.from_status(rc)

    # -- event sources: schedules and watched directories --

    def schedule(self, name, expression, time_zone=None, *, rule_name=None, account=None,
                 region=None):
        """Call NAME on an EventBridge schedule, "rate(5 minutes)" or "cron(0 12 * * ? *)"
        (cron fields read in TIME_ZONE, an IANA name; None: UTC), with EventBridge's
        "Scheduled Event" as the event; returns the schedule's id (faas_schedule(3)).
        rule_name, account and region go into the event (defaults: NAME-schedule-ID,
        000000000000, us-east-1)."""
        opts = ScheduleOptions()
        opts.time_zone = _opt(time_zone)
        opts.name = _opt(rule_name)
        opts.account = _opt(account)
        opts.region = _opt(region)
        out = ctypes.c_uint64()
        rc = lib.faas_schedule_ex(self._rt(), _name(name), str(expression).encode(),
                                  ctypes.byref(opts), ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return out.value

    def unschedule(self, schedule_id):
        """Stop a schedule: no firing of it starts after this returns."""
        rc = lib.faas_unschedule(self._rt(), int(schedule_id))
        if rc != 0:
            raise errors.from_status(rc)

    def watch(self, name, directory, recursive=False, prefix=None, suffix=None,
              events=("created",), existing=False, bucket=None, *, region=None,
              configuration_id=None):
        """Call NAME with S3's event record for each file that lands in DIRECTORY: the
        bucket is the directory (its base name, unless BUCKET), the key the file's path
        below it, URL-encoded as S3 does (faas_watch(3)). events: "created" and/or
        "removed". prefix and suffix are S3's filter rules, on the encoded key. Returns the
        watch's id."""
        opts = WatchOptions()
        opts.recursive = 1 if recursive else 0
        opts.events = _watch_events(events)
        opts.prefix = _opt(prefix)
        opts.suffix = _opt(suffix)
        opts.existing = 1 if existing else 0
        opts.bucket = _opt(bucket)
        opts.region = _opt(region)
        opts.configuration_id = _opt(configuration_id)
        out = ctypes.c_uint64()
        rc = lib.faas_watch(self._rt(), _name(name), os.fsencode(directory),
                            ctypes.byref(opts), ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return out.value

    def unwatch(self, watch_id):
        """Stop a watch: no call is queued for it after this returns."""
        rc = lib.faas_unwatch(self._rt(), int(watch_id))
        if rc != 0:
            raise errors.from_status(rc)

    # -- observing --

    def stats(self, name=None):
        """faas.Stats of NAME, or of every function."""
        out = _CStats()
        rc = lib.faas_stats_get(self._rt(), None if name is None else _name(name),
                                ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return Stats._from_c(out)

    def on_record(self, hook):
        """hook(faas.Record) for every call from now on (None: stop); it runs on the thread
        that ran the call, possibly on several at once."""
        core = self._core
        core.record_fn = hook
        lib.faas_on_record(self._rt(), core.record_hook if hook is not None else RECORD_HOOK(),
                           None)
        return hook

    # -- versions and aliases --
    # Every call above takes a qualified name: "NAME", "NAME:$LATEST", "NAME:3" (a published
    # version), "NAME:prod" (an alias); an unknown qualifier raises faas.NotFound.

    def publish_version(self, name, description=None):
        """Freeze NAME's code and configuration as a new version and return its number;
        nothing changed since the last version: that one's number (faas_publish_version(3))."""
        out = ctypes.c_uint32()
        rc = lib.faas_publish_version(self._rt(), _name(name),
                                      None if description is None else str(description).encode(),
                                      ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return out.value

    def versions(self, name):
        """NAME's published versions, oldest first: a list of faas.Version."""
        infos = ctypes.POINTER(_CVersionInfo)()
        count = ctypes.c_size_t()
        rc = lib.faas_versions_list(self._rt(), _name(name), ctypes.byref(infos),
                                    ctypes.byref(count))
        if rc != 0:
            raise errors.from_status(rc)
        try:
            return [Version._from_c(infos[i]) for i in range(count.value)]
        finally:
            lib.faas_versions_free(infos)

    def alias_set(self, name, alias, version, extra_version=0, extra_weight=0.0):
        """Create or update ALIAS of NAME: calls go to VERSION (0: $LATEST), and a share
        EXTRA_WEIGHT (0.0-1.0) of them to EXTRA_VERSION. Atomic for calls in flight."""
        rc = lib.faas_alias_set(self._rt(), _name(name), _name(alias), int(version),
                                int(extra_version), float(extra_weight))
        if rc != 0:
            raise errors.from_status(rc)

    def alias_get(self, name, alias):
        """ALIAS's routing now: a faas.Alias; faas.NotFound if there is none."""
        out = _CAliasInfo()
        rc = lib.faas_alias_get(self._rt(), _name(name), _name(alias), ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return Alias._from_c(out)

    def alias_delete(self, name, alias):
        """Delete ALIAS; calls naming it then raise faas.NotFound."""
        rc = lib.faas_alias_delete(self._rt(), _name(name), _name(alias))
        if rc != 0:
            raise errors.from_status(rc)

    def routing_seed(self, seed):
        """Seed the weighted routing: the same seed, the same choices (tests)."""
        lib.faas_routing_seed(self._rt(), int(seed))

    def update_code(self, name, path=None):
        """Load NAME's module from PATH (None: its file as replaced on disk) for new
        instances, with no failed call (faas_update_code(3)); returns the faas.UpdateStatus.
        A LOAD or INIT that fails raises faas.LoadError or faas.InitError with the reason,
        and the old code keeps serving. faas.NotSupported where the loaded libfaas does not
        have it."""
        update = getattr(lib, "faas_update_code", None)
        if update is None:
            raise errors.NotSupported("update_code: this libfaas has no faas_update_code")
        rc = update(self._rt(), _name(name), None if path is None else os.fsencode(path))
        if rc != 0:
            raise errors.from_status(rc)
        return self.update_status(name)

    def update_status(self, name):
        """NAME's last code update: a faas.UpdateStatus (faas_update_status(3))."""
        if getattr(lib, "faas_update_status", None) is None:
            raise errors.NotSupported("update_status: this libfaas has no faas_update_status")
        out = _CUpdateInfo()
        rc = lib.faas_update_status(self._rt(), _name(name), ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return UpdateStatus._from_c(out)

    # -- cost, budgets and metrics --

    def cost_totals(self, group="function"):
        """What the calls so far cost at the runtime's price model: faas.CostRow per
        "function", per "tag", or the "total" (faas_cost_totals(3))."""
        rt = self._rt()
        g = cost.cost_group(group)
        return cost._rows(lambda rows, count: lib.faas_cost_totals(rt, g, rows, count))

    def set_budget(self, tag, limit_picousd, window_ms=0):
        """Limit what the functions tagged TAG may cost per window of window_ms (0: one
        window for ever); past it their calls raise faas.BudgetExceeded."""
        rc = lib.faas_budget_set(self._rt(), str(tag).encode(), int(limit_picousd),
                                 int(window_ms))
        if rc != 0:
            raise errors.from_status(rc)

    def budget(self, tag):
        """TAG's faas.Budget now; faas.NotFound if it has none."""
        out = _CBudget()
        rc = lib.faas_budget_get(self._rt(), str(tag).encode(), ctypes.byref(out))
        if rc != 0:
            raise errors.from_status(rc)
        return Budget._from_c(out)

    def remove_budget(self, tag):
        rc = lib.faas_budget_remove(self._rt(), str(tag).encode())
        if rc != 0:
            raise errors.from_status(rc)

    def _metrics_text(self, fn):
        text = ctypes.c_void_p()
        n = ctypes.c_size_t()
        rc = fn(self._rt(), ctypes.byref(text), ctypes.byref(n))
        if rc != 0:
            raise errors.from_status(rc)
        try:
            return ctypes.string_at(text, n.value).decode("utf-8", "replace")
        finally:
            lib.faas_free(text)

    def metrics(self):
        """Every counter, gauge and histogram, decoded from faas_metrics_json(3)."""
        return json.loads(self._metrics_text(lib.faas_metrics_json))

    def metrics_prometheus(self):
        """The same as Prometheus text exposition (format 0.0.4)."""
        return self._metrics_text(lib.faas_metrics_prometheus)
