"""A vectorised ``column_values.between`` for pandas' nullable integer columns (GX Core 1.x).

Why: GX's pandas implementation of ``expect_column_values_to_be_between`` compares whole
vectors only when the column's dtype is numpy ``int``/``float``. Every integer column of our
snapshots is pandas' nullable ``Int64`` (a NULL grade or science score is real data), so GX
fell back to calling a Python function per value: 1.2 s per expectation per million rows,
most of a validation's time at scale (docs/BENCHMARKS.md).

How: GX's own extension point. Subclassing GX's metric provider re-registers the metric
``column_values.between`` for the pandas engine with the function below; SQL and Spark keep
GX's implementations (the subclass inherits them unchanged). The function only adds a fast
path: when GX hands it a nullable integer column (GX has already dropped the NULLs, as for
every map metric) and numeric bounds, the comparison is done on an ``int64`` numpy array by
GX's own ``_pandas_vectorized``; any other column or bound goes to GX's original function,
so its errors and semantics stay GX's. Same result, row for row (tested against a pandas
reference in tests/integration/test_gx_metrics.py).

Importing this module registers the metric; :func:`install` is the explicit way to say so.
"""

from __future__ import annotations

import logging
import numbers

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.metrics.column_map_metrics.column_values_between import ColumnValuesBetween
from great_expectations.expectations.metrics.map_metric_provider import column_condition_partial


def _unwrap(fn):
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn


# GX's own pandas function (below its decorators), for every case the fast path leaves.
_gx_between = _unwrap(ColumnValuesBetween.__dict__["_pandas"])


def _numeric_bound(value) -> bool:
    return value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool))


def _is_nullable_integer(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_signed_integer_dtype(column.dtype)


# GX logs a warning when a metric's provider is replaced; here the replacement is the point.
_registry_log = logging.getLogger("great_expectations.expectations.registry")
_level = _registry_log.level
_registry_log.setLevel(logging.ERROR)
try:

    class NullableIntegerColumnValuesBetween(ColumnValuesBetween):
        """``column_values.between`` with a vectorised path for ``Int64``-like columns."""

        @column_condition_partial(engine=PandasExecutionEngine)
        def _pandas(cls, column, min_value=None, max_value=None, strict_min=None, strict_max=None, **kwargs):
            fast = (
                _is_nullable_integer(column)
                and not column.isna().any()  # GX filtered NULLs; a caller that did not gets GX's path
                and _numeric_bound(min_value)
                and _numeric_bound(max_value)
                and (min_value is not None or max_value is not None)
                and (min_value is None or max_value is None or min_value <= max_value)
            )
            if not fast:
                return _gx_between(
                    cls, column, min_value=min_value, max_value=max_value,
                    strict_min=strict_min, strict_max=strict_max, **kwargs,
                )
            values = pd.Series(column.to_numpy(dtype="int64"), index=column.index)
            return cls._pandas_vectorized(values, min_value, max_value, strict_min, strict_max)

finally:
    _registry_log.setLevel(_level)


def install() -> type:
    """Make sure the vectorised metric is registered (importing this module does it)."""
    return NullableIntegerColumnValuesBetween


def registered_pandas_provider():
    """The class GX will use for ``column_values.between`` on pandas (for tests and checks)."""
    from great_expectations.expectations.registry import _registered_metrics

    provider_cls, _fn = _registered_metrics["column_values.between.condition"]["providers"]["PandasExecutionEngine"]
    return provider_cls
