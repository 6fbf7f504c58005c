"""The C side: finds and loads libfaas, and declares its structures and prototypes.

Owns the ctypes mirror of <faas.h>; knows nothing of handlers, events or exceptions.
Each mirror is its structure exactly, as <faas.h> ("Plain-data structures") lays it out
for one major version: a sized one starts with its size, which its constructor sets to
the mirror's own, so that a newer library reads no more than this module wrote; a fixed
one ends in the reserved words a newer library's fields take, so that its size, the
stride of the arrays the library hands out and reads, never changes.
"""

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int,
                    c_int32, c_int64, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

# The C library is at least this version (faas_version_number(): major << 16 | minor << 8).
MIN_VERSION = 0x000100


class _Sized(Structure):
    """A structure the library reads as far as its leading size says (FAAS_*_INIT)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.size = ctypes.sizeof(self)


class Clock(Structure):
    # mono_ns and wall_ns are MONO_NS and WALL_NS callbacks, or NULL for the system clocks.
    _fields_ = [("mono_ns", c_void_p), ("wall_ns", c_void_p), ("arg", c_void_p)]


LOG_SINK = CFUNCTYPE(None, c_char_p, c_void_p)


class Options(_Sized):
    _fields_ = [
        ("size", c_size_t),
        ("workers", c_uint),
        ("queue_capacity", c_size_t),
        ("price_model", c_char_p),
        ("log", LOG_SINK),
        ("log_arg", c_void_p),
        ("clock", Clock),
        ("manual", c_int),
        ("cpu_time", c_int),
        ("max_payload_sync", c_size_t),
        ("max_payload_async", c_size_t),
        ("retry_base_ms", c_uint),
        ("retry_cap_ms", c_uint),
        ("idle_spin_us", c_int),
        ("price", c_void_p),
        ("no_histograms", c_int),
        ("journal_dir", c_char_p),
        ("journal_segment_bytes", c_size_t),
    ]


INIT_HOOK = CFUNCTYPE(c_int, POINTER(c_void_p), c_char_p)


class Config(Structure):
    _fields_ = [
        ("memory_mb", c_uint),
        ("timeout_ms", c_uint),
        ("max_concurrency", c_uint),
        ("min_warm", c_uint),
        ("keep_alive_ms", c_uint),
        ("max_retries", c_uint),
        ("dead_letter", c_char_p),
        ("tag", c_char_p),
        ("init", INIT_HOOK),
        ("shutdown", c_void_p),
        ("isolation", c_int),
        ("seccomp", c_int),
        ("remote", c_int),
        ("pids_max", c_uint),
        ("environment", POINTER(c_char_p)),     # a union with a uint64_t in faas.h
        ("reserved", c_uint64 * 7),
    ]


class Record(Structure):
    _fields_ = [
        ("request_id", c_char * 37),
        ("function", c_char_p),
        ("tag", c_char_p),
        ("status", c_int),
        ("cold", c_int),
        ("attempt", c_int),
        ("init_ns", c_uint64),
        ("duration_ns", c_uint64),
        ("cpu_ns", c_uint64),
        ("billed_ms", c_uint32),
        ("memory_mb", c_uint32),
        ("max_memory_bytes", c_uint64),
        ("cost_picousd", c_uint64),
        ("version", c_uint32),          # the published version that ran; 0: $LATEST
        ("reserved32", c_uint32),
        ("reserved", c_uint64 * 3),
    ]


class VersionInfo(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("reserved32", c_uint32),
        ("code_sha256", c_char * 48),
        ("description", c_char_p),
        ("published_ns", c_int64),
        ("code_size", c_uint64),
        ("reserved", c_uint64 * 3),
    ]


class AliasInfo(Structure):
    _fields_ = [
        ("version", c_uint32),
        ("extra_version", c_uint32),
        ("extra_weight", c_double),
        ("revision", c_uint64),
        ("reserved", c_uint64 * 4),
    ]


class UpdateInfo(Structure):
    _fields_ = [
        ("status", c_int32),
        ("error", c_int32),
        ("reason", c_char * 512),
        ("code_sha256", c_char * 48),
        ("updates", c_uint64),
        ("failures", c_uint64),
        ("updated_ns", c_int64),
        ("reserved", c_uint64 * 4),
    ]


class Response(Structure):
    # error_type, error_message and log_tail are read as addresses: only what is used is
    # copied into Python.
    _fields_ = [
        ("status", c_int),
        ("data", POINTER(c_char)),      # sliced: res.data[:res.len]
        ("len", c_size_t),
        ("error_type", c_void_p),
        ("error_message", c_void_p),
        ("log_tail", c_void_p),
        ("record", Record),
        ("reserved", c_uint64 * 4),
    ]


class Stats(Structure):
    _fields_ = [
        ("invocations", c_uint64),
        ("errors", c_uint64),
        ("throttles", c_uint64),
        ("cold_starts", c_uint64),
        ("timeouts", c_uint64),
        ("retries", c_uint64),
        ("dead_letters", c_uint64),
        ("instances_live", c_uint),
        ("instances_busy", c_uint),
        ("p50_ms", c_double),
        ("p90_ms", c_double),
        ("p99_ms", c_double),
        ("max_ms", c_double),
        ("cost_picousd", c_uint64),
        ("p999_ms", c_double),
        ("init_p50_ms", c_double),
        ("init_p90_ms", c_double),
        ("init_p99_ms", c_double),
        ("init_p999_ms", c_double),
        ("init_max_ms", c_double),
        ("queue_p50_ms", c_double),
        ("queue_p90_ms", c_double),
        ("queue_p99_ms", c_double),
        ("queue_p999_ms", c_double),
        ("queue_max_ms", c_double),
        ("init_count", c_uint64),
        ("queue_count", c_uint64),
        ("budget_refusals", c_uint64),
        ("mb_ms", c_uint64),
        ("request_picousd", c_uint64),
        ("compute_picousd", c_uint64),
        ("instance_deaths", c_uint64),
        ("reserved", c_uint64 * 16),
    ]


class CostRow(Structure):
    _fields_ = [
        ("model", c_char_p),
        ("group", c_int),
        ("name", c_char_p),
        ("calls", c_uint64),
        ("mb_ms", c_uint64),
        ("unit2_ms", c_uint64),
        ("request_picousd", c_uint64),
        ("compute_picousd", c_uint64),
        ("fixed_picousd", c_uint64),
        ("free_picousd", c_uint64),
        ("total_picousd", c_uint64),
        ("cpu_estimated", c_int),
        ("reserved", c_uint64 * 4),
    ]


class Budget(Structure):
    _fields_ = [
        ("limit_picousd", c_uint64),
        ("window_ms", c_uint64),
        ("spent_picousd", c_uint64),
        ("window_left_ms", c_uint64),
        ("refusals", c_uint64),
        ("reserved", c_uint64 * 4),
    ]


class PriceModel(Structure):
    # The leading fields of faas_price_model, read from the library's own presets only
    # (through a pointer: never an array of them, never passed to the library).
    _fields_ = [
        ("name", c_char_p),
        ("source", c_char_p),
        ("read_on", c_char_p),
        ("request_picousd", c_uint64),
        ("gbs_picousd", c_uint64),
        ("unit2", c_char_p),
        ("unit2_picousd", c_uint64),
    ]


class InvokeOptions(_Sized):
    _fields_ = [
        ("size", c_size_t),
        ("client_context", c_char_p),
    ]


class ScheduleOptions(_Sized):
    _fields_ = [
        ("size", c_size_t),
        ("time_zone", c_char_p),
        ("name", c_char_p),
        ("account", c_char_p),
        ("region", c_char_p),
    ]


class WatchOptions(_Sized):
    _fields_ = [
        ("size", c_size_t),
        ("recursive", c_int),
        ("events", c_uint),
        ("prefix", c_char_p),
        ("suffix", c_char_p),
        ("existing", c_int),
        ("bucket", c_char_p),
        ("region", c_char_p),
        ("configuration_id", c_char_p),
    ]


# faas_watch_options.events (<faas.h>'s FAAS_WATCH_CREATED, FAAS_WATCH_REMOVED).
WATCH_EVENTS = {"created": 1, "removed": 2}

MONO_NS = CFUNCTYPE(c_uint64, c_void_p)
WALL_NS = CFUNCTYPE(c_int64, c_void_p)
HANDLER = CFUNCTYPE(c_int, c_void_p, POINTER(c_char), c_size_t)
CALLBACK = CFUNCTYPE(None, POINTER(Response), c_void_p)
RECORD_HOOK = CFUNCTYPE(None, POINTER(Record), c_void_p)


def _candidates():
    path = os.environ.get("FAAS_LIBRARY")
    if path:
        return [path]
    names = ["libfaas.so.0"]
    found = ctypes.util.find_library("faas")
    if found and found not in names:
        names.append(found)
    return names


def _load():
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    raise ImportError("faas: libfaas could not be loaded (install it, or set FAAS_LIBRARY "
                      "to the path of libfaas.so.0): " + "; ".join(errors))


def _declare(lib):
    def fn(name, restype, *argtypes):
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = list(argtypes)
        return f

    vp, cp, sz = c_void_p, c_char_p, c_size_t
    fn("faas_version", cp)
    fn("faas_version_number", c_uint)
    fn("faas_strerror", cp, c_int)
    fn("faas_err_name", cp, c_int)
    fn("faas_last_error", cp)
    fn("faas_runtime_new", c_int, POINTER(vp), POINTER(Options))
    fn("faas_runtime_free", None, vp)
    fn("faas_run_pending", c_int, vp)
    fn("faas_drain", c_int, vp, c_uint)
    fn("faas_on_record", None, vp, RECORD_HOOK, vp)
    fn("faas_config_init", None, POINTER(Config))
    fn("faas_register", c_int, vp, cp, HANDLER, POINTER(Config))
    fn("faas_register_module", c_int, vp, cp, cp, cp, POINTER(Config))
    fn("faas_register_ffi", c_int, vp, cp, cp, cp, cp, POINTER(Config))
    fn("faas_unregister", c_int, vp, cp)
    # Payloads are passed as bytes (read-only to the library, which copies what it keeps).
    fn("faas_invoke", c_int, vp, cp, cp, sz, POINTER(Response))
    fn("faas_invoke_ex", c_int, vp, cp, cp, sz, POINTER(InvokeOptions), POINTER(Response))
    fn("faas_response_free", None, POINTER(Response))
    fn("faas_invoke_async", c_int, vp, cp, cp, sz, CALLBACK, vp, c_char_p)
    fn("faas_warm", c_int, vp, cp, c_uint)
    fn("faas_reply", c_int, vp, cp, sz)
    fn("faas_fail_body", c_int, vp, cp, sz)
    fn("faas_ctx_remaining_ms", c_int64, vp)
    fn("faas_ctx_request_id", cp, vp)
    fn("faas_ctx_client_context", cp, vp)
    fn("faas_ctx_getenv", cp, vp, cp)
    fn("faas_ctx_state", vp, vp)
    fn("faas_ctx_log", None, vp, cp, cp)    # always called as (ctx, b"%s", line)
    fn("faas_stats_get", c_int, vp, cp, POINTER(Stats))
    fn("faas_record_format", c_int, POINTER(Record), c_char_p, sz)
    # Cost models, budgets and metrics export.
    fn("faas_free", None, vp)
    fn("faas_format_usd", c_int, c_uint64, c_int, c_char_p, sz)
    fn("faas_record_json", c_int, POINTER(Record), c_char_p, sz)
    fn("faas_price_model_find", POINTER(PriceModel), cp)
    fn("faas_price_model_preset", POINTER(PriceModel), sz)
    fn("faas_cost_totals", c_int, vp, c_int, POINTER(POINTER(CostRow)), POINTER(sz))
    fn("faas_cost_compare", c_int, POINTER(Record), sz, c_uint64, POINTER(c_void_p), sz,
       POINTER(POINTER(CostRow)), POINTER(sz))
    fn("faas_budget_set", c_int, vp, cp, c_uint64, c_uint64)
    fn("faas_budget_get", c_int, vp, cp, POINTER(Budget))
    fn("faas_budget_remove", c_int, vp, cp)
    fn("faas_metrics_json", c_int, vp, POINTER(c_void_p), POINTER(sz))
    fn("faas_metrics_prometheus", c_int, vp, POINTER(c_void_p), POINTER(sz))
    # Schedules and watched directories; an id is a faas_trigger_id (uint64_t).
    fn("faas_schedule_ex", c_int, vp, cp, cp, POINTER(ScheduleOptions), POINTER(c_uint64))
    fn("faas_unschedule", c_int, vp, c_uint64)
    fn("faas_schedule_next", c_int, cp, cp, c_int64, POINTER(c_int64))
    fn("faas_watch", c_int, vp, cp, cp, POINTER(WatchOptions), POINTER(c_uint64))
    fn("faas_unwatch", c_int, vp, c_uint64)
    # Versions and aliases (faas_publish_version(3), faas_alias_set(3)).
    fn("faas_publish_version", c_int, vp, cp, cp, POINTER(c_uint32))
    fn("faas_versions_list", c_int, vp, cp, POINTER(POINTER(VersionInfo)), POINTER(sz))
    fn("faas_versions_free", None, POINTER(VersionInfo))
    fn("faas_alias_set", c_int, vp, cp, cp, c_uint32, c_uint32, c_double)
    fn("faas_alias_delete", c_int, vp, cp, cp)
    fn("faas_alias_get", c_int, vp, cp, cp, POINTER(AliasInfo))
    fn("faas_routing_seed", None, vp, c_uint64)
    # Hot code update (issue 15): declared when the loaded library has it.
    if hasattr(lib, "faas_update_code"):
        fn("faas_update_code", c_int, vp, cp, cp)
        fn("faas_update_status", c_int, vp, cp, POINTER(UpdateInfo))
    return lib


lib = _declare(_load())

if lib.faas_version_number() < MIN_VERSION:
    raise ImportError("faas: libfaas %s is older than this binding needs (0.1.0)"
                      % lib.faas_version().decode())

# Status codes, by name (FAAS_ stripped): OK, EINVAL, ... as <faas.h> defines them.
STATUS = {}
for _code in range(0, -64, -1):
    _name = lib.faas_err_name(_code).decode()
    if _name != "FAAS_EUNKNOWN":
        STATUS[_name[len("FAAS_"):]] = _code
