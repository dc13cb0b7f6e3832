"""Data Docs rendered by a real validation load nothing from outside the machine."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from caoskol import datadocs, schema, validation


def test_rendered_data_docs_reference_no_cdn(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    df = pd.DataFrame(
        {
            "id": pd.array([1, 2, 3], dtype="Int64"),
            "nombre": pd.array(["Mario Muñoz", "Ana", "Luis"], dtype="string"),
            **{c: pd.array([7, 8, None], dtype="Int64") for c in ("grado",)},
            "premios": pd.array([0, 1, 2], dtype="Int64"),
            "programa": pd.array([0, 1, 3], dtype="Int64"),
            **{c: pd.array([50, 60, 70], dtype="Int64") for c in schema.SUBJECTS},
            "rol": pd.array(["estudiante"] * 3, dtype="string"),
        }
    )
    df.to_parquet(raw / "part-00000.parquet", index=False)
    summary = validation.validate_raw(tmp_path)
    pages = list(Path(summary["docs_index"]).parent.rglob("*.html"))
    assert len(pages) >= 2  # the index and the validation result page
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert datadocs.external_loads(html) == [], page
    # The content is still there: the suite's name and an observed column.
    index = Path(summary["docs_index"]).read_text(encoding="utf-8")
    assert "caoskol_raw" in index


def test_make_offline_removes_each_kind_of_external_load(tmp_path):
    page = tmp_path / "p.html"
    page.write_text(
        '<link rel="stylesheet" href="https://cdn.example/b.css"><script src="https://cdn.example/j.js"></script>'
        "<img src='https://s3.example/logo.png'><style>.x{background: url('https://s3.example/l.png') 0 0}</style>"
        '<link rel="stylesheet" href="static/styles/local.css"><a href="https://greatexpectations.io">GX</a>',
        encoding="utf-8",
    )
    assert datadocs.make_offline(tmp_path) == 4
    html = page.read_text(encoding="utf-8")
    assert datadocs.external_loads(html) == []
    assert 'href="static/styles/local.css"' in html and "https://greatexpectations.io" in html
