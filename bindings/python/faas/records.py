"""Records, statistics and responses as dataclasses, copied out of libfaas's structures.

Units are the C API's: nanoseconds (_ns), milliseconds (_ms), pico-dollars (1e-12 USD).
"""

import ctypes
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from ._lib import Record as _CRecord
from ._lib import lib

_GROUPS = ("total", "function", "tag")     # enum faas_cost_group


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
    version: int = 0        # the published version that ran (NAME:3, an alias); 0: $LATEST

    @property
    def ok(self):
        return self.status == 0

    @property
    def cost_usd(self):
        return self.cost_picousd / 1e12

    def json(self):
        """The record as one line of JSON, the format of record files (faas_record_json(3))."""
        return _format(lib.faas_record_json, self._to_c())

    def report(self):
        """AWS's REPORT line for this record (faas_record_format(3))."""
        return _format(lib.faas_record_format, self._to_c())

    def _to_c(self):
        return _CRecord(self.request_id.encode(),
                        self.function.encode() if self.function is not None else None,
                        self.tag.encode() if self.tag is not None else None,
                        self.status, int(self.cold), self.attempt, self.init_ns,
                        self.duration_ns, self.cpu_ns, self.billed_ms, self.memory_mb,
                        self.max_memory_bytes, self.cost_picousd, self.version)

    @classmethod
    def _from_c(cls, r):
        return cls(r.request_id.decode(),
                   r.function.decode("utf-8", "replace") if r.function else None,
                   r.tag.decode("utf-8", "replace") if r.tag else None,
                   r.status, bool(r.cold), r.attempt, r.init_ns, r.duration_ns, r.cpu_ns,
                   r.billed_ms, r.memory_mb, r.max_memory_bytes, r.cost_picousd, r.version)


def _format(fn, c_record):
    """What an snprintf-style formatter of a record writes, grown to fit."""
    size = 512
    while True:
        buf = ctypes.create_string_buffer(size)
        n = fn(ctypes.byref(c_record), buf, size)
        if n < 0:
            return ""
        if n < size:
            return buf.value.decode("utf-8", "replace")
        size = n + 1


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
    p999_ms: float                  # the handler's duration quantiles above; INIT's and the
    init_p50_ms: float              # async queue wait's here (faas_stats_get(3))
    init_p90_ms: float
    init_p99_ms: float
    init_p999_ms: float
    init_max_ms: float
    queue_p50_ms: float
    queue_p90_ms: float
    queue_p99_ms: float
    queue_p999_ms: float
    queue_max_ms: float
    init_count: int
    queue_count: int
    budget_refusals: int
    mb_ms: int
    request_picousd: int
    compute_picousd: int
    instance_deaths: int            # isolated instances found dead between calls, replaced

    @classmethod
    def _from_c(cls, s):
        return cls(*(getattr(s, f.name) for f in fields(cls)))


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


@dataclass(frozen=True)
class CostRow:
    """One row of cost: a model's total, or a function's or a tag's share (faas_cost_compare(3)).
    group is "total", "function" or "tag"; name is None for a total and for untagged calls."""
    model: str
    group: str
    name: Optional[str]
    calls: int
    mb_ms: int
    unit2_ms: int
    request_picousd: int
    compute_picousd: int
    fixed_picousd: int
    free_picousd: int
    total_picousd: int
    cpu_estimated: bool

    @property
    def gb_seconds(self):
        return self.mb_ms / 1024000

    @property
    def total_usd(self):
        return self.total_picousd / 1e12

    @classmethod
    def _from_c(cls, r):
        return cls(r.model.decode() if r.model else "",
                   _GROUPS[r.group] if 0 <= r.group < len(_GROUPS) else str(r.group),
                   r.name.decode("utf-8", "replace") if r.name else None,
                   r.calls, r.mb_ms, r.unit2_ms, r.request_picousd, r.compute_picousd,
                   r.fixed_picousd, r.free_picousd, r.total_picousd, bool(r.cpu_estimated))


@dataclass(frozen=True)
class Budget:
    """A tag's budget now (faas_budget_set(3)): pico-dollars and milliseconds."""
    limit_picousd: int
    window_ms: int
    spent_picousd: int
    window_left_ms: int
    refusals: int

    @classmethod
    def _from_c(cls, b):
        return cls(b.limit_picousd, b.window_ms, b.spent_picousd, b.window_left_ms,
                   b.refusals)


@dataclass(frozen=True)
class Version:
    """A published version (faas_publish_version(3)): its number, Lambda's CodeSha256
    (base64), its description, when it was published (Unix time, ns) and Lambda's CodeSize
    (bytes of its frozen code: the module file, or a process function's task root; 0 for a
    host function)."""
    version: int
    code_sha256: str
    description: str
    published_ns: int
    code_size: int = 0

    @classmethod
    def _from_c(cls, v):
        return cls(v.version, v.code_sha256.decode(),
                   v.description.decode("utf-8", "replace") if v.description else "",
                   v.published_ns, v.code_size)


@dataclass(frozen=True)
class Alias:
    """An alias's routing now (faas_alias_set(3)): its version (0: $LATEST), and the share
    extra_weight of calls that go to extra_version (0: none)."""
    version: int
    extra_version: int
    extra_weight: float
    revision: int

    @classmethod
    def _from_c(cls, a):
        return cls(a.version, a.extra_version, a.extra_weight, a.revision)


@dataclass(frozen=True)
class UpdateStatus:
    """NAME's last hot code update (faas_update_status(3)): status is Lambda's
    LastUpdateStatus ("Successful", "Failed", "InProgress", or None when never updated),
    reason why it failed, code_sha256 of the code $LATEST runs."""
    status: Optional[str]
    reason: str
    code_sha256: str
    updates: int
    failures: int
    updated_ns: int

    _STATUS = {0: None, 1: "Successful", 2: "Failed", 3: "InProgress"}

    @classmethod
    def _from_c(cls, u):
        return cls(cls._STATUS.get(u.status), u.reason.decode(errors="replace"),
                   u.code_sha256.decode(), u.updates, u.failures, u.updated_ns)


@dataclass(frozen=True)
class PriceModel:
    """A preset price model's published figures (faas_price_model(3)): pico-dollars per
    request and per GB-second, and a second dimension when it has one."""
    name: str
    source: Optional[str]
    read_on: Optional[str]
    request_picousd: int
    gbs_picousd: int
    unit2: Optional[str]
    unit2_picousd: int

    @classmethod
    def _from_c(cls, m):
        text = (lambda b: b.decode() if b else None)
        return cls(text(m.name), text(m.source), text(m.read_on), m.request_picousd,
                   m.gbs_picousd, text(m.unit2), m.unit2_picousd)
