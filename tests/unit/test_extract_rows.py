"""extract.rows_to_table: driver tuples to the raw snapshot's Arrow schema (pure logic)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from caoskol import extract, schema


def test_tuples_become_typed_columns_with_nulls_and_utf8_names():
    rows = [
        (1, "Muñoz Peña", 7, 2, 1, 55, 60, 70, "estudiante"),
        (2, "Ana", None, 0, None, 100, 0, None, None),
        (3, "Zoë", 12, 5, 3, 0, 100, 99, "profesor"),
    ]
    table = extract.rows_to_table(rows)
    assert table.schema == extract.RAW_SCHEMA
    assert table.column_names == list(schema.NOTAS_COLUMNS) + ["rol"]
    assert table.to_pylist() == [dict(zip(table.column_names, r)) for r in rows]


def test_a_value_of_the_wrong_type_fails_instead_of_being_coerced():
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        extract.rows_to_table([(1, "Ana", "séptimo", 0, 1, 1, 1, 1, None)])
