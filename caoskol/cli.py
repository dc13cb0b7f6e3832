"""``caoskol`` command line: a thin layer over caoskol.db, caoskol.loaders and caoskol.synthetic.

Subcommands: ``init-db``, ``load``, ``generate``, ``create-user``. Databases come from
``caoskol.db.colegio_url()`` / ``reportes_url()`` (``CAOSKOL_COLEGIO_URL``...). Passwords are
never taken from argv, where ``ps`` and shell history would show them.

Exit codes of ``load``: 0 everything taken, 1 some rows or files refused (the rest loaded),
2 ``--strict`` and an error, so nothing was loaded. Other failures (no database, bad
arguments, an existing account) exit 3 (argparse's own usage errors exit 2).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Sequence

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from caoskol import db, schema

EXIT_FAILURE = 3
PASSWORD_ENV = "CAOSKOL_NEW_PASSWORD"
USERS_PASSWORD_ENV = "CAOSKOL_USERS_PASSWORD"


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _read_password(from_stdin: bool, env_var: str, *, confirm: bool) -> str | None:
    """stdin (one line) if asked, else the environment variable, else an interactive prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if os.environ.get(env_var):
        return os.environ[env_var]
    if confirm and sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise SystemExit("passwords differ")
        return first
    return None


def cmd_init_db(args: argparse.Namespace) -> int:
    for create, url in ((db.create_colegio_schema, db.colegio_url()), (db.create_reportes_schema, db.reportes_url())):
        create(url).dispose()
        print(f"schema ready: {_safe(url)}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from caoskol.loaders import load_files

    url = db.colegio_url()
    eng = db.engine(url)
    try:
        try:
            tables = set(inspect(eng).get_table_names())
        except OperationalError as exc:
            print(f"cannot reach {_safe(url)}: {exc.orig}", file=sys.stderr)
            return EXIT_FAILURE
        if not {"notas", "usuarios"} <= tables:
            print(f"{_safe(url)} has no notas/usuarios tables: run `caoskol init-db` first", file=sys.stderr)
            return EXIT_FAILURE
        report = load_files(args.files, strict=args.strict, kind=args.kind, engine=eng, batch_rows=args.batch_rows)
    finally:
        eng.dispose()
    print(report.format())
    return report.exit_code


def cmd_generate(args: argparse.Namespace) -> int:
    from caoskol.synthetic import DefectRates, generate

    rates = DefectRates(
        null_grade=args.rate_null_grade,
        null_science=args.rate_null_science,
        out_of_range=args.rate_out_of_range,
        duplicate_id=args.rate_duplicate_id,
        mojibake=args.rate_mojibake,
    )
    password = None
    if args.users:
        password = _read_password(args.password_stdin, USERS_PASSWORD_ENV, confirm=False) or None
    summary = generate(
        args.out, args.students, args.seed, rates, users=args.users, teachers=args.teachers, password=password
    )
    print(json.dumps(summary.as_dict(), indent=2))
    if args.users and password is None:
        print(f"random passwords are in {summary.files['usuarios']} (mode 0600)", file=sys.stderr)
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from caoskol.loaders import UserExists, create_user

    password = _read_password(args.password_stdin, PASSWORD_ENV, confirm=True)
    if not password:
        print(f"no password: use --password-stdin or set {PASSWORD_ENV}", file=sys.stderr)
        return EXIT_FAILURE
    eng = db.engine(db.colegio_url())
    try:
        outcome = create_user(
            eng, args.id, args.nombre, args.rol, password, must_change=args.must_change, replace=args.replace
        )
    except (UserExists, ValueError) as exc:
        print(f"create-user: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        eng.dispose()
    print(f"account {args.id} ({args.rol}) {outcome}")
    return 0


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate is a probability within 0..1")
    return value


def build_parser() -> argparse.ArgumentParser:
    from caoskol.loaders.detect import KINDS
    from caoskol.loaders.writers import BATCH_ROWS
    from caoskol.synthetic import DefectRates

    parser = argparse.ArgumentParser(
        prog="caoskol", description="Caoskol: load the school's files, generate synthetic data, create accounts."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("init-db", help="create the colegio and caoskol_reportes schemas (idempotent)")
    p.set_defaults(func=cmd_init_db)

    p = sub.add_parser("load", help="load school files into colegio (notas, usuarios)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--strict", action="store_true", help="any error: load nothing (one transaction)")
    p.add_argument("--kind", choices=("auto",) + KINDS, default="auto", help="file format (default: from content)")
    p.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("generate", help="write synthetic notas.csv (and usuarios.csv)")
    p.add_argument("--students", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--users", action="store_true", help="also write usuarios.csv (students, teachers, one admin)")
    p.add_argument("--teachers", type=int, default=3)
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help=f"one password for every generated account, read from stdin (or set {USERS_PASSWORD_ENV}); "
        "default: random per account",
    )
    defaults = DefectRates()
    for name in ("null_grade", "null_science", "out_of_range", "duplicate_id", "mojibake"):
        p.add_argument(
            f"--rate-{name.replace('_', '-')}", type=_rate, default=getattr(defaults, name), metavar="P",
            help=f"per-row probability (default {getattr(defaults, name)})",
        )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("create-user", help="create an account, e.g. the administrator")
    p.add_argument("--id", type=int, required=True)
    p.add_argument("--nombre", required=True)
    p.add_argument("--rol", choices=schema.ROLES, default="administrador")
    p.add_argument(
        "--password-stdin", action="store_true", help=f"read the password from stdin (else ${PASSWORD_ENV}, else a prompt)"
    )
    p.add_argument("--must-change", action="store_true", help="force a password change at first login")
    p.add_argument("--replace", action="store_true", help="reset name, role and password if the id exists")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("summary", help="print the latest run and the published report's headline figures")
    p.add_argument("--airflow-url", default="http://localhost:8080")
    p.add_argument("--portal-url", default="http://127.0.0.1:8000")
    p.add_argument("--credentials", help="a generated usuarios.csv: print one demo account per role")
    p.add_argument("--airflow-passwords", help="Airflow's simple auth manager passwords file")
    p.set_defaults(func=cmd_summary)
    return parser


def cmd_summary(args: argparse.Namespace) -> int:
    from pathlib import Path

    from caoskol import summary

    info = summary.run_summary(db.engine(db.reportes_url()))
    accounts = []
    if args.credentials and Path(args.credentials).exists():
        accounts = summary.demo_accounts(Path(args.credentials), db.engine(db.colegio_url()))
    airflow_pw = None
    if args.airflow_passwords and Path(args.airflow_passwords).exists():
        airflow_pw = json.loads(Path(args.airflow_passwords).read_text()).get("admin")
    print(summary.format_summary(info, args.airflow_url, args.portal_url, accounts, airflow_pw))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
