"""The vectorised ``column_values.between`` (caoskol.gx_metrics) inside real GX runs.

Expected counts and row indexes come from plain pandas comparisons written here, not from
GX or from the module under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import great_expectations as gx

from caoskol import gx_metrics


def _validate(frame: pd.DataFrame, **kwargs):
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("t")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectation = gx.expectations.ExpectColumnValuesToBeBetween(column="v", **kwargs)
    return batch.validate(expectation, result_format={"result_format": "COMPLETE"})


def _frame(seed: int = 3, n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = pd.array(rng.integers(-20, 130, n), dtype="Int64")
    values[rng.random(n) < 0.05] = pd.NA
    return pd.DataFrame({"v": values}, index=pd.RangeIndex(1000, 1000 + n))


CASES = [
    dict(min_value=0, max_value=100),
    dict(min_value=0, max_value=100, strict_min=True),
    dict(min_value=0, max_value=100, strict_max=True),
    dict(min_value=0, max_value=100, strict_min=True, strict_max=True),
    dict(min_value=0),
    dict(max_value=100),
    dict(min_value=6.5, max_value=12),
]


def _reference_unexpected(frame: pd.DataFrame, case: dict) -> list[int]:
    present = frame["v"].dropna().astype(int)
    ok = pd.Series(True, index=present.index)
    lo, hi = case.get("min_value"), case.get("max_value")
    if lo is not None:
        ok &= (present > lo) if case.get("strict_min") else (present >= lo)
    if hi is not None:
        ok &= (present < hi) if case.get("strict_max") else (present <= hi)
    return sorted(present.index[~ok].tolist())


def test_the_pandas_provider_of_between_is_the_vectorised_one():
    gx_metrics.install()
    assert gx_metrics.registered_pandas_provider() is gx_metrics.NullableIntegerColumnValuesBetween


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_same_rows_as_a_pandas_reference_on_nullable_integers(case):
    frame = _frame()
    result = _validate(frame, **case)
    expected = _reference_unexpected(frame, case)
    assert result.result["unexpected_count"] == len(expected)
    assert sorted(result.result["unexpected_index_list"]) == expected
    assert result.result["missing_count"] == int(frame["v"].isna().sum())
    assert result.success is (not expected)


def test_every_value_in_range_passes_and_nulls_are_not_unexpected():
    frame = pd.DataFrame({"v": pd.array([6, None, 12, 9, None], dtype="Int64")})
    result = _validate(frame, min_value=6, max_value=12)
    assert result.success
    assert result.result["unexpected_count"] == 0
    assert result.result["missing_count"] == 2


def test_non_integer_columns_keep_gx_semantics():
    # Strings against numeric bounds: GX's own function raises its own TypeError.
    frame = pd.DataFrame({"v": pd.array(["a", "b"], dtype="string")})
    result = _validate(frame, min_value=0, max_value=100)
    assert not result.success
    assert "must either be None or of the same type" in str(result.exception_info)
    # Floats are vectorised by GX itself and give the same answers.
    floats = pd.DataFrame({"v": [0.5, 101.0, np.nan, 50.0]})
    assert _validate(floats, min_value=0, max_value=100).result["unexpected_index_list"] == [1]


def test_min_greater_than_max_is_still_refused():
    frame = pd.DataFrame({"v": pd.array([1, 2], dtype="Int64")})
    result = _validate(frame, min_value=10, max_value=1)
    assert not result.success
    assert "min_value cannot be greater than max_value" in str(result.exception_info)
