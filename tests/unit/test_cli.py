"""The CLI's argument handling and the generate command (no database)."""

from __future__ import annotations

import json

import pytest

from caoskol import cli
from caoskol.synthetic import NOTAS_FILE, USERS_FILE


def test_subcommands_and_defaults():
    parser = cli.build_parser()
    args = parser.parse_args(["load", "a.csv", "b.xlsx", "--strict", "--kind", "sql-dump"])
    assert (args.files, args.strict, args.kind) == (["a.csv", "b.xlsx"], True, "sql-dump")
    args = parser.parse_args(["generate", "--students", "10", "--seed", "1", "--out", "d"])
    assert args.rate_null_grade > 0 and args.rate_mojibake > 0 and not args.users
    args = parser.parse_args(["create-user", "--id", "9000", "--nombre", "Admin"])
    assert args.rol == "administrador" and not args.password_stdin


def test_no_password_option_on_the_command_line():
    # A password in argv is visible in `ps` and shell history: there is no flag for it.
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["create-user", "--id", "1", "--nombre", "A", "--password", "x"])


@pytest.mark.parametrize("bad", ["--kind=parquet", "--rate-null-grade=2"])
def test_bad_arguments_are_usage_errors(bad):
    argv = ["load", "f", bad] if bad.startswith("--kind") else ["generate", "--students", "1", "--seed", "1", "--out", "d", bad]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2


def test_generate_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("given-password\n"))
    code = cli.main(["generate", "--students", "500", "--seed", "8", "--out", str(tmp_path), "--users",
                     "--password-stdin", "--rate-duplicate-id", "0.1"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["students"] == 500 and summary["duplicate_id"] > 20
    assert (tmp_path / NOTAS_FILE).exists()
    lines = (tmp_path / USERS_FILE).read_text(encoding="utf-8").splitlines()
    assert all(line.split(",")[3] == "given-password" for line in lines[1:])
