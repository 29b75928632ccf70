"""The three commands: finetune, evaluate, unlearn (each writes into the run's output directory)."""

from __future__ import annotations

import json
import time
from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.data import PromptTemplate
from unlearn_core.errors import ConfigError
from unlearn_core.pipeline.api import RunResult, record_provenance
from unlearn_core.pipeline.embedded import EmbeddedBuilder, uses_embedded_model
from unlearn_core.pipeline.environment import get_accelerator, mixed_precision_for, seed_everything
from unlearn_core.pipeline.evaluate import summary_from_logs
from unlearn_core.pipeline.evaluation_plan import plan_evaluation
from unlearn_core.pipeline.models import load_model_and_tokenizer
from unlearn_core.pipeline.outputs import save_model_atomic
from unlearn_core.plugins import Plugins


def _start_model(cfg: ExperimentConfig, builder: EmbeddedBuilder | None, role: str) -> str:
    path = cfg.get("model.model_args.pretrained_model_name_or_path")
    if path:
        return str(path)
    if builder is None:
        raise ConfigError(
            f"model '{cfg.get('model.name')}' has no path: set model.model_args.pretrained_model_name_or_path="
        )
    return str(builder.base() if role == "base" else builder.finetuned(role))


def train_command(cfg: ExperimentConfig, plugins: Plugins) -> RunResult:
    """Finetune a model on ``data.train`` (target or retain data) and save it in ``<output_dir>/model``."""
    from unlearn_core.pipeline.finetune import finetune_in_memory

    bench = plugins.benchmarks.get(cfg.benchmark)
    builder = EmbeddedBuilder(bench, cfg.values, plugins) if uses_embedded_model(cfg.values) else None
    start = _start_model(cfg, builder, "base")
    model, tokenizer = load_model_and_tokenizer(cfg.values, start)
    template = PromptTemplate(tokenizer, cfg.get("model.template_args"), cfg.get("data.max_length"))
    rows = builder.finetune_rows(cfg.values, template) if builder else bench.finetune_data(cfg.values, template)
    overrides = builder.recipe.finetune_args if builder else {}
    result = finetune_in_memory(
        model, tokenizer, rows, cfg.values, overrides, f"finetune {cfg.benchmark}", cfg.output_dir / "train_log.jsonl"
    )
    save_model_atomic(model, tokenizer, cfg.output_dir / "model")
    accelerator = get_accelerator(mixed_precision_for(cfg.get("trainer.args")))
    record_provenance(cfg, plugins, accelerator, {"start_model": start, "steps": result.steps})
    return RunResult(
        cfg.output_dir,
        rows={"finetuned": {"final_loss": result.last_loss, "steps": result.steps}},
        columns=["final_loss", "steps"],
        files={"model": cfg.output_dir / "model", "log": cfg.output_dir / "train_log.jsonl"},
        seconds={"train": result.seconds},
    )


def eval_command(cfg: ExperimentConfig, plugins: Plugins) -> RunResult:
    """Evaluate a model (the embedded target by default) and write ``<BENCH>_EVAL.json`` / ``_SUMMARY.json``."""
    plan = plan_evaluation(cfg, plugins, cfg.values["eval"]["benchmark"])
    start = str(plan.embedded.target) if plan.embedded else _start_model(cfg, None, "target")
    model, tokenizer = load_model_and_tokenizer(cfg.values, start)
    model.to(get_accelerator("no").device)
    evaluation = plan.evaluate(model, tokenizer, cfg.output_dir)
    record_provenance(cfg, plugins, get_accelerator("no"), {"model": start})
    return RunResult(
        cfg.output_dir,
        rows={"evaluated": evaluation.summary},
        columns=plan.bench.table_columns,
        files=evaluation.files,
        seconds={"eval": evaluation.seconds},
    )


def unlearn_command(cfg: ExperimentConfig, plugins: Plugins) -> RunResult:
    """Unlearn the forget data from the target model, evaluate it and compare with the target and retain models."""
    from unlearn_core.training.batches import ForgetRetainBatches
    from unlearn_core.training.loop import train
    from unlearn_core.training.reference import FrozenReference

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    plan = plan_evaluation(cfg, plugins, cfg.benchmark)
    bench, suite, embedded = plan.bench, plan.suite, plan.embedded
    timings["prepare"] = time.perf_counter() - t0

    start = str(embedded.target) if embedded else _start_model(cfg, None, "target")
    model, tokenizer = load_model_and_tokenizer(cfg.values, start)
    args = cfg.get("trainer.args")
    seed_everything(args["seed"])
    accelerator = get_accelerator(mixed_precision_for(args))
    model.to(accelerator.device)
    rows: dict[str, dict[str, Any]] = {}
    if embedded is not None:
        rows["target"] = summary_from_logs(plan.logs(embedded.target_eval), suite.summary_keys)
    elif cfg.get("eval.include_target"):
        target_eval = plan.evaluate(model, tokenizer, cfg.output_dir / "evals" / "target")
        rows["target"] = target_eval.summary
        timings["eval_target"] = target_eval.seconds
    reference_logs = plan.reference_logs
    rows["retain"] = summary_from_logs(reference_logs, suite.summary_keys) if reference_logs else {}

    template = PromptTemplate(tokenizer, cfg.get("model.template_args"), cfg.get("data.max_length"))
    forget, retain = bench.unlearn_data(cfg.values, template)
    method = plugins.methods.get(cfg.get("trainer.name"))(**cfg.get("trainer.method_args"))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    reference = FrozenReference.build(
        model,
        forget,
        need_logprobs=method.needs_reference_logprobs(),
        need_model=method.needs_reference_model(),
        batch_size=args["per_device_eval_batch_size"],
        pad_id=pad,
        device=accelerator.device,
    )
    batches = ForgetRetainBatches(
        forget,
        retain,
        args["per_device_train_batch_size"],
        pad,
        args["seed"],
        rank=accelerator.process_index,
        world_size=accelerator.num_processes,
    )
    evaluations_log = cfg.output_dir / "eval_log.jsonl"
    evaluations_log.unlink(missing_ok=True)

    def evaluate_during(current: Any, step: int, epoch: float) -> dict[str, Any]:
        e = plan.evaluate(accelerator.unwrap_model(current), tokenizer, None, progress=False)
        record = {"step": step, "epoch": epoch, **e.summary}
        with evaluations_log.open("a") as f:
            f.write(json.dumps(record) + "\n")
        return record

    result = train(
        model,
        batches,
        args,
        accelerator=accelerator,
        method=method,
        reference=reference,
        log_path=cfg.output_dir / "train_log.jsonl",
        evaluate=evaluate_during,
        description=f"unlearn {cfg.benchmark} with {method.name}",
    )
    timings["unlearn"] = result.seconds
    model = accelerator.unwrap_model(model)
    save_model_atomic(model, tokenizer, cfg.output_dir / "model")
    final = plan.evaluate(model, tokenizer, cfg.output_dir / "evals")
    timings["eval"] = final.seconds
    rows["unlearned"] = final.summary
    record_provenance(cfg, plugins, accelerator, {"start_model": start, "steps": result.steps, "timings": timings})
    return RunResult(
        cfg.output_dir,
        rows=rows,
        columns=bench.table_columns,
        files={"model": cfg.output_dir / "model", **final.files, "log": cfg.output_dir / "train_log.jsonl"},
        seconds=timings,
    )
