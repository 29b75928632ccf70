"""Extra forget fields and their cached reference log-probs (DPO/IdkDPO, IdkNLL): collated row for row with the forget
batch, refused before training when the data lacks one, computed once with the starting weights, checkpointed and
reused on ``--resume``."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from contractkit import unlearn
from safetensors.torch import load_file

from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.training import reference as reference_module
from unlearn_core.training.batches import ForgetRetainBatches
from unlearn_core.training.checkpoint import complete_checkpoints, reference_logprobs_of
from unlearn_core.training.weights import load_logprobs, save_logprobs

IDK = "data.forget=TOFU_QA_forget_idk"


def sample(index: int, answer: int, alternate: int | None = None) -> Tokenized:
    main = Tokenized((5, 6), (answer, 1), index)
    if alternate is None:
        return main
    return main.with_extras({"alternate": Tokenized((5, 6), (alternate, alternate, 1), index)})


@pytest.mark.parametrize("anchor", ["forget", "retain"])
def test_forget_fields_are_collated_in_the_forget_rows_order(anchor):
    forget = [sample(i, 10 + i, 40 + i) for i in range(5)]
    retain = [sample(100 + i, 20 + i) for i in range(7)]
    batches = ForgetRetainBatches(forget, retain, 2, 0, seed=3, anchor=anchor, forget_fields=("alternate",))
    for batch in batches.epoch(0):
        alternate = batch["forget_fields"]["alternate"]
        assert torch.equal(alternate["index"], batch["forget"]["index"])
        assert alternate["labels"][:, 2].tolist() == [40 + i for i in batch["forget"]["index"].tolist()]
        assert set(alternate) == {"input_ids", "attention_mask", "labels", "index"}
    plain = ForgetRetainBatches(forget, retain, 2, 0, seed=3, anchor=anchor)
    assert all("forget_fields" not in batch for batch in plain.epoch(0))


def test_samples_with_extras_stay_frozen_and_hashable():
    a, b = sample(0, 10, 40), sample(0, 10, 40)
    assert a == b and hash(a) == hash(b) and {a, b} == {a}
    assert a.extra_names == ("alternate",) and a.extra("alternate").index == 0
    with pytest.raises(KeyError, match="no extra answer 'paraphrase'.*alternate"):
        a.extra("paraphrase")


def test_logprobs_of_several_fields_round_trip_and_read_the_old_layout(tmp_path):
    values = {"forget": {0: -1.25, 3: -7.0}, "alternate": {0: -2.5, 3: -0.125}}
    save_logprobs(values, tmp_path / "new.safetensors")
    assert load_logprobs(tmp_path / "new.safetensors") == values
    assert set(load_file(tmp_path / "new.safetensors")) == {"index", "logprob", "alternate.index", "alternate.logprob"}
    save_logprobs({"forget": values["forget"]}, tmp_path / "old.safetensors")  # what NPO checkpoints always held
    assert load_logprobs(tmp_path / "old.safetensors") == {"forget": values["forget"]}


def test_a_method_reading_a_field_the_forget_data_lacks_is_refused_before_training(workdir, plugins):
    with pytest.raises(ConfigError) as refused:
        unlearn(plugins, "FieldsDPO", "o")
    message = str(refused.value)
    assert "\n" not in message
    assert "'FieldsDPO'" in message and "'alternate'" in message and "data.forget=" in message
    assert not (workdir / "o" / "train_log.jsonl").exists()


def test_dpo_on_the_idk_alternate_trains_against_reference_logprobs_of_both_answers(workdir, plugins):
    result = unlearn(plugins, "FieldsDPO", "o", IDK, "trainer.args.save_strategy=steps", "trainer.args.save_steps=2")
    records = [json.loads(line) for line in (result.output_dir / "train_log.jsonl").read_text().splitlines()]
    assert len(records) == 6
    # the first step starts at the reference: every DPO margin is 0, so the term is (2/beta) log 2
    assert records[0]["forget_loss"] == pytest.approx(20 * 0.6931472, rel=1e-5)
    assert records[-1]["forget_loss"] < records[0]["forget_loss"]
    cached = reference_logprobs_of(complete_checkpoints(result.output_dir)[-1][1])
    assert cached is not None and set(cached) == {"forget", "alternate"}
    assert sorted(cached["forget"]) == sorted(cached["alternate"]) == list(range(6))
    assert cached["forget"] != cached["alternate"]


def test_resume_reuses_the_checkpointed_reference_logprobs(workdir, plugins, monkeypatch):
    args = (IDK, "trainer.args.save_strategy=steps", "trainer.args.save_steps=1", "trainer.args.save_total_limit=0")
    out = unlearn(plugins, "FieldsDPO", "o", *args).output_dir
    whole = load_file(out / "model" / "model.safetensors")
    for _, path in complete_checkpoints(out)[2:]:
        shutil.rmtree(path)
    shutil.rmtree(out / "model")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("cached reference log-probs must not be recomputed")

    monkeypatch.setattr(reference_module, "sequence_logprobs", refuse)
    unlearn(plugins, "FieldsDPO", "o", *args, resume=True)
    again = load_file(out / "model" / "model.safetensors")
    assert all(torch.equal(whole[k], again[k]) for k in whole)
