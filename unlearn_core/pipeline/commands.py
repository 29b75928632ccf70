"""The three commands: finetune, evaluate, unlearn (each writes into the run's output directory)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unlearn_core.config import ExperimentConfig
from unlearn_core.data import Tokenized
from unlearn_core.default_plugins.models import uses_embedded_model
from unlearn_core.distributed import is_partitioned
from unlearn_core.errors import ConfigError, TrainingError
from unlearn_core.hidden_states import unwrap
from unlearn_core.models.lora import adapters_off, is_peft_model
from unlearn_core.pipeline.embedded import EmbeddedBuilder
from unlearn_core.pipeline.environment import get_accelerator, mixed_precision_for, seed_everything
from unlearn_core.pipeline.evaluate import selected_keys, summary_from_logs
from unlearn_core.pipeline.evaluation_plan import plan_evaluation
from unlearn_core.pipeline.evaluators import run_evaluators
from unlearn_core.pipeline.finetune import finetune_in_memory
from unlearn_core.pipeline.models import load_model_and_tokenizer
from unlearn_core.pipeline.outputs import current_run
from unlearn_core.pipeline.records import RunResult, record_provenance
from unlearn_core.pipeline.trained_model import save_final, with_lora
from unlearn_core.plugins import Plugins
from unlearn_core.suggest import unknown_message
from unlearn_core.token_rules import PromptTemplate
from unlearn_core.training.batches import ForgetRetainBatches
from unlearn_core.training.checkpoint import CheckpointManager, complete_checkpoints, reference_logprobs_of
from unlearn_core.training.diskio import json_line, write_failure
from unlearn_core.training.loop import train
from unlearn_core.training.method_hooks import check_method_needs, forget_fields_read
from unlearn_core.training.normalizing import check_split
from unlearn_core.training.reference import FrozenReference, StartingModel, covered
from unlearn_core.training.runlog import truncate_jsonl
from unlearn_core.training.signals import TrainingInterrupted
from unlearn_core.training.tracking import LOGGING_DIR, RunTracker, tracker_names


def _start_model(cfg: ExperimentConfig, builder: EmbeddedBuilder | None, role: str) -> str:
    path = cfg.get("model.model_args.pretrained_model_name_or_path")
    if path:
        return str(path)
    if builder is None:
        raise ConfigError(
            f"model '{cfg.get('model.name')}' has no path: set model.model_args.pretrained_model_name_or_path="
        )
    return str(builder.base() if role == "base" else builder.finetuned(role))


def _check_best_metric(cfg: ExperimentConfig, suite: Any) -> None:
    """``trainer.args.metric_for_best_model`` must be a summary value this run's evaluations produce."""
    metric = cfg.get("trainer.args.metric_for_best_model")
    if metric is None:
        return
    valid = selected_keys(cfg.values, suite)
    if suite.canonical(metric) not in valid:
        raise ConfigError(unknown_message("trainer.args.metric_for_best_model", str(metric), valid))
    cfg.values["trainer"]["args"]["metric_for_best_model"] = suite.canonical(metric)


def _record_failure(cfg: ExperimentConfig, plugins: Plugins, accelerator: Any, exc: BaseException) -> None:
    """Mark provenance.json as interrupted/failed; never hides the original error."""
    status = "interrupted" if isinstance(exc, (TrainingInterrupted, KeyboardInterrupt)) else "failed"
    try:
        record_provenance(cfg, plugins, accelerator, {"error": str(exc) or type(exc).__name__}, status=status)
    except Exception:  # the disk may be what failed
        pass


def _note_resume(cfg: ExperimentConfig, plugins: Plugins, accelerator: Any, resume: bool) -> None:
    """Record in provenance.json, before training goes on, which checkpoint this run resumes from."""
    found = complete_checkpoints(cfg.output_dir) if resume else []
    if found:
        record_provenance(cfg, plugins, accelerator, {"resumed_from": found[-1][0]}, status="running")


@contextmanager
def _tracking(cfg: ExperimentConfig) -> Iterator[RunTracker]:
    """The run's trackers (``trainer.args.report_to``), logging under ``trainer.args.logging_dir``; always finished."""
    args = cfg.get("trainer.args")
    logging_dir = Path(args.get("logging_dir") or cfg.output_dir / LOGGING_DIR)
    names = tracker_names(args.get("report_to"))
    tracker = RunTracker.start(names, run_name=str(cfg.get("task_name")), logging_dir=logging_dir, config=cfg.values)
    try:
        yield tracker
    finally:
        tracker.finish()


def train_command(cfg: ExperimentConfig, plugins: Plugins) -> RunResult:
    """Finetune a model on ``data.train`` (target or retain data) and save it in ``<output_dir>/model``."""
    run = current_run(cfg.output_dir)
    with run.setup():
        bench = plugins.benchmarks.get(cfg.benchmark)
        builder = EmbeddedBuilder(bench, cfg.values, plugins) if uses_embedded_model(cfg.values) else None
        overrides = builder.recipe.finetune_args if builder else {}
        start = _start_model(cfg, builder, "base")
        # the Accelerator comes first: under ZeRO-3 it makes from_pretrained load each process's slice only
        accelerator = get_accelerator(mixed_precision_for({**cfg.get("trainer.args"), **overrides}))
        model, tokenizer = load_model_and_tokenizer(cfg.values, start, partitioned=True)
        model = with_lora(cfg, model, None)
        template = PromptTemplate(tokenizer, cfg.get("model.template_args"), cfg.get("data.max_length"))
        rows = builder.finetune_rows(cfg.values, template) if builder else bench.finetune_data(cfg.values, template)
    _note_resume(cfg, plugins, accelerator, run.resume)
    try:
        with _tracking(cfg) as tracker:
            result = finetune_in_memory(
                model,
                tokenizer,
                rows,
                cfg.values,
                overrides,
                f"finetune {cfg.benchmark}",
                cfg.output_dir / "train_log.jsonl",
                checkpoints=_checkpoints(cfg, {**cfg.get("trainer.args"), **overrides}),
                resume=run.resume,
                tracker=tracker,
            )
    except (TrainingError, KeyboardInterrupt) as exc:
        _record_failure(cfg, plugins, accelerator, exc)
        raise
    save_final(accelerator, result, tokenizer, cfg.output_dir / "model", cfg)
    record_provenance(cfg, plugins, accelerator, _training_facts(start, result))
    return RunResult(
        cfg.output_dir,
        rows={"finetuned": {"final_loss": result.last_loss, "steps": result.steps}},
        columns=["final_loss", "steps"],
        files={"model": cfg.output_dir / "model", "log": cfg.output_dir / "train_log.jsonl"},
        seconds={"train": result.seconds},
    )


def _checkpoints(cfg: ExperimentConfig, args: dict[str, Any]) -> Any:
    """The run's checkpoint manager (it writes nothing unless ``save_strategy`` asks or a stop signal comes)."""
    return CheckpointManager(cfg.output_dir, args)


def _training_facts(start: str, result: Any) -> dict[str, Any]:
    return {
        "start_model": start,
        "steps": result.steps,
        "skipped_steps": result.skipped,
        "resumed_from": result.resumed_from,
        "best": result.best,
        "last_checkpoint": str(result.checkpoint) if result.checkpoint else None,
        "loss_normalization": result.loss_normalization,
    }


def eval_command(cfg: ExperimentConfig, plugins: Plugins) -> RunResult:
    """Evaluate a model (the embedded target by default) and write ``<BENCH>_EVAL.json`` / ``_SUMMARY.json``."""
    with current_run(cfg.output_dir).setup():
        plan = plan_evaluation(cfg, plugins, cfg.values["eval"]["benchmark"])
        start = str(plan.embedded.target) if plan.embedded else _start_model(cfg, None, "target")
        model, tokenizer = load_model_and_tokenizer(cfg.values, start)
    model.to(get_accelerator("no").device)
    evaluation = plan.evaluate(model, tokenizer, cfg.output_dir)
    files = {**evaluation.files, **run_evaluators(cfg.values, plugins, model, tokenizer, cfg.output_dir)}
    record_provenance(cfg, plugins, get_accelerator("no"), {"model": start})
    return RunResult(
        cfg.output_dir,
        rows={"evaluated": evaluation.summary},
        columns=plan.columns,
        labels=plan.labels,
        files=files,
        seconds={"eval": evaluation.seconds},
    )


def _target_eval_dir(cfg: ExperimentConfig, plan: Any, start: str, shared: Path | None) -> Path:
    """Where the target model's evaluation goes: the run's ``evals/target``, or, for runs that share one (a sweep),
    an entry of ``shared`` named by the model and everything the evaluation depends on (its manifest)."""
    if shared is None:
        return cfg.output_dir / "evals" / "target"
    import hashlib
    import json

    key = json.dumps([start, plan.manifest, plan.keys], sort_keys=True, default=str)
    return shared / hashlib.sha256(key.encode()).hexdigest()[:12]


def _target_row(
    cfg: ExperimentConfig, plan: Any, starting: Any, tokenizer: Any, resume: bool, out: Path
) -> tuple[dict, float]:
    """The target model's summary: cached (embedded), reread when resuming or shared, else evaluated now."""
    import json

    if plan.embedded is not None:
        return summary_from_logs(plan.logs(plan.embedded.target_eval), plan.keys, plan.suite), 0.0
    if not cfg.get("eval.include_target"):
        return {}, 0.0
    summary_file = out / f"{plan.suite.benchmark.upper()}_SUMMARY.json"
    if (resume or out != cfg.output_dir / "evals" / "target") and summary_file.is_file():
        try:
            return json.loads(summary_file.read_text()), 0.0
        except ValueError:
            pass
    evaluation = plan.evaluate(starting.scorer(), tokenizer, out)
    return evaluation.summary, evaluation.seconds


def _comparison_rows(
    cfg: ExperimentConfig, u: Any, resume: bool, target_dir: Path, timings: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """The target and retain rows of the table (the retain one from the reference logs)."""
    rows: dict[str, dict[str, Any]] = {}
    rows["target"], seconds = _target_row(cfg, u.plan, u.starting, u.tokenizer, resume, target_dir)
    if seconds:
        timings["eval_target"] = seconds
    logs = u.plan.retain_logs
    rows["retain"] = summary_from_logs(logs, u.plan.keys, u.plan.suite) if logs else {}
    return rows


@dataclass
class _Unlearning:
    """What an unlearning run has loaded once its inputs were found valid."""

    method: Any
    plan: Any
    start: str
    accelerator: Any
    model: Any
    tokenizer: Any
    forget: list[Tokenized]
    retain: list[Tokenized]
    partitioned: bool = False
    """The model was loaded partitioned (ZeRO-3): each process holds its slice."""
    starting: Any = None
    """The target model as it was before training (a ``StartingModel``)."""


def _load_unlearning(cfg: ExperimentConfig, plugins: Plugins, run: Any) -> _Unlearning:
    """Method, evaluation plan, model and data, the method's needs checked against them; a user error on the way
    undoes the run directory."""
    with run.setup():
        method = plugins.methods.get(cfg.get("trainer.name"))(**cfg.get("trainer.method_args"))
        check_split(method, cfg.get("trainer.args"))
        plan = plan_evaluation(cfg, plugins, cfg.benchmark)
        _check_best_metric(cfg, plan.suite)
        start = str(plan.embedded.target) if plan.embedded else _start_model(cfg, None, "target")
        # the Accelerator comes first: under ZeRO-3 it makes from_pretrained load each process's slice only
        accelerator = get_accelerator(mixed_precision_for(cfg.get("trainer.args")))
        model, tokenizer = load_model_and_tokenizer(cfg.values, start, partitioned=True)
        model = with_lora(cfg, model, method)
        template = PromptTemplate(tokenizer, cfg.get("model.template_args"), cfg.get("data.max_length"))
        forget, retain = plan.bench.unlearn_data(cfg.values, template)
        check_method_needs(method, model, forget)
    u = _Unlearning(method, plan, start, accelerator, model, tokenizer, forget, retain, is_partitioned(model))
    if not u.partitioned:
        model.to(accelerator.device)
    u.starting = StartingModel(
        model, accelerator, lambda: load_model_and_tokenizer(cfg.values, start, partitioned=True)[0]
    )
    return u


def _training_inputs(cfg: ExperimentConfig, u: _Unlearning, latest: Any) -> tuple[Any, Any]:
    """The frozen reference (cached log-probs, reused from the checkpoint resumed from, and/or the model) and the
    forget/retain batches with the extra forget fields the method reads."""
    args = cfg.get("trainer.args")
    pad = u.tokenizer.pad_token_id if u.tokenizer.pad_token_id is not None else 0
    seed_everything(args["seed"], bool(args.get("full_determinism")))
    fields = u.method.reference_logprob_fields()
    cached = reference_logprobs_of(latest)
    lora = is_peft_model(u.model)  # the reference is the model with its adapters disabled: no copy
    with adapters_off(u.model) if lora else contextlib.nullcontext():
        reference = FrozenReference.build(
            u.starting.scorer() if fields and not covered(cached, u.forget, fields) else None,
            u.forget,
            fields=fields,
            keep=(u.model if lora else u.starting.frozen()) if u.method.needs_reference_model() else None,
            batch_size=args["per_device_eval_batch_size"],
            pad_id=pad,
            device=u.accelerator.device,
            cached_logprobs=cached,
            adapters_disabled=lora,
        )
    u.starting.release()
    batches = ForgetRetainBatches(
        u.forget,
        u.retain,
        args["per_device_train_batch_size"],
        pad,
        args["seed"],
        rank=u.accelerator.process_index,
        world_size=u.accelerator.num_processes,
        anchor=cfg.get("data.anchor"),
        forget_fields=forget_fields_read(u.method),
    )
    return reference, batches


def _evaluator(cfg: ExperimentConfig, u: _Unlearning, resumed: bool) -> Any:
    """Evaluation during training: each summary appended to ``eval_log.jsonl`` (kept up to a resumed checkpoint)."""
    evaluations_log = cfg.output_dir / "eval_log.jsonl"
    if u.accelerator.is_main_process:
        if resumed:
            truncate_jsonl(evaluations_log, complete_checkpoints(cfg.output_dir)[-1][0])
        else:
            evaluations_log.unlink(missing_ok=True)

    def evaluate_during(current: Any, step: int, epoch: float) -> dict[str, Any]:
        e = u.plan.evaluate(unwrap(u.accelerator.unwrap_model(current)), u.tokenizer, None, progress=False)
        record = {"step": step, "epoch": epoch, **e.summary}
        if u.accelerator.is_main_process:
            try:
                with evaluations_log.open("a") as f:
                    f.write(json_line(record))
            except OSError as exc:
                raise write_failure(evaluations_log, exc) from None
        return record

    return evaluate_during


def _final_evaluation(
    cfg: ExperimentConfig, plugins: Plugins, u: _Unlearning, result: Any, tracker: RunTracker
) -> tuple[Any, dict[str, Path]]:
    """Save the unlearned model, evaluate it in ``evals/`` (tracked as the final one), then run the selected
    evaluators. The model evaluated is what the saved directory loads as (LoRA adapters merged in)."""
    model = save_final(u.accelerator, result, u.tokenizer, cfg.output_dir / "model", cfg)
    final = u.plan.evaluate(model, u.tokenizer, cfg.output_dir / "evals")
    tracker.log_eval(final.summary, result.steps, final=True)
    extra = run_evaluators(cfg.values, plugins, model, u.tokenizer, cfg.output_dir / "evals")
    return final, {**final.files, **extra}


def _train_and_evaluate(
    cfg: ExperimentConfig, plugins: Plugins, u: _Unlearning, inputs: tuple[Any, Any, Any], resume: bool, latest: Any
) -> tuple[Any, Any, dict[str, Path]]:
    """Train (a failure is recorded), save the model and evaluate it: the training result, the evaluation and the
    result files (the benchmark's and the selected evaluators')."""
    reference, batches, checkpoints = inputs
    with _tracking(cfg) as tracker:
        try:
            result = train(
                u.model,
                batches,
                cfg.get("trainer.args"),
                accelerator=u.accelerator,
                method=u.method,
                reference=reference,
                log_path=cfg.output_dir / "train_log.jsonl",
                evaluate=_evaluator(cfg, u, resumed=latest is not None),
                description=f"unlearn {cfg.benchmark} with {u.method.name}",
                checkpoints=checkpoints,
                resume=resume,
                tracker=tracker,
            )
        except (TrainingError, KeyboardInterrupt) as exc:
            _record_failure(cfg, plugins, u.accelerator, exc)
            raise
        final, files = _final_evaluation(cfg, plugins, u, result, tracker)
    return result, final, files


def unlearn_command(cfg: ExperimentConfig, plugins: Plugins, shared_target: Path | None = None) -> RunResult:
    """Unlearn the forget data from the target model, evaluate it and compare with the target and retain models.

    ``shared_target`` is a directory where runs that start from the same target model (a sweep) find its evaluation
    instead of repeating it.
    """
    run = current_run(cfg.output_dir)
    t0 = time.perf_counter()
    args = cfg.get("trainer.args")
    u = _load_unlearning(cfg, plugins, run)
    timings: dict[str, float] = {"prepare": time.perf_counter() - t0}
    target_dir = _target_eval_dir(cfg, u.plan, u.start, shared_target)
    rows = _comparison_rows(cfg, u, run.resume, target_dir, timings)
    checkpoints = _checkpoints(cfg, args)
    latest = checkpoints.latest() if run.resume else None
    _note_resume(cfg, plugins, u.accelerator, run.resume)
    reference, batches = _training_inputs(cfg, u, latest)
    try:
        result, final, files = _train_and_evaluate(
            cfg, plugins, u, (reference, batches, checkpoints), run.resume, latest
        )
    finally:
        u.accelerator.free_memory()  # the next run of a sweep prepares its own model (DeepSpeed: its own engine)
    timings["unlearn"] = result.seconds
    timings["eval"] = final.seconds
    rows["unlearned"] = final.summary
    facts = {
        "reference_model": reference.kind,
        "loaded_partitioned": u.partitioned,
        "trainable_parameters": result.trainable_parameters,
        "timings": timings,
    }
    if shared_target is not None and rows["target"]:
        facts["target_evaluation"] = str(target_dir)
    record_provenance(cfg, plugins, u.accelerator, {**_training_facts(u.start, result), **facts})
    return RunResult(
        cfg.output_dir,
        rows=rows,
        columns=u.plan.columns,
        labels=u.plan.labels,
        files={"model": cfg.output_dir / "model", **files, "log": cfg.output_dir / "train_log.jsonl"},
        seconds=timings,
    )
