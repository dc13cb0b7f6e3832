from caoskol.airflow_cli import json_rows, run_state

OUTPUT = (
    "[warning  ] Could not import graphviz. Rendering graph to the graphical format will not be possible.\n"
    "You might need to install the graphviz package and necessary system packages.\n"
    '[{"dag_id": "caoskol_nightly", "run_id": "manual__a", "state": "running"}, '
    '{"dag_id": "caoskol_nightly", "run_id": "manual__b", "state": "success"}]\n'
)


def test_json_after_warning_lines_that_start_with_a_bracket():
    assert [r["run_id"] for r in json_rows(OUTPUT)] == ["manual__a", "manual__b"]
    assert run_state(OUTPUT, "manual__b") == "success"
    assert run_state(OUTPUT, "manual__c") == "none"


def test_empty_list_and_no_json():
    assert json_rows("[warning ] x\n[]\n") == []
    assert run_state("nothing here", "x") == "none"
