"""The recovery of a forget metric (by hand) and the attack table."""

from __future__ import annotations

import pytest

from unlearn_core.attacks.recovery import forget_columns, recovery, recovery_columns, recovery_row
from unlearn_core.pipeline.run_table import RunTable, read_run_table, write_run_table
from unlearn_core.plugins import load_plugins
from unlearn_core.table import summary_table

COLUMNS = ["forget_quality", "model_utility", "forget_Q_A_Prob"]


def test_recovery_by_hand():
    # unlearning took forget_Q_A_Prob from 0.9 to 0.1; an attack bringing it to 0.3 recovers 0.2 / 0.8 = 0.25
    assert recovery(0.9, 0.1, 0.3) == pytest.approx(0.25)
    # forget_quality went up with unlearning (0.01 -> 0.91); an attack taking it to 0.46 recovers half
    assert recovery(0.01, 0.91, 0.46) == pytest.approx(0.5)
    assert recovery(0.9, 0.1, 0.1) == 0.0
    assert recovery(0.9, 0.1, 0.9) == pytest.approx(1.0)
    assert recovery(0.9, 0.1, 0.0) == pytest.approx(-0.125)


def test_recovery_is_undefined_without_a_target_or_when_unlearning_moved_nothing():
    assert recovery(None, 0.1, 0.3) is None
    assert recovery(0.5, 0.5, 0.7) is None
    assert recovery(0.9, "0.1", 0.3) is None
    assert recovery(True, 0.1, 0.3) is None


def test_the_recovery_row_holds_the_knowledge_columns():
    keys = forget_columns(COLUMNS)
    assert keys == ["forget_quality", "forget_Q_A_Prob"]
    row = recovery_row(keys, {"forget_Q_A_Prob": 0.9}, {"forget_Q_A_Prob": 0.1}, {"forget_Q_A_Prob": 0.5})
    assert row == {"forget_quality": None, "forget_Q_A_Prob": pytest.approx(0.5)}
    assert recovery_row(keys, None, {}, {}) == {"forget_quality": None, "forget_Q_A_Prob": None}


def test_which_columns_a_benchmark_reports_recoveries_for():
    plugins = load_plugins()
    # TOFU: the probability and ROUGE of forget answers; forget_quality and the truth ratio are not monotone in
    # what the model knows (an over-unlearned model is as far from the retain model as the target is)
    assert recovery_columns(plugins.benchmarks.get("tofu")) == ["forget_Q_A_Prob", "forget_Q_A_ROUGE"]
    assert recovery_columns(plugins.benchmarks.get("muse")) == ["forget_verbmem_ROUGE", "forget_knowmem_ROUGE"]


ROWS = {
    "target": {"forget_quality": 0.01, "model_utility": 0.8, "forget_Q_A_Prob": 0.9},
    "unlearned": {"forget_quality": 0.91, "model_utility": 0.7, "forget_Q_A_Prob": 0.1},
    "quantize-4bit-rtn": {"forget_quality": 0.46, "model_utility": 0.6, "forget_Q_A_Prob": 0.5},
}
RECOVERY = {"quantize-4bit-rtn": {"forget_quality": 0.5, "forget_Q_A_Prob": 0.5}}
LABELS = {"forget_Q_A_Prob": "prob"}


def test_the_attack_table():
    assert summary_table(ROWS, COLUMNS, LABELS, RECOVERY).splitlines() == [
        "model              forget_quality  model_utility    prob",
        "-----------------  --------------  -------------  ------",
        "target                     0.0100         0.8000  0.9000",
        "unlearned                  0.9100         0.7000  0.1000",
        "quantize-4bit-rtn          0.4600         0.6000  0.5000",
        "recovery                   0.5000              -  0.5000",
    ]


def test_several_attacks_name_their_recovery_rows():
    rows = {**ROWS, "relearn": ROWS["quantize-4bit-rtn"]}
    recovery = {**RECOVERY, "relearn": {"forget_quality": 0.5, "forget_Q_A_Prob": None}}
    lines = summary_table(rows, COLUMNS, LABELS, recovery).splitlines()
    assert lines[-2].split() == ["recovery:", "quantize-4bit-rtn", "0.5000", "-", "0.5000"]
    assert lines[-1].split() == ["recovery:", "relearn", "0.5000", "-", "-"]


def test_the_run_table_keeps_the_recovery(tmp_path):
    write_run_table(tmp_path, RunTable(ROWS, COLUMNS, LABELS, RECOVERY))
    table = read_run_table(tmp_path)
    assert table is not None and table.recovery == RECOVERY and table.rows == ROWS
    write_run_table(tmp_path, RunTable(ROWS, COLUMNS, LABELS))
    assert "recovery" not in (tmp_path / "summary_table.json").read_text()
