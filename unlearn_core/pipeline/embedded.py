"""Build (once) and cache the embedded default models of a benchmark: base, target, retain and their evaluations."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unlearn_core.benchmarks import Benchmark, EmbeddedRecipe
from unlearn_core.data import Tokenized
from unlearn_core.distributed import LocalAccelerator, is_distributed, main_process_first
from unlearn_core.evaluation.needs import retain_logs_needs
from unlearn_core.gc_deferral import resume_collection
from unlearn_core.models.tiny import build_tiny_llama, train_tokenizer
from unlearn_core.pipeline.evaluate import eval_manifest, evaluate_model, read_retain_logs, selected_keys
from unlearn_core.pipeline.finetune import finetune_in_memory
from unlearn_core.pipeline.models import load_model_and_tokenizer
from unlearn_core.plugins import Plugins
from unlearn_core.token_rules import PromptTemplate

CACHE_ENV = "UNLEARN_CACHE_DIR"
RECIPE_VERSION = "2"
"""Part of every embedded cache key: bumped when the token rules or the recipes change the trained models."""


@dataclass
class EmbeddedModels:
    """Paths of the cached embedded artefacts for one benchmark setting."""

    target: Path
    retain: Path
    target_eval: Path
    retain_eval: Path


def cache_root(cfg: dict[str, Any]) -> Path:
    """``paths.cache_dir``, else ``$UNLEARN_CACHE_DIR``, else ``~/.cache/unlearn``."""
    root = cfg["paths"].get("cache_dir") or os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "unlearn"
    return Path(root).expanduser()


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class EmbeddedBuilder:
    """Builds each artefact into a temporary directory and renames it into the cache when complete."""

    def __init__(self, bench: Benchmark, cfg: dict[str, Any], plugins: Plugins) -> None:
        self.bench = bench
        self.cfg = cfg
        self.plugins = plugins
        self.recipe: EmbeddedRecipe = bench.embedded_recipe(cfg)
        self.root = cache_root(cfg) / bench.name
        self.accelerator = LocalAccelerator() if is_distributed() else None
        """Process 0 builds alone in a multi-process run, so it trains without collectives."""

    def _entry(self, name: str, key: str, build: Any) -> Path:
        """The cached artefact ``name-key``; built once (by process 0 while the others wait in a multi-process run)."""
        path = self.root / f"{name}-{key}"
        if not is_distributed():
            return path if (path / ".complete").exists() else self._build_entry(name, key, build)
        with main_process_first() as main:
            if main and not (path / ".complete").exists():
                self._build_entry(name, key, build)
        return path

    def _build_entry(self, name: str, key: str, build: Any) -> Path:
        resume_collection()  # training from here on (see unlearn_core.gc_deferral)
        path = self.root / f"{name}-{key}"
        _remove_stale_builds(self.root, f".{name}-{key}.tmp")
        tmp = self.root / f".{name}-{key}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            build(tmp)
            (tmp / ".complete").write_text("ok\n")
            shutil.rmtree(path, ignore_errors=True)
            tmp.rename(path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path

    def base_key(self) -> str:
        """Cache key of the tokenizer + base model."""
        r = self.recipe
        return _digest(RECIPE_VERSION, r.key, r.size.as_dict(), r.base_args, self.cfg["model"]["template_args"])

    def base(self) -> Path:
        """Tokenizer trained on the corpus + tiny Llama trained on the base rows."""
        return self._entry("base", self.base_key(), self._build_base)

    def _build_base(self, out: Path) -> None:
        _say(f"[{self.bench.name}] building the embedded tiny model (first run only): tokenizer and base model")
        tokenizer = train_tokenizer(self.recipe.tokenizer_corpus(), self.recipe.size.vocab_size)
        model = build_tiny_llama(tokenizer, self.recipe.size, self.cfg["seed"])
        template = PromptTemplate(tokenizer, self.cfg["model"]["template_args"], self.cfg["data"]["max_length"])
        rows = self.recipe.base_rows(template)
        finetune_in_memory(
            model,
            tokenizer,
            rows,
            self.cfg,
            self.recipe.base_args,
            f"{self.bench.name} base model",
            accelerator=self.accelerator,
        )
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)

    def finetuned(self, role: str) -> Path:
        """The target (``role='target'``) or retain model, finetuned from the base model."""
        base = self.base()
        split = self.bench.finetune_key(self.cfg, role)
        key = _digest(
            self.base_key(), role, split, self.recipe.finetune_args, self.recipe.replay, self.cfg["data"]["max_length"]
        )
        return self._entry(role, key, lambda out: self._build_finetuned(base, role, out))

    def _build_finetuned(self, base: Path, role: str, out: Path) -> None:
        cfg = {**self.cfg, "data": {**self.cfg["data"], "train": role}}
        model, tokenizer = load_model_and_tokenizer(_with_model(cfg, str(base)), str(base))
        template = PromptTemplate(tokenizer, cfg["model"]["template_args"], cfg["data"]["max_length"])
        rows = self.finetune_rows(cfg, template)
        finetune_in_memory(
            model,
            tokenizer,
            rows,
            cfg,
            self.recipe.finetune_args,
            f"{self.bench.name} {role} model",
            accelerator=self.accelerator,
        )
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)

    def finetune_rows(self, cfg: dict[str, Any], template: PromptTemplate) -> list[Any]:
        """The benchmark's finetuning rows, plus the base rows when the recipe replays them."""
        rows = self.bench.finetune_data(cfg, template)
        if self.recipe.replay:
            extra = self.recipe.base_rows(template)
            rows = rows + [Tokenized(r.prompt_ids, r.target_ids, len(rows) + i) for i, r in enumerate(extra)]
        return rows

    def evaluation(self, role: str, model_dir: Path, reference: Path | None, retain_model: Path) -> Path:
        """Cached evaluation of a cached model (the retain model is its own reference; ``retain_model`` also serves
        ``mia_reference``)."""
        suite = self.bench.eval_suite(self.cfg)
        manifest = eval_manifest(_with_model(self.cfg, self.cfg["model"]["name"]), suite, self.bench.manifest(self.cfg))
        # the benchmark's defaults and the selection: one cached evaluation serves every selection it covers
        keys = list(dict.fromkeys([*suite.default_keys, *selected_keys(self.cfg, suite)]))
        cfg = {**self.cfg, "eval": {**self.cfg["eval"], "metrics": keys}}
        key = _digest(model_dir.name, str(reference), manifest, sorted(keys))

        def build(out: Path) -> None:
            _say(f"[{self.bench.name}] evaluating the {role} model")
            model, tokenizer = load_model_and_tokenizer(_with_model(cfg, str(model_dir)), str(model_dir))
            needed = retain_logs_needs(suite, self.plugins.metrics, keys)
            ref = read_retain_logs(cfg, reference, manifest, needed) if reference else None
            evaluate_model(
                model,
                tokenizer,
                cfg,
                suite,
                self.plugins,
                manifest=manifest,
                retain_logs=ref,
                out_dir=out,
                self_reference=reference is None,
                embedded_retain=retain_model,
            )

        entry = self._entry(f"{role}-eval", key, build)
        return entry / f"{self.bench.name.upper()}_EVAL.json"

    def all(self) -> EmbeddedModels:
        """Target and retain models and their evaluations (the retain evaluation is the reference)."""
        target, retain = self.finetuned("target"), self.finetuned("retain")
        retain_eval = self.evaluation("retain", retain, None, retain)
        target_eval = self.evaluation("target", target, retain_eval, retain)
        return EmbeddedModels(target, retain, target_eval, retain_eval)


def _with_model(cfg: dict[str, Any], path: str) -> dict[str, Any]:
    model = {**cfg["model"], "model_args": {**cfg["model"]["model_args"], "pretrained_model_name_or_path": path}}
    model["tokenizer_args"] = {"pretrained_model_name_or_path": None}
    return {**cfg, "model": model}


def _remove_stale_builds(root: Path, prefix: str) -> None:
    """Delete temporary build directories left by killed processes (those of live processes stay)."""
    if not root.is_dir():
        return
    for leftover in root.glob(f"{prefix}*"):
        pid = leftover.name.removeprefix(prefix)
        if pid.isdigit() and _alive(int(pid)):
            continue
        shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
