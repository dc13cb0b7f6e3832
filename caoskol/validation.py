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

Scale limit: each validation reads its whole Parquet folder into one pandas DataFrame
(~100 bytes per row for the 9 raw columns) and GX's pandas engine works on it in memory.
Measured: 1M raw rows peak at ~540 MB RSS (of which ~310 MB is the interpreter with GX
imported), i.e. ~230 bytes per row while validating, and take ~4-5 s after the ~7 s GX
import. Budget ~2.5 GB for 10M rows; beyond that, validate with GX's Spark or SQL
execution engine instead of pandas.
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
    from caoskol import cleaning

    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    folder = run_dir / kind
    columns = cleaning.RAW_COLUMNS if kind == "raw" else schema.NOTAS_COLUMNS
    df = cleaning.read_snapshot(folder)
    if df.empty and len(df.columns) == 0:  # no part file at all: an empty table
        df = _empty_frame(columns)

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
    result = definition.run(batch_parameters={"dataframe": df}, result_format=RESULT_FORMAT)

    # ValidationDefinition.run already stored the result; store it again without the
    # values of confidential columns, before the docs render it.
    if _scrub_confidential(result):
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

    summary = summarize(result, rows=len(df))
    summary["result_path"] = str(result_path)
    summary["docs_index"] = str(docs_dir / "index.html")

    failed = summary["failed_critical"] + (summary["failed_soft"] if fail_on_soft else [])
    if failed:
        raise ValidationFailed(_message(kind, suite.name, result, failed), summary)
    return summary


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
