"""Records, statistics and responses as dataclasses, copied out of libfaas's structures.

Units are the C API's: nanoseconds (_ns), milliseconds (_ms), pico-dollars (1e-12 USD).
"""

import ctypes
from dataclasses import dataclass, field
from typing import Any, Optional

from ._lib import Record as _CRecord
from ._lib import lib


def _text(ptr):
    return ctypes.string_at(ptr).decode("utf-8", "replace") if ptr else None


@dataclass(frozen=True)
class Record:
    """One handler run (or one throttled call): who ran, how long, and what it cost."""
    request_id: str
    function: Optional[str]
    tag: Optional[str]
    status: int
    cold: bool
    attempt: int
    init_ns: int
    duration_ns: int
    cpu_ns: int
    billed_ms: int
    memory_mb: int
    max_memory_bytes: int
    cost_picousd: int

    @property
    def ok(self):
        return self.status == 0

    @property
    def cost_usd(self):
        return self.cost_picousd / 1e12

    def report(self):
        """AWS's REPORT line for this record (faas_record_format(3))."""
        c = _CRecord(self.request_id.encode(), None, None, self.status, int(self.cold),
                     self.attempt, self.init_ns, self.duration_ns, self.cpu_ns,
                     self.billed_ms, self.memory_mb, self.max_memory_bytes,
                     self.cost_picousd)
        buf = ctypes.create_string_buffer(512)
        n = lib.faas_record_format(ctypes.byref(c), buf, len(buf))
        return buf.value.decode() if n >= 0 else ""

    @classmethod
    def _from_c(cls, r):
        return cls(r.request_id.decode(),
                   r.function.decode("utf-8", "replace") if r.function else None,
                   r.tag.decode("utf-8", "replace") if r.tag else None,
                   r.status, bool(r.cold), r.attempt, r.init_ns, r.duration_ns, r.cpu_ns,
                   r.billed_ms, r.memory_mb, r.max_memory_bytes, r.cost_picousd)


@dataclass(frozen=True)
class Stats:
    """Counters, instance gauges, latency quantiles and cost of one function or all."""
    invocations: int
    errors: int
    throttles: int
    cold_starts: int
    timeouts: int
    retries: int
    dead_letters: int
    instances_live: int
    instances_busy: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    cost_picousd: int

    @classmethod
    def _from_c(cls, s):
        return cls(s.invocations, s.errors, s.throttles, s.cold_starts, s.timeouts,
                   s.retries, s.dead_letters, s.instances_live, s.instances_busy,
                   s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.cost_picousd)


@dataclass(frozen=True)
class Response:
    """A whole call's outcome (Runtime.invoke_response): never raised, always returned."""
    status: int
    payload: bytes
    error_type: Optional[str]
    error_message: Optional[str]
    log_tail: str
    record: Record
    result: Any = field(default=None)

    @property
    def ok(self):
        return self.status == 0
