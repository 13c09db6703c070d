"""`python -m bench.medians`: figures quoted from several runs are each target's median, checked
against its limit on the median, and a missing figure stays missing."""

import json

from bench.medians import main


def run(tmp_path, name, cpu, errors):
    common = {"door": "chat", "relation": "≤"}
    checks = [
        {**common, "name": "CPU", "value": cpu, "limit": 2.5, "unit": "ms"},
        {**common, "name": "errors", "value": errors, "limit": 0, "unit": ""},
    ]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"checks": checks}))
    return str(path)


def test_each_target_is_the_median_of_the_runs_checked_on_it(tmp_path, capsys):
    runs = [run(tmp_path, "a", 3.0, 0), run(tmp_path, "b", 1.0, None), run(tmp_path, "c", 2.0, 4)]

    assert main(runs) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["medians of 3 run(s)", "[chat]"]
    assert lines[2].split()[:3] == ["met", "CPU", "2"]  # not the first run's 3.0, which misses
    assert lines[3].split()[:3] == ["MISSED", "errors", "2"]  # the median of the two measured


def test_a_file_that_is_not_a_run_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")

    assert main([str(bad)]) == 2
    assert "bench.medians" in capsys.readouterr().err
