"""Task timings survive tasks that run at the same time (the two Spark jobs do)."""

from __future__ import annotations

import multiprocessing

from caoskol import runs


def _time_task(args):
    run_dir, task_id = args
    for _ in range(200):
        runs.record_task_start(run_dir, task_id)
        runs.record_task_end(run_dir, task_id)
    return task_id


def test_parallel_tasks_keep_their_own_timings(tmp_path):
    tasks = ["spark_statistics", "spark_correlations", "clean", "extract"]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert sorted(pool.map(_time_task, [(tmp_path, t) for t in tasks])) == sorted(tasks)
    seconds = runs.task_seconds(tmp_path)
    assert set(seconds) == set(tasks)
    assert all(s >= 0 for s in seconds.values())
    # Other metadata written meanwhile is untouched and readable.
    runs.write_meta(tmp_path, "clean", {"read": 400})
    assert runs.read_meta(tmp_path, "clean") == {"read": 400}
