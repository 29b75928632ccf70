"""Loading MUSE: embedded, a local directory with the hub's layout (round trip, missing files, bad lines), the hub."""

from __future__ import annotations

import sys
import types

import pytest
from unlearn_muse.embedded import generate_muse
from unlearn_muse.sources import STORE, load_muse, write_muse_dir

from unlearn_core.errors import ConfigError, DataError, UnknownNameError

SMALL = {"seed": 5, "n_forget": 8, "n_retain": 4, "n_holdout": 8, "n_background": 4}


@pytest.fixture(scope="module")
def small() -> dict[str, dict[str, list[dict]]]:
    return generate_muse("News", **SMALL)


@pytest.fixture
def muse_dir(tmp_path, small):
    write_muse_dir(small, tmp_path / "news")
    return tmp_path / "news"


def test_embedded_rows_match_the_generator_and_are_copies(small):
    rows = load_muse("embedded", "News", "knowmem", "forget_qa", embedded=SMALL)
    assert rows == small["knowmem"]["forget_qa"]
    rows[0]["answer"] = "tampered"
    assert load_muse("embedded", "News", "knowmem", "forget_qa", embedded=SMALL) == small["knowmem"]["forget_qa"]


def test_embedded_arguments_are_checked():
    with pytest.raises(ConfigError, match="n_forgets"):
        load_muse("embedded", "News", "raw", "forget", embedded={"n_forgets": 3})
    with pytest.raises(ConfigError, match="integer"):
        load_muse("embedded", "News", "raw", "forget", embedded={"seed": "one"})
    with pytest.raises(ConfigError, match="n_forget must be at least"):
        load_muse("embedded", "News", "raw", "forget", embedded={"n_forget": 2})


def test_unknown_subset_or_split_lists_the_choices():
    with pytest.raises(UnknownNameError, match=r"unknown MUSE split 'verbmen/forget' \(did you mean 'verbmem/forget'"):
        load_muse("embedded", "News", "verbmen", "forget")
    with pytest.raises(UnknownNameError, match=r"unknown MUSE split 'raw/retain' .*raw/retain1"):
        load_muse("embedded", "News", "raw", "retain")


def test_directory_round_trip_with_the_hub_layout(muse_dir, small):
    assert (muse_dir / "knowmem" / "retain_qa_icl.jsonl").is_file()
    assert (muse_dir / "scal" / "forget_3.jsonl").is_file()
    for subset, splits in small.items():
        for split, rows in splits.items():
            assert load_muse(str(muse_dir), "News", subset, split) == rows


def test_missing_file_names_the_file_and_what_is_there(muse_dir):
    (muse_dir / "privleak" / "holdout.jsonl").unlink()
    with pytest.raises(DataError) as info:
        load_muse(str(muse_dir), "News", "privleak", "holdout")
    message = str(info.value)
    assert "privleak/holdout.jsonl" in message and "privleak/forget" in message and "\n" not in message
    with pytest.raises(DataError, match="does not exist"):
        STORE.check_dir(str(muse_dir / "nowhere"), ["raw/forget"])


def test_malformed_lines_name_file_line_and_field(muse_dir):
    path = muse_dir / "verbmem" / "forget.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"prompt": "A", "gt": 3}', *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"verbmem/forget.jsonl line 2: field 'gt' must be a string, got int"):
        load_muse(str(muse_dir), "News", "verbmem", "forget")
    path.write_text('{"prompt": "A", "gt": "B"}\n{"prompt": "A"}\n')
    with pytest.raises(DataError, match=r"forget.jsonl line 2: missing field 'gt'"):
        load_muse(str(muse_dir), "News", "verbmem", "forget")
    path.write_text('{"prompt": "A", "gt": "B"}\n\n{"prompt": \n')
    with pytest.raises(DataError, match=r"forget.jsonl line 3: invalid JSON"):
        load_muse(str(muse_dir), "News", "verbmem", "forget")
    path.write_text('["prompt", "gt"]\n')
    with pytest.raises(DataError, match=r"line 1: expected a JSON object, got list"):
        load_muse(str(muse_dir), "News", "verbmem", "forget")
    path.write_text("\n")
    with pytest.raises(DataError, match="has no rows"):
        load_muse(str(muse_dir), "News", "verbmem", "forget")


def test_hub_failure_is_one_data_error_suggesting_offline_sources(monkeypatch):
    fake = types.ModuleType("datasets")

    def load_dataset(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'muse-bench/MUSE-News' on the Hub\nmore detail")

    fake.load_dataset = load_dataset  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(DataError) as info:
        load_muse("muse-bench/MUSE-News", "News", "raw", "forget")
    message = str(info.value)
    assert "muse-bench/MUSE-News" in message and "data.source=embedded" in message and "\n" not in message


def test_hub_rows_are_validated(monkeypatch):
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda hub_id, subset, split: [{"question": "Q?"}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(DataError, match="knowmem/forget_qa row 0: missing field 'answer'"):
        load_muse("muse-bench/MUSE-Books", "Books", "knowmem", "forget_qa")
