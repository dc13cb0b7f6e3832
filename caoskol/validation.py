"""Great Expectations (GX Core 1.x) validation of a run's raw and clean snapshots.

The suites are reviewed JSON files, ``expectations/raw_suite.json`` and
``expectations/clean_suite.json`` (folder: ``caoskol.config.expectations_dir()``), loaded at
run time, never built in code. Each expectation's ``meta`` carries:

* ``clave`` - a stable key, used in the summary and in messages;
* ``critical`` - ``true``: a failure fails the run; ``false``: measured and recorded, the
  cleaning policy deals with the rows concerned (``severity`` says the same to GX:
  ``critical`` / ``warning``);
* ``mensaje_es`` / ``mensaje_en`` - what the failure means, for the exception message.

Per run folder this module writes::

    validation/raw.json, validation/clean.json   full GX result (result_format SUMMARY)
    validation/gx_results/                       GX validation results store (for the docs)
    validation/docs/index.html                   GX Data Docs (static HTML, both suites)

GX runs in an *ephemeral* Data Context (no ``gx/`` project folder, no network; analytics
off): expectation suites and definitions live in memory; only the validation results
store and the Data Docs site are folders of the run. ``great_expectations`` takes ~6 s to
import, so it is imported inside the functions, never at module import.

Scale: memory is bounded by the chunk size, not by the table. The snapshot is read in
chunks of ``CAOSKOL_VALIDATION_CHUNK_ROWS`` rows (default 1 000 000; one chunk for any
table up to that size, i.e. exactly GX's own single run), GX validates each chunk with the
same suite, and the per-chunk results are merged with GX's own rules (``_format_map_output``
and ``_mostly_success``): counts and row counts are summed, the partial lists keep the first
20 unexpected values in row order with their global row index, ``mostly`` is decided on the
totals. The one expectation that compares rows with each other
(``expect_column_values_to_be_unique``) is validated by GX on that single column of the
whole snapshot (8-9 bytes per row: ~90 MB at 10M rows), never per chunk.
Measured on 10M rows (docs/BENCHMARKS.md): peak RSS 1.36 GiB for the raw suite and
1.28 GiB for the clean one with 1M-row chunks, against 3.8 and 3.4 GiB when the whole
snapshot was one frame (and faster: fewer full-frame copies). Time is linear in the rows:
GX's pandas ``expect_column_values_to_be_between`` called a Python function per value for
nullable integer columns (``Int64``), most of the validation time; ``caoskol.gx_metrics``
registers a vectorised implementation of that metric.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from caoskol import config, schema
from caoskol.errors import PermanentError

SUITE_FILES = {"raw": "raw_suite.json", "clean": "clean_suite.json"}
DOCS_SITE = "caoskol"
RESULT_FORMAT = "SUMMARY"
# Result keys that carry row values; dropped for confidential columns (programa).
_VALUE_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
    "unexpected_rows",
)
_LABELS = {
    "raw": ("la validación de los datos crudos falló", "raw data validation failed"),
    "clean": ("la validación de los datos limpios falló", "clean data validation failed"),
}


class ValidationFailed(PermanentError):
    """A suite failed where the run must stop. ``summary`` is the summary dict; the message
    (Spanish / English) names every failed expectation that caused it."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary
        self.failures = summary.get("failed_critical", []) + summary.get("failed_soft", [])


class SuiteFileError(PermanentError, ValueError):
    """A reviewed suite file is malformed (GX would silently drop a bad expectation)."""


# --- public API --------------------------------------------------------------------------


def validate_raw(run_dir: str | Path) -> dict[str, Any]:
    """Validate ``run_dir/raw/`` with the raw suite; raise only if a critical one fails.

    Writes ``validation/raw.json`` and rebuilds ``validation/docs/``. Returns the summary
    (see :func:`summarize`). Raises :class:`ValidationFailed` when an expectation whose
    ``meta.critical`` is true fails (empty table, missing columns, non-integer types).
    """
    return _validate(Path(run_dir), "raw", fail_on_soft=False)


def validate_clean(run_dir: str | Path) -> dict[str, Any]:
    """Validate ``run_dir/clean/`` with the strict clean suite; raise if anything fails.

    Writes ``validation/clean.json`` and rebuilds ``validation/docs/``. Returns the summary.
    """
    return _validate(Path(run_dir), "clean", fail_on_soft=True)


def suite_path(kind: str) -> Path:
    return config.expectations_dir() / SUITE_FILES[kind]


def load_suite_json(kind: str) -> dict[str, Any]:
    """Read and check a reviewed suite file (plain JSON, no GX import).

    Checks what GX does not: every expectation has a unique ``meta.clave``, a boolean
    ``meta.critical`` matching its ``severity``, and both messages.
    """
    path = suite_path(kind)
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    problems = []
    if not data.get("name"):
        problems.append("the suite has no name")
    seen: set[str] = set()
    for i, exp in enumerate(data.get("expectations") or []):
        meta = exp.get("meta") or {}
        key = meta.get("clave")
        where = f"expectation {i} ({exp.get('type')})"
        if not key or not isinstance(key, str):
            problems.append(f"{where}: meta.clave missing")
        elif key in seen:
            problems.append(f"{where}: meta.clave {key!r} repeated")
        seen.add(key)
        if not isinstance(meta.get("critical"), bool):
            problems.append(f"{where}: meta.critical must be true or false")
        elif (exp.get("severity", "critical") == "critical") != meta["critical"]:
            problems.append(f"{where}: severity {exp.get('severity')!r} disagrees with meta.critical")
        for field in ("mensaje_es", "mensaje_en"):
            if not meta.get(field):
                problems.append(f"{where}: meta.{field} missing")
    if not data.get("expectations"):
        problems.append("the suite has no expectations")
    if problems:
        raise SuiteFileError(f"{path}: " + "; ".join(problems))
    return data


def build_suite(kind: str):
    """The GX ``ExpectationSuite`` of a reviewed file, every expectation checked.

    ``ExpectationSuite(expectations=[...])`` logs and *drops* an expectation it cannot
    build (unknown type, misspelt argument); here that is an error instead.
    """
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    data = load_suite_json(kind)
    errors = []
    for exp in data["expectations"]:
        try:
            ExpectationConfiguration(**exp).to_domain_obj()
        except Exception as exc:  # noqa: BLE001 - reported below, with the file name
            errors.append(f"{exp.get('meta', {}).get('clave')} ({exp.get('type')}): {exc}")
    if errors:
        raise SuiteFileError(f"{suite_path(kind)}: invalid expectations: " + "; ".join(errors))
    suite = gx.ExpectationSuite(**{k: v for k, v in data.items() if k in ("name", "expectations", "meta", "notes")})
    if len(suite.expectations) != len(data["expectations"]):
        raise SuiteFileError(f"{suite_path(kind)}: GX dropped expectations while loading the suite")
    return suite


def summarize(result, rows: int) -> dict[str, Any]:
    """Summary of a GX ``ExpectationSuiteValidationResult`` (JSON-serialisable).

    ``{"suite", "rows", "success", "critical_success", "failed_critical", "failed_soft",
    "expectations": {clave: {"type", "column", "critical", "success", "observed",
    "unexpected_count", "unexpected_percent", "error"}}}``. ``observed`` is GX's
    ``observed_value`` (aggregate expectations), ``unexpected_*`` are set for
    row-by-row ones; ``error`` holds the exception message when the expectation could not
    run (e.g. its column is missing).
    """
    expectations: dict[str, Any] = {}
    failed_critical, failed_soft = [], []
    for er in result.results:
        cfg = er.expectation_config
        meta = cfg.meta or {}
        key = meta.get("clave") or cfg.type
        res = er.result or {}
        exc = er.exception_info or {}
        error = exc.get("exception_message") if exc.get("raised_exception") else None
        critical = bool(meta.get("critical", True))
        expectations[key] = {
            "type": cfg.type,
            "column": cfg.kwargs.get("column"),
            "critical": critical,
            "success": bool(er.success),
            "observed": _jsonable(res.get("observed_value")),
            "unexpected_count": _jsonable(res.get("unexpected_count")),
            "unexpected_percent": _jsonable(res.get("unexpected_percent")),
            "error": error,
        }
        if not er.success:
            (failed_critical if critical else failed_soft).append(key)
    return {
        "suite": result.suite_name,
        "rows": rows,
        "success": bool(result.success),
        "critical_success": not failed_critical,
        "failed_critical": failed_critical,
        "failed_soft": failed_soft,
        "expectations": expectations,
    }


# --- internals ---------------------------------------------------------------------------


def _validate(run_dir: Path, kind: str, fail_on_soft: bool) -> dict[str, Any]:
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    from caoskol import gx_metrics

    gx_metrics.install()  # GX's `between` on Int64 columns, vectorised (see the module)
    folder = run_dir / kind
    columns = cleaning_columns(kind)
    if not folder.is_dir():
        raise FileNotFoundError(f"no existe la carpeta / no such folder: {folder}")

    out_dir = run_dir / "validation"
    out_dir.mkdir(parents=True, exist_ok=True)
    results_dir = out_dir / "gx_results"
    docs_dir = out_dir / "docs"

    context = _context(results_dir, docs_dir)
    suites = {k: context.suites.add(build_suite(k)) for k in SUITE_FILES}
    suite = suites[kind]
    # A retried task replaces its earlier attempt in the docs instead of piling up.
    shutil.rmtree(results_dir / suite.name, ignore_errors=True)
    shutil.rmtree(docs_dir / "validations" / suite.name, ignore_errors=True)

    import great_expectations as gx

    batch = (
        context.data_sources.add_pandas("caoskol")
        .add_dataframe_asset(f"notas_{kind}")
        .add_batch_definition_whole_dataframe("snapshot")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=suite)
    )
    chunks = iter_chunks(folder, columns, chunk_rows())
    first = next(chunks)
    rows = len(first)
    # The first chunk runs as the validation definition (GX stores it and the docs show it);
    # further chunks are validated as batches and merged into it.
    result = definition.run(batch_parameters={"dataframe": first}, result_format=RESULT_FORMAT)
    del first
    others = []
    for chunk in chunks:
        rows += len(chunk)
        others.append(batch.get_batch(batch_parameters={"dataframe": chunk}).validate(suite, result_format=RESULT_FORMAT))
        del chunk
    if others:
        whole = _validate_whole_columns(batch, suite, folder)
        merge_chunk_results(result, others, whole)
    changed = bool(others)

    # ValidationDefinition.run already stored the result; store it again (merged, and
    # without the values of confidential columns) before the docs render it.
    if _scrub_confidential(result) or changed:
        store = context.validation_results_store
        for key in store.list_keys():
            if key.expectation_suite_identifier.name == suite.name:
                store.set(key, result)

    result_path = out_dir / f"{kind}.json"
    tmp = result_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_json_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, result_path)

    context.build_data_docs(site_names=[DOCS_SITE])
    # GX's pages load CSS/JS from public CDNs; an intranet (and the portal's CSP) has none.
    from caoskol import datadocs

    datadocs.make_offline(docs_dir)

    summary = summarize(result, rows=rows)
    summary["result_path"] = str(result_path)
    summary["docs_index"] = str(docs_dir / "index.html")

    failed = summary["failed_critical"] + (summary["failed_soft"] if fail_on_soft else [])
    if failed:
        raise ValidationFailed(_message(kind, suite.name, result, failed), summary)
    return summary


# --- chunked validation ------------------------------------------------------------------

# Expectations whose outcome for one row depends on other rows: never validated per chunk.
WHOLE_COLUMN_TYPES = ("expect_column_values_to_be_unique",)
# Table-level expectations whose chunk results are merged by rule (see merge_chunk_results).
_ROW_COUNT_TYPES = ("expect_table_row_count_to_be_between",)
# Same outcome on every chunk (they look at column names and dtypes, which come from the one
# Arrow schema of the snapshot): the first chunk's result stands.
_SCHEMA_TYPES = (
    "expect_table_columns_to_match_set",
    "expect_table_columns_to_match_ordered_list",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_be_of_type",
    "expect_column_to_exist",
)


def chunk_rows() -> int:
    return max(1, int(os.environ.get("CAOSKOL_VALIDATION_CHUNK_ROWS", "1000000")))


def cleaning_columns(kind: str) -> tuple[str, ...]:
    from caoskol import cleaning

    return cleaning.RAW_COLUMNS if kind == "raw" else schema.NOTAS_COLUMNS


def iter_chunks(folder: Path, columns, rows_per_chunk: int):
    """DataFrames of at most ``rows_per_chunk`` rows, in row order, with a global RangeIndex
    (so GX's unexpected index lists are row numbers of the whole snapshot). Always yields at
    least one frame: a snapshot without rows is one empty, typed frame."""
    import pandas as pd
    import pyarrow.parquet as pq

    from caoskol import cleaning

    parts = cleaning.parquet_parts(folder)
    if not parts:
        yield _empty_frame(columns)
        return
    start = 0
    empty_schema = None
    for part in parts:
        pf = pq.ParquetFile(part)
        empty_schema = empty_schema or pf.schema_arrow
        for record_batch in pf.iter_batches(batch_size=rows_per_chunk):
            df = cleaning.arrow_to_pandas(record_batch)
            df.index = pd.RangeIndex(start, start + len(df))
            start += len(df)
            yield df
    if start == 0:
        yield cleaning.arrow_to_pandas(empty_schema.empty_table())


def _validate_whole_columns(batch_definition, suite, folder: Path) -> dict[int, Any]:
    """GX results of the cross-row expectations, each on its one column of the whole snapshot."""
    import pyarrow.dataset as ds

    from caoskol import cleaning

    dataset = ds.dataset([str(p) for p in cleaning.parquet_parts(folder)], format="parquet")
    out = {}
    for expectation in suite.expectations:
        if expectation.expectation_type not in WHOLE_COLUMN_TYPES:
            continue
        column = expectation.column
        if column not in dataset.schema.names:
            continue  # the chunk results already carry GX's "missing column" error
        frame = cleaning.arrow_to_pandas(dataset.to_table(columns=[column]))
        out[_key(expectation.configuration)] = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            expectation, result_format=RESULT_FORMAT
        )
        del frame
    return out


def _key(cfg) -> str:
    """An expectation's identity across runs: its reviewed ``meta.clave`` (unique per suite)."""
    return (cfg.meta or {}).get("clave") or f"{cfg.type}:{json.dumps(cfg.kwargs, sort_keys=True, default=str)}"


def merge_chunk_results(result, others: list, whole: dict[str, Any]) -> None:
    """Merge per-chunk GX suite results into ``result`` (the first chunk's), in place.

    Row-wise (map) expectations: element, unexpected and missing counts are summed; the
    first 20 unexpected values and their (global) row indexes are kept in row order; success
    is decided by GX's ``mostly`` rule on the totals, and the result dict is rebuilt by GX's
    own ``_format_map_output``. Row count: summed and checked against the bounds. Schema
    expectations: identical on every chunk, the first stands. Cross-row expectations: the
    whole-column result from ``whole``. Anything else is refused: it could not be merged
    faithfully.
    """
    from great_expectations.expectations.expectation import _format_map_output, _mostly_success
    from great_expectations.expectations.expectation_configuration import parse_result_format

    fmt = parse_result_format(RESULT_FORMAT)
    limit = fmt["partial_unexpected_count"]
    by_key = [{_key(r.expectation_config): r for r in o.results} for o in others]
    for er in result.results:
        cfg = er.expectation_config
        etype = cfg.type
        key = _key(cfg)
        chunk_results = [er] + [o[key] for o in by_key]
        if key in whole:
            w = whole[key]
            er.success, er.result, er.exception_info = w.success, w.result, w.exception_info
            continue
        raised = [c for c in chunk_results if (c.exception_info or {}).get("raised_exception")]
        if raised:  # GX could not run it (a missing column): its error stands for the whole
            er.success, er.result, er.exception_info = raised[0].success, raised[0].result, raised[0].exception_info
            continue
        if etype in _SCHEMA_TYPES:
            continue
        if etype in _ROW_COUNT_TYPES:
            total = sum(int(c.result.get("observed_value") or 0) for c in chunk_results)
            lo, hi = cfg.kwargs.get("min_value"), cfg.kwargs.get("max_value")
            er.result = {**er.result, "observed_value": total}
            er.success = (lo is None or total >= lo) and (hi is None or total <= hi)
            continue
        if etype in WHOLE_COLUMN_TYPES or "element_count" not in (er.result or {}):
            raise RuntimeError(f"{etype}: no rule to merge its chunk results; validate it whole")
        element = sum(c.result["element_count"] for c in chunk_results)
        unexpected = sum(c.result["unexpected_count"] for c in chunk_results)
        has_missing = "missing_count" in er.result
        nonnull = element - sum(c.result["missing_count"] for c in chunk_results) if has_missing else None
        values, indexes = [], []
        for c in chunk_results:
            values += c.result.get("partial_unexpected_list") or []
            indexes += c.result.get("partial_unexpected_index_list") or []
        mostly = cfg.kwargs.get("mostly", 1)
        considered = nonnull if has_missing else element
        if element == 0 or considered == 0:
            success = True  # vacuously, as GX decides it
        else:
            success = _mostly_success(considered, unexpected, mostly)
        merged = _format_map_output(
            result_format=fmt,
            success=success,
            element_count=element,
            nonnull_count=nonnull,
            unexpected_count=unexpected,
            unexpected_list=values[:limit],
            unexpected_index_list=indexes[:limit] if indexes or "partial_unexpected_index_list" in er.result else None,
        )
        er.success, er.result = merged["success"], merged["result"]
    stats = result.statistics
    evaluated = len(result.results)
    ok = sum(1 for er in result.results if er.success)
    stats.update(
        evaluated_expectations=evaluated,
        successful_expectations=ok,
        unsuccessful_expectations=evaluated - ok,
        success_percent=(ok / evaluated * 100) if evaluated else None,
    )
    result.success = ok == evaluated
    result.meta["caoskol_chunks"] = 1 + len(others)


def _context(results_dir: Path, docs_dir: Path):
    """Ephemeral GX context: suites and definitions in memory, results and docs on disk."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(results_dir)},
    }
    project_config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=project_config)


def _empty_frame(columns):
    import pandas as pd

    return pd.DataFrame(
        {c: pd.Series(dtype="string" if c in ("nombre", "rol") else "Int64") for c in columns}
    )


def _scrub_confidential(result) -> bool:
    changed = False
    for er in result.results:
        if er.expectation_config.kwargs.get("column") in schema.CONFIDENTIAL_COLUMNS and er.result:
            for k in _VALUE_KEYS:
                if k in er.result:
                    del er.result[k]
                    changed = True
    return changed


def _message(kind: str, suite_name: str, result, failed: list[str]) -> str:
    head_es, head_en = _LABELS[kind]
    parts = []
    for er in result.results:
        meta = er.expectation_config.meta or {}
        if meta.get("clave") not in failed:
            continue
        d_es, d_en = _detail(er)
        parts.append(f"{meta['mensaje_es']} ({d_es}) / {meta['mensaje_en']} ({d_en})")
    return f"{head_es} / {head_en} [{suite_name}]: " + "; ".join(parts)


def _detail(er) -> tuple[str, str]:
    res = er.result or {}
    exc = er.exception_info or {}
    if exc.get("raised_exception"):
        msg = str(exc.get("exception_message") or "").splitlines()[0][:300]
        return f"error: {msg}", f"error: {msg}"
    etype = er.expectation_config.type
    if etype in ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"):
        n = res.get("observed_value")
        return f"{n} filas", f"{n} rows"
    mismatched = (res.get("details") or {}).get("mismatched")
    if isinstance(mismatched, dict):
        es, en = [], []
        if mismatched.get("missing"):
            es.append("faltan: " + ", ".join(mismatched["missing"]))
            en.append("missing: " + ", ".join(mismatched["missing"]))
        if mismatched.get("unexpected"):
            es.append("sobran: " + ", ".join(mismatched["unexpected"]))
            en.append("unexpected: " + ", ".join(mismatched["unexpected"]))
        return "; ".join(es), "; ".join(en)
    if isinstance(mismatched, list):
        found = ", ".join(str(c) for c in res.get("observed_value") or [])
        return f"columnas: {found}", f"columns: {found}"
    if res.get("unexpected_count") is not None:
        n, total = res["unexpected_count"], res.get("element_count")
        pct = res.get("unexpected_percent") or 0.0
        return f"{n} de {total} filas, {pct:.2f}%", f"{n} of {total} rows, {pct:.2f}%"
    return f"observado: {res.get('observed_value')}", f"observed: {res.get('observed_value')}"


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)
