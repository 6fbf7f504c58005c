"""Money and projections: pico-dollars as text, the preset price models, and what recorded
calls would cost on each of them. Runtime-level totals, budgets and metrics are methods of
faas.Runtime. Money is integer pico-dollars (1e-12 USD), as in libfaas.
"""

import ctypes

from . import errors
from ._lib import CostRow as _CCostRow
from ._lib import lib
from .records import CostRow, PriceModel

_GROUP = {"total": 0, "function": 1, "tag": 2}


def format_usd(picousd, decimals=-1):
    """Pico-dollars as dollars, "$1.200002": exact when decimals < 0 (at least two
    digits), else rounded half up to that many (0-12). See faas_format_usd(3)."""
    buf = ctypes.create_string_buffer(64)
    n = lib.faas_format_usd(int(picousd), int(decimals), buf, len(buf))
    if n < 0:
        raise errors.from_status(n)
    return buf.value.decode()


def price_models():
    """Every preset price model, in libfaas's order."""
    out = []
    i = 0
    while True:
        m = lib.faas_price_model_preset(i)
        if not m:
            return out
        out.append(PriceModel._from_c(m.contents))
        i += 1


def _rows(call):
    """Run call(rows_out, count_out), copy the rows and release the library's array."""
    rows = ctypes.POINTER(_CCostRow)()
    count = ctypes.c_size_t()
    rc = call(ctypes.byref(rows), ctypes.byref(count))
    if rc != 0:
        raise errors.from_status(rc)
    try:
        return [CostRow._from_c(rows[i]) for i in range(count.value)]
    finally:
        lib.faas_free(ctypes.cast(rows, ctypes.c_void_p))


def cost_compare(records, monthly_calls=0, models=None):
    """What these faas.Record calls would cost on each model (names; None: every preset),
    scaled to monthly_calls a month (0: as recorded), free tiers applied: per model a
    total row, then one per function and per tag. See faas_cost_compare(3)."""
    structs = [r._to_c() for r in records]       # they own the strings the array points to
    c_recs = (type(structs[0]) * len(structs))(*structs) if structs else None
    ptrs = None
    nmodels = 0
    if models is not None:
        found = []
        for name in models:
            m = lib.faas_price_model_find(name.encode())
            if not m:
                raise errors.InvalidArgument("unknown price model %r" % name)
            found.append(ctypes.cast(m, ctypes.c_void_p))
        nmodels = len(found)
        ptrs = (ctypes.c_void_p * nmodels)(*found)
    return _rows(lambda rows, count: lib.faas_cost_compare(
        c_recs, len(structs), int(monthly_calls), ptrs, nmodels, rows, count))


def cost_group(group):
    try:
        return _GROUP[group]
    except KeyError:
        raise ValueError("group must be one of %s, not %r"
                         % (", ".join(_GROUP), group)) from None
