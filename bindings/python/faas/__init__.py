"""faas: libfaas from Python, with AWS Lambda's own handler and context API, in-process.

    import faas

    with faas.Runtime(workers=2) as rt:
        @rt.function("resize", memory_mb=256, timeout_ms=3000)
        def resize(event, context):
            print("resizing", event["key"])          # goes to the call's log
            return {"ok": True, "request": context.aws_request_id}

        rt.invoke("resize", {"key": "cat.png"})     # -> {'ok': True, 'request': '...'}
        future = rt.invoke_async("resize", {"key": "dog.png"})

See faas-python(7). The library is found through the system loader (libfaas.so.0) or at
the path in the FAAS_LIBRARY environment variable.
"""

from ._lib import lib as _lib
from ._runtime import Context, ManualClock, Runtime, schedule_next
from .cost import cost_compare, format_usd, price_models
from .errors import (AlreadyExists, BudgetExceeded, Busy, Crashed, FaasError, FunctionError,
                     InitError, InvalidArgument, LoadError, NoMemory, NotFound, NotSupported,
                     OutOfMemory, Shutdown, Throttled, Timeout, TooLarge)
from .records import (Alias, Budget, CostRow, PriceModel, Record, Response, Stats,
                      UpdateStatus, Version)

__version__ = "0.1.0"


def library_version():
    """The version of the libfaas this package loaded, "MAJOR.MINOR.PATCH"."""
    return _lib.faas_version().decode()


__all__ = ["Runtime", "Context", "ManualClock", "schedule_next", "Record", "Response", "Stats", "library_version",
           "Budget", "CostRow", "Version", "Alias", "UpdateStatus", "PriceModel", "cost_compare", "format_usd", "price_models",
           "FaasError", "FunctionError", "Timeout", "OutOfMemory", "Crashed", "LoadError",
           "InitError", "InvalidArgument", "NoMemory", "NotFound", "AlreadyExists",
           "Throttled", "TooLarge", "Busy", "Shutdown", "BudgetExceeded", "NotSupported"]
