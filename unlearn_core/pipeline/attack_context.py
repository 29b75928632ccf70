"""What an attack gets from the runner (``AttackContext``): the run's data by name and a finetuning loop."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unlearn_core.attacks.contract import FORGET_SUBSET, RETAIN
from unlearn_core.data import Tokenized
from unlearn_core.errors import ConfigError
from unlearn_core.plugins import Plugins
from unlearn_core.token_rules import PromptTemplate
from unlearn_core.toolkit.named import check_dataset_names

RELEARN_ARGS = {
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "warmup_epochs": 0.0,
    "eval_strategy": "no",
    "save_strategy": "no",
    "load_best_model_at_end": False,
    "metric_for_best_model": None,
    "report_to": [],
}
"""``trainer.args`` an attack's finetuning sets on top of the run's (a constant rate, nothing else during it)."""


@dataclass
class RunAttackContext:
    """The ``AttackContext`` of one attack on one run directory."""

    cfg: dict[str, Any]
    plugins: Plugins
    model_dir: Path
    work_dir: Path
    tokenizer: Any
    device: Any
    log_path: Path | None = None
    """Where the attack's finetuning writes its step log (``train_log.jsonl`` of the attack directory)."""
    starting_model_dir: Path | None = None
    """The model the run started from (``provenance.json``'s ``start_model``), when it is still there."""
    _cache: dict[str, tuple[list[Tokenized], list[Tokenized]]] = field(default_factory=dict)

    def _template(self) -> PromptTemplate:
        return PromptTemplate(self.tokenizer, self.cfg["model"]["template_args"], self.cfg["data"]["max_length"])

    def _unlearn_data(self, cfg: dict[str, Any]) -> tuple[list[Tokenized], list[Tokenized]]:
        key = str(cfg["data"].get("forget"))
        if key not in self._cache:
            benchmark = self.plugins.benchmarks.get(cfg["benchmark"])
            self._cache[key] = benchmark.unlearn_data(cfg, self._template())
        return self._cache[key]

    def data(self, name: str) -> list[Tokenized]:
        """``forget_subset`` (the run's forget set), ``retain``, or a data set name of the run's benchmark."""
        if name == FORGET_SUBSET:
            return self._unlearn_data(self.cfg)[0]
        if name == RETAIN:
            return self._unlearn_data(self.cfg)[1]
        named = copy.deepcopy(self.cfg)
        named["data"]["forget"] = name
        try:
            check_dataset_names(named, self.plugins.datasets)
            self.plugins.benchmarks.get(named["benchmark"]).validate_config(named)
        except ConfigError as exc:
            raise type(exc)(f"attack.data={name}: {exc} (or forget_subset, retain)") from None
        return self._unlearn_data(named)[0]

    def starting_weights(self, names: list[str]) -> dict[str, Any]:
        """The tensors ``names`` of the starting model's safetensors files (none when it is unknown)."""
        from safetensors import safe_open  # reads one tensor at a time: no second model in memory

        found: dict[str, Any] = {}
        if self.starting_model_dir is None:
            return found
        for file in sorted(self.starting_model_dir.glob("*.safetensors")):
            with safe_open(str(file), framework="pt") as weights:
                found.update({name: weights.get_tensor(name) for name in names if name in weights.keys()})
        return found

    def finetune(self, model: Any, rows: list[Tokenized], *, steps: int, learning_rate: float, seed: int) -> dict:
        """``steps`` optimizer steps on ``rows`` at a constant ``learning_rate`` with the run's batch size and
        optimizer; ``seed`` orders the samples."""
        from unlearn_core.pipeline.finetune import finetune_in_memory  # heavy (torch, accelerate): loaded on first use

        overrides = {**RELEARN_ARGS, "max_steps": steps, "learning_rate": learning_rate, "seed": seed}
        result = finetune_in_memory(model, self.tokenizer, rows, self.cfg, overrides, "relearn", self.log_path)
        model.eval()
        return {"steps": result.steps, "epochs": result.epochs, "final_loss": result.last_loss}
