"""Field conversions: what is refused (cannot be represented) and what is kept for the pipeline."""

from decimal import Decimal

import pytest

from caoskol.loaders.values import BadValue, canonical_column, clean_name, parse_int, parse_program


@pytest.mark.parametrize(
    "raw, expected",
    [(None, None), ("", None), ("NULL", None), ("null", None), (" 58 ", 58), ("-5", -5), (140, 140),
     (Decimal("58.0"), 58), (58.0, 58), ("58.0", 58), (True, 1)],
)
def test_parse_int_accepts(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["58.5", "abc", "1_000", "٣", 58.5, float("nan"), "99999", Decimal("Infinity"), "1e999999999"])
def test_parse_int_refuses(raw):
    with pytest.raises(BadValue):
        parse_int(raw)


def test_out_of_range_scores_are_not_refused():
    # The loader only refuses what cannot be stored; 140 or -3 reach MySQL for the pipeline.
    assert parse_int("140") == 140 and parse_int("-3") == -3


@pytest.mark.parametrize(
    "raw, code",
    [("Academico", 0), ("académico", 0), ("VOCACIONAL", 1), (" General ", 3), ("3", 3), (1, 1), ("2", 2), ("", None)],
)
def test_parse_program(raw, code):
    assert parse_program(raw) == code


def test_unknown_program_word_is_refused():
    with pytest.raises(BadValue, match="unknown program word 'Tecnico'"):
        parse_program("Tecnico")


def test_aliases_of_the_old_system():
    assert [canonical_column(c) for c in ["num_premios", "`puntaje_mat`", "Puntaje_Ing", "puntaje_ciencias", "ID"]] == [
        "premios", "matematicas", "ingles", "ciencias", "id"]


def test_clean_name_repairs_mojibake_and_keeps_lost_letters():
    assert clean_name("Mario MuÃ±oz") == ("Mario Muñoz", True)
    assert clean_name("Jesus MadroÃ±ero") == ("Jesus Madroñero", True)
    assert clean_name("Mario Muñoz") == ("Mario Muñoz", False)
    assert clean_name("Mario Mu\ufffdoz") == ("Mario Mu\ufffdoz", False)
    assert clean_name("O’Brien") == ("O’Brien", False)  # not "fixed" to a straight quote
    for bad in (None, "", "  ", "NULL", "x" * 151):
        with pytest.raises(BadValue):
            clean_name(bad)
