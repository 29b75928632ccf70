"""A DeepSpeed ZeRO optimizer partition in a checkpoint: only tensors and plain values are stored, DeepSpeed's
objects come from the running optimizer, and a file that is not what we wrote is refused without unpickling it."""

from __future__ import annotations

import enum
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch

from unlearn_core.errors import TrainingError
from unlearn_core.training.zero_checkpoint import load_zero_optimizer, optimizer_file, save_zero_optimizer


class Stage(enum.IntEnum):
    WEIGHTS = 3


class Scaler:
    """Stands for DeepSpeed's loss scaler: an object with numeric settings."""

    def __init__(self, scale: float) -> None:
        self.cur_scale = scale
        self.cur_iter = 0
        self.dynamic = True


class FakeZeroOptimizer:
    """The parts of a DeepSpeed ZeRO optimizer that checkpoints use: state_dict, load_state_dict, event hooks."""

    def __init__(self, exp_avg: float, scale: float) -> None:
        self.exp_avg = torch.full((4,), exp_avg)
        self.master = torch.arange(4, dtype=torch.float32) * exp_avg
        self.scaler = Scaler(scale)
        self.loaded: list[Any] = []
        self.events: list[str] = []

    def state_dict(self) -> dict[str, Any]:
        return {
            "loss_scaler": self.scaler,
            "zero_stage": Stage.WEIGHTS,
            "param_slice_mappings": OrderedDict(w=object()),
            "partition_count": 2,
            "ds_version": "0.19.8",
            "optimizer_state_dict": {"state": {0: {"exp_avg": self.exp_avg, "step": torch.tensor(3.0)}}},
            "fp32_flat_groups": [self.master],
        }

    def load_state_dict(self, state_dict_list: list[dict], **kwargs: Any) -> None:
        self.loaded.append((state_dict_list, kwargs))

    def checkpoint_event_prologue(self) -> None:
        self.events.append("prologue")

    def checkpoint_event_epilogue(self) -> None:
        self.events.append("epilogue")


def test_partition_round_trips_with_objects_rebuilt_from_the_running_optimizer(tmp_path: Path):
    saved = FakeZeroOptimizer(exp_avg=0.5, scale=1024.0)
    saved.scaler.cur_iter = 17
    path = optimizer_file(tmp_path, 1)
    save_zero_optimizer(saved, path)
    assert path.name == "optimizer-1.pt"
    stored = torch.load(path, weights_only=True)  # nothing but tensors and plain values
    assert {"loss_scaler", "zero_stage", "param_slice_mappings"}.isdisjoint(stored)
    assert stored["loss_scaler_settings"] == {"cur_scale": 1024.0, "cur_iter": 17, "dynamic": True}

    running = FakeZeroOptimizer(exp_avg=0.0, scale=1.0)
    load_zero_optimizer(running, path, world_size=2)
    ((lists, kwargs),) = running.loaded
    assert len(lists) == 2 and lists[0] is lists[1]
    merged = lists[0]
    assert kwargs == {"load_optimizer_states": True, "load_from_fp32_weights": True}
    assert torch.equal(merged["optimizer_state_dict"]["state"][0]["exp_avg"], torch.full((4,), 0.5))
    assert torch.equal(merged["fp32_flat_groups"][0], torch.arange(4, dtype=torch.float32) * 0.5)
    assert merged["zero_stage"] is Stage.WEIGHTS and merged["loss_scaler"] is running.scaler
    assert (running.scaler.cur_scale, running.scaler.cur_iter) == (1024.0, 17)
    assert running.events == ["prologue", "epilogue"]


class Planted:
    def __reduce__(self) -> tuple:
        return (print, ("this must never run",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_planted_pickle_is_refused_without_running_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = optimizer_file(tmp_path, 0)
    path.write_bytes(pickle.dumps({"optimizer_state_dict": Planted()}))
    running = FakeZeroOptimizer(exp_avg=0.0, scale=1.0)
    with pytest.raises(TrainingError, match=r"cannot read .*optimizer-0\.pt"):
        load_zero_optimizer(running, path, world_size=1)
    assert "this must never run" not in capsys.readouterr().out
    assert running.loaded == []


def test_a_missing_partition_names_the_checkpoint(tmp_path: Path):
    with pytest.raises(TrainingError, match=r"has no optimizer partition optimizer-3\.pt"):
        load_zero_optimizer(FakeZeroOptimizer(0.0, 1.0), optimizer_file(tmp_path, 3), world_size=4)
