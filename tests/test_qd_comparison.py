"""experiments/qd_comparison.py: QDax's methods and ours at equal evaluations (smoke size).

One QDax method and one of ours on pointmaze (2 iterations of 100, one seed, MLP 4): both get the
same evaluations, curves of the same length, metrics within their ranges, and the table.
"""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("qdax")

from experiments import qd_comparison  # noqa: E402


def test_equal_budgets_and_metrics(tmp_path):
    out = str(tmp_path / "out")
    rc = qd_comparison.main(["--quick", "--tasks", "pointmaze", "--methods", "map_elites,cma_es",
                             "--seeds", "1", "--iterations", "2", "--out", out, "--figures", out])
    assert rc == 0
    with open(os.path.join(out, "results.json")) as fh:
        res = json.load(fh)
    s = res["settings"]["pointmaze"]
    assert s["evaluations_per_seed"] == 200 and s["cells"] == 1024 and s["qd_offset"] == pytest.approx(234.31)
    with open(os.path.join(out, "pointmaze", "cma_es", "summary.json")) as fh:
        assert json.load(fh)["seeds"][0]["evaluations"] == 200  # = QDax's initial batch + 1 iteration
    for method in ("map_elites", "cma_es"):
        e = res["pointmaze"][method]
        assert e["curve_evaluations"] == [100, 200] and len(e["curve_qd_score"]) == 2
        row = e["per_seed"][0]
        assert 0 < row["coverage"] <= 100 * 200 / 1024 and row["qd_score"] > 0
        assert -234.31 <= row["max_fitness"] <= 0 and 0 <= row["success"] <= 1
        assert row["solving_cells"] >= 0 and e["curve_qd_score"][-1] == pytest.approx(row["qd_score"], rel=1e-5)
    table = open(os.path.join(out, "table.md")).read()
    assert "MAP-Elites (QDax)" in table and "CMA-ES" in table
    assert os.path.exists(os.path.join(out, "qd_curves.png"))


def test_bad_arguments_exit_2(capsys):
    assert qd_comparison.main(["--tasks", "nomaze"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "nomaze" in err and "\n" not in err
