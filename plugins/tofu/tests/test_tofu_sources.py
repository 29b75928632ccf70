"""Loading TOFU configs: embedded, a local directory of JSON lines (round trip, malformed files), the hub offline."""

from __future__ import annotations

import json
import sys
import types

import pytest
from unlearn_tofu.embedded import generate_tofu
from unlearn_tofu.schema import required_fields
from unlearn_tofu.sources import HUB_ID, TOFU_CONFIG_NAMES, load_tofu_config, write_tofu_dir

from unlearn_core.errors import ConfigError, DataError, UnknownNameError

SMALL = {"seed": 7, "n_authors": 10, "questions_per_author": 5, "n_perturbed": 3}


@pytest.fixture(scope="module")
def small() -> dict[str, list[dict]]:
    return generate_tofu(**SMALL)


@pytest.fixture
def tofu_dir(tmp_path, small):
    write_tofu_dir(small, tmp_path / "tofu")
    return tmp_path / "tofu"


def _write_lines(path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _good_perturbed_row() -> dict:
    return {
        "question": "Q?",
        "answer": "A.",
        "paraphrased_answer": "A again.",
        "perturbed_answer": ["B.", "C."],
        "paraphrased_question": "Q again?",
    }


def test_embedded_source_matches_the_generator_and_is_a_copy(small):
    rows = load_tofu_config("embedded", "forget10_perturbed", embedded_args=SMALL)
    assert rows == small["forget10_perturbed"]
    rows[0]["perturbed_answer"].append("tampered")
    rows[1]["question"] = "tampered"
    assert load_tofu_config("embedded", "forget10_perturbed", embedded_args=SMALL) == small["forget10_perturbed"]


def test_embedded_defaults_and_bad_arguments():
    assert len(load_tofu_config("embedded", "full")) == 40 * 20
    with pytest.raises(ConfigError, match="n_author"):
        load_tofu_config("embedded", "full", embedded_args={"n_author": 3})
    with pytest.raises(ConfigError, match="integer"):
        load_tofu_config("embedded", "full", embedded_args={"seed": "zero"})
    with pytest.raises(ConfigError, match="n_perturbed"):
        load_tofu_config("embedded", "full", embedded_args={"n_perturbed": 50})


def test_unknown_config_name():
    with pytest.raises(UnknownNameError, match="forget10_perturbed"):
        load_tofu_config("embedded", "forget10_pertubed")


def test_directory_round_trip_keeps_the_hub_field_names(tofu_dir, small):
    assert sorted(p.stem for p in tofu_dir.glob("*.jsonl")) == sorted(TOFU_CONFIG_NAMES)
    for config in TOFU_CONFIG_NAMES:
        rows = load_tofu_config(str(tofu_dir), config)
        assert rows == small[config]
        assert all(tuple(row) == required_fields(config) for row in rows)


def test_extra_fields_are_kept_and_blank_lines_skipped(tmp_path):
    row = {**_good_perturbed_row(), "option1": "x", "author_id": 3}
    _write_lines(tmp_path / "retain_perturbed.jsonl", [json.dumps(row), "", json.dumps(row)])
    assert load_tofu_config(str(tmp_path), "retain_perturbed") == [row, row]


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist") as caught:
        load_tofu_config(str(tmp_path / "nowhere"), "full")
    assert "nowhere" in str(caught.value)


def test_missing_file_names_the_path_and_the_configs_present(tofu_dir):
    (tofu_dir / "forget05.jsonl").unlink()
    with pytest.raises(DataError) as caught:
        load_tofu_config(str(tofu_dir), "forget05")
    message = str(caught.value)
    assert "forget05.jsonl" in message and "forget10" in message and "\n" not in message


def test_bad_json_line_names_the_file_and_the_line(tmp_path):
    _write_lines(tmp_path / "full.jsonl", ['{"question": "Q?", "answer": "A."}', '{"question": "Q?", "answer": '])
    with pytest.raises(DataError, match=r"full\.jsonl line 2: invalid JSON"):
        load_tofu_config(str(tmp_path), "full")


def test_a_line_that_is_not_an_object(tmp_path):
    _write_lines(tmp_path / "holdout10.jsonl", ['["Q?", "A."]'])
    with pytest.raises(DataError, match=r"holdout10\.jsonl line 1: expected a JSON object"):
        load_tofu_config(str(tmp_path), "holdout10")


def test_missing_field_names_file_line_and_field(tmp_path):
    broken = _good_perturbed_row()
    del broken["paraphrased_question"]
    _write_lines(tmp_path / "forget10_perturbed.jsonl", [json.dumps(_good_perturbed_row())] * 2 + [json.dumps(broken)])
    with pytest.raises(DataError, match=r"forget10_perturbed\.jsonl line 3: missing field 'paraphrased_question'"):
        load_tofu_config(str(tmp_path), "forget10_perturbed")


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("perturbed_answer", "B.", "must be a list of strings"),
        ("perturbed_answer", ["B.", 2], "must be a list of strings"),
        ("perturbed_answer", [], "must not be empty"),
        ("question", 5, "must be a string"),
        ("paraphrased_answer", None, "must be a string"),
    ],
)
def test_wrong_type_names_file_line_and_field(tmp_path, field, value, complaint):
    broken = {**_good_perturbed_row(), field: value}
    _write_lines(tmp_path / "forget10_perturbed.jsonl", [json.dumps(_good_perturbed_row())] * 2 + [json.dumps(broken)])
    with pytest.raises(DataError) as caught:
        load_tofu_config(str(tmp_path), "forget10_perturbed")
    assert f"forget10_perturbed.jsonl line 3: field '{field}' {complaint}" in str(caught.value)


def test_fact_configs_need_only_question_answer_and_perturbed_answer(tmp_path):
    _write_lines(
        tmp_path / "world_facts_perturbed.jsonl", ['{"question": "Q?", "answer": "A", "perturbed_answer": ["B"]}']
    )
    assert len(load_tofu_config(str(tmp_path), "world_facts_perturbed")) == 1
    _write_lines(tmp_path / "real_authors_perturbed.jsonl", ['{"question": "Q?", "answer": "A"}'])
    with pytest.raises(DataError, match="line 1: missing field 'perturbed_answer'"):
        load_tofu_config(str(tmp_path), "real_authors_perturbed")


def test_empty_file(tmp_path):
    (tmp_path / "full.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no rows"):
        load_tofu_config(str(tmp_path), "full")


def _fake_datasets(monkeypatch, load_dataset) -> list[tuple]:
    calls: list[tuple] = []

    def recording(*args, **kwargs):
        calls.append((args, kwargs))
        return load_dataset(*args, **kwargs)

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=recording))
    return calls


def test_hub_offline_is_one_line_data_error(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'locuslab/TOFU' on the Hub (LocalEntryNotFoundError)\nmore detail")

    calls = _fake_datasets(monkeypatch, offline)
    with pytest.raises(DataError) as caught:
        load_tofu_config(HUB_ID, "forget10_perturbed")
    message = str(caught.value)
    assert HUB_ID in message and "forget10_perturbed" in message and "ConnectionError" in message
    assert "data.source=embedded" in message and "\n" not in message
    assert calls == [((HUB_ID, "forget10_perturbed"), {"split": "train"})]


def test_hub_rows_are_converted_and_validated(monkeypatch, small):
    _fake_datasets(monkeypatch, lambda *args, **kwargs: iter(small["world_facts_perturbed"]))
    assert load_tofu_config(HUB_ID, "world_facts_perturbed") == small["world_facts_perturbed"]
    _fake_datasets(monkeypatch, lambda *args, **kwargs: [{"question": "Q?"}])
    with pytest.raises(DataError, match=r"locuslab/TOFU full row 0: missing field 'answer'"):
        load_tofu_config(HUB_ID, "full")


def test_write_rejects_unknown_config_names(tmp_path):
    with pytest.raises(UnknownNameError):
        write_tofu_dir({"forget_10": []}, tmp_path)
