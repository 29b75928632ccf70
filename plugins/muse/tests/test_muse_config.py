"""MUSE configuration: defaults, splits, presets and experiment steps, and bad input refused before training."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from unlearn_muse.embedded import generate_muse
from unlearn_muse.sources import write_muse_dir

from unlearn_core.cli import main
from unlearn_core.config import resolve_config
from unlearn_core.errors import ConfigError, DataError, UnknownNameError
from unlearn_core.plugins import load_plugins

SMALL = ["data.embedded.n_forget=8", "data.embedded.n_retain=4", "data.embedded.n_holdout=8"]


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


def _resolve(plugins, *overrides: str, mode: str = "unlearn", method: str | None = "npo"):
    return resolve_config(mode, plugins, benchmark="muse", method=method if mode == "unlearn" else None,
                          overrides=list(overrides))  # fmt: skip


def test_defaults_published_splits_and_embedded_protocol(plugins):
    cfg = _resolve(plugins)
    assert [cfg.get(k) for k in ("data_split", "forget_split", "retain_split", "holdout_split")] == [
        "News",
        "forget",
        "retain1",
        "holdout",
    ]
    assert cfg.get("data.forget") == "MUSE_forget" and cfg.get("data.retain") == "MUSE_retain"
    assert cfg.get("trainer.args.lr_scheduler_type") == "constant"
    assert cfg.get("data.max_length") == 256
    assert cfg.get("task_name") == "muse_NPO_News_forget"
    published = _resolve(plugins, "model.model_args.pretrained_model_name_or_path=/some/model")
    args = published.get("trainer.args")
    assert (args["per_device_train_batch_size"], args["gradient_accumulation_steps"]) == (4, 8)
    assert (args["learning_rate"], args["lr_scheduler_type"], args["num_train_epochs"]) == (1e-5, "constant", 10)
    assert published.get("data.max_length") == 2048


def test_data_split_is_news_or_books(plugins):
    assert _resolve(plugins, "data_split=books").get("data_split") == "Books"
    with pytest.raises(UnknownNameError, match=r"unknown MUSE data_split 'Poems'.*valid choices: Books, News"):
        _resolve(plugins, "data_split=Poems")
    with pytest.raises(ConfigError, match="data.source=muse-bench/MUSE-News"):
        _resolve(plugins, "data.source=muse-bench/MUSE-Books", "data_split=News")


def test_unknown_data_split_on_the_command_line_is_one_line_exit_2(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--benchmark", "muse", "--method", "npo", "data_split=Newz",
                                       f"paths.output_dir={out}"])  # fmt: skip
    assert result.exit_code == 2
    assert "did you mean 'News'" in result.output and "Books, News" in result.output
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_splits_and_data_keys_are_checked(plugins):
    with pytest.raises(UnknownNameError, match="retain_split"):
        _resolve(plugins, "retain_split=retain3")
    with pytest.raises(UnknownNameError, match="forget_1, forget_2, forget_3, forget_4"):
        _resolve(plugins, "data.forget=scal", "forget_split=forget")
    assert _resolve(plugins, "data.forget=sust", "forget_split=forget_2").get("forget_split") == "forget_2"
    with pytest.raises(UnknownNameError, match="data.forget"):
        _resolve(plugins, "data.forget=knowmem")
    with pytest.raises(ConfigError, match="n_retains"):
        _resolve(plugins, "data.embedded.n_retains=3")
    with pytest.raises(ConfigError, match="n_forget must be at least"):
        _resolve(plugins, "data.embedded.n_forget=2")
    with pytest.raises(UnknownNameError, match="data.train"):
        _resolve(plugins, "data.train=everything", mode="train")


def test_local_directory_missing_a_split_fails_at_configuration(plugins, tmp_path):
    data = generate_muse("News", n_forget=8, n_retain=4, n_holdout=8)
    del data["knowmem"]["retain_qa_icl"]
    write_muse_dir(data, tmp_path / "news")
    source = f"data.source={tmp_path / 'news'}"
    with pytest.raises(DataError, match=r"missing MUSE file '.*knowmem/retain_qa_icl.jsonl'"):
        _resolve(plugins, source)
    _resolve(plugins, source, mode="train")  # finetuning reads train/* only
    with pytest.raises(DataError, match="does not exist"):
        _resolve(plugins, f"data.source={tmp_path / 'nothing'}")


def test_retain_logs_of_the_other_data_split_are_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("UNLEARN_CACHE_DIR", str(tmp_path / "cache"))
    logs = tmp_path / "MUSE_EVAL.json"
    manifest = {
        "benchmark": "muse",
        "holdout_split": "holdout",
        "data_split": "Books",
        "metric_definition_version": "1",
    }
    logs.write_text(json.dumps({"mia_min_k": {"auc": 0.5, "agg_value": 0.5}, "manifest": manifest}))
    out = tmp_path / "run"
    args = ["run", "--benchmark", "muse", "--method", "npo", f"retain_logs_path={logs}", f"paths.output_dir={out}"]
    result = CliRunner().invoke(main, args + SMALL)
    assert result.exit_code == 1
    assert "data_split='Books'" in result.output and "'News'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()


def test_verbmem_length_follows_the_data_not_the_model(plugins):
    bench = plugins.benchmarks.get("muse")
    for path in ([], ["model.model_args.pretrained_model_name_or_path=/some/model"]):
        suite = bench.eval_suite(_resolve(plugins, *SMALL, *path).values)
        assert suite.entries["forget_verbmem_ROUGE"].args.max_new_tokens == 64  # embedded continuations: 50-65 tokens
        assert suite.entries["forget_knowmem_ROUGE"].args.max_new_tokens == 32


def test_manifest_records_the_data_split_but_not_the_unlearned_split(plugins):
    bench = plugins.benchmarks.get("muse")
    cfg = _resolve(plugins, "data_split=Books", "data.forget=scal", "forget_split=forget_2")
    manifest = bench.manifest(cfg.values)
    assert manifest["data_split"] == "Books" and "forget_split" not in manifest
    assert manifest["embedded"]["n_forget"] == 32


def test_scalability_and_sustainability_presets_make_four_steps(plugins):
    bench = plugins.benchmarks.get("muse")
    scal = _resolve(plugins, "experiment=unlearn/muse/scalability")
    assert scal.get("task_name") == "muse_NPO_News_scalability"
    steps = bench.experiment_steps(scal.values)
    assert [s.name for s in steps] == ["forget_1", "forget_2", "forget_3", "forget_4"]
    assert steps[2].overrides == {"data.forget": "MUSE_forget_scal", "forget_split": "forget_3"}
    assert not any(s.continue_from_previous for s in steps)
    sust = bench.experiment_steps(_resolve(plugins, "experiment=unlearn/muse/sustainability").values)
    assert [s.continue_from_previous for s in sust] == [False, True, True, True]
    assert sust[3].overrides == {"data.forget": "MUSE_forget_sust", "forget_split": "forget_4"}
    assert bench.experiment_steps(_resolve(plugins).values) == []
    with pytest.raises(ConfigError, match="picks its forget sets itself"):
        _resolve(plugins, "experiment=unlearn/muse/scalability", "forget_split=forget_2", "data.forget=scal")
    with pytest.raises(UnknownNameError, match="scalability, sustainability"):
        _resolve(plugins, "experiment_args.steps=scaling")
    with pytest.raises(ConfigError, match="unlearning experiment"):
        _resolve(plugins, "experiment_args.steps=scalability", mode="train")
    assert _resolve(plugins, "experiment=finetune/muse/retain", mode="train").get("data.train") == "retain"
