"""Real tokens per second of an NPO unlearning step: our runner against the common training loop, in one process.

Both train the same model (fresh copies of the same starting weights) on the same forget/retain micro-batches of the
embedded TOFU forget10 setting, alternately, after one warm-up each. The common loop is what most unlearning code
does: padded batches, a forward of the frozen reference model every step for ``log pi_ref``, losses through a full
float32 log-softmax, and separate forwards for the forget and the retain batch. Ours is ``unlearn_core.training``'s
loop with the NPO method (reference log-probs computed once, before training, and counted in its time), run with
the fast paths of ``trainer.args`` (here by default ``forward_mode=packed``: one forward for the forget and the
retain rows, two rows end to end in each row of it, and ``target_logits_only=true``: the output layer and the losses
only at target positions); overrides change them. Both use the optimizer of ``trainer.args.optim``, here by default
``adamw_torch_fused`` (torch's fused AdamW, HF Trainer's default).

    OMP_NUM_THREADS=1 python benchmarks/train_speed.py                      # the embedded TOFU target model, CPU
    OMP_NUM_THREADS=1 python benchmarks/train_speed.py trainer.args.forward_mode=joint
    OMP_NUM_THREADS=1 python benchmarks/train_speed.py trainer.args.target_logits_only=false
    python benchmarks/train_speed.py --model llama-1b-shape --device cuda --batch-size 32   # random weights, bf16

On CPU the seconds are this process's CPU time (the run is single-threaded with ``OMP_NUM_THREADS=1``), so other
work on a shared machine does not count; on CUDA they are wall time. It prints, for both, the real (non-padding)
tokens per second, the useful model FLOP/s (6 x parameters x real tokens of the trained forwards; with
``--peak-tflops`` their share of the peak) and on CUDA the peak memory; the last line is ``ratio: X.XX`` (ours over
the common loop, real tokens/s, medians). The embedded model comes from ``$UNLEARN_CACHE_DIR`` (built first when
missing).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from typing import Any

LLAMA_1B_SHAPE = {
    "vocab_size": 128256,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}
"""The shape of Llama-3.2-1B (random weights: throughput does not depend on them)."""
CPU_TIME = True
"""Time with the process's CPU time (set from ``--device``: true on CPU, where the run is single-threaded)."""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("tiny", "llama-1b-shape"), default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (after one warm-up each)")
    parser.add_argument("--batch-size", type=int, default=8, help="rows of forget and of retain per step")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak, for the utilisation")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE configuration overrides (trainer.args.*)")
    return parser.parse_args(argv)


def _setting(args: argparse.Namespace) -> tuple[Any, Any, list[Any], list[Any], int]:
    """Configuration, starting model (on the device), forget and retain samples and padding id."""
    import torch

    from unlearn_core.config import resolve_config
    from unlearn_core.pipeline.environment import quiet_libraries
    from unlearn_core.pipeline.evaluation_plan import plan_evaluation
    from unlearn_core.pipeline.models import load_model_and_tokenizer
    from unlearn_core.plugins import load_plugins
    from unlearn_core.token_rules import PromptTemplate

    quiet_libraries()
    plugins = load_plugins()
    overrides = [
        "task_name=train_speed",
        "forget_split=forget10",
        f"trainer.args.per_device_train_batch_size={args.batch_size}",
        "trainer.args.gradient_accumulation_steps=1",
        "trainer.args.forward_mode=packed",
        "trainer.args.target_logits_only=true",
        "trainer.args.optim=adamw_torch_fused",  # HF Trainer's default; both loops use it
        *args.overrides,
    ]
    cfg = resolve_config("unlearn", plugins, benchmark="tofu", method="NPO", overrides=overrides)
    plan = plan_evaluation(cfg, plugins, "tofu")
    if plan.embedded is None:
        sys.exit("train_speed.py measures the embedded TOFU setting: do not set a model path")
    model, tokenizer = load_model_and_tokenizer(cfg.values, str(plan.embedded.target))
    if args.model == "llama-1b-shape":
        from transformers import AutoModelForCausalLM, LlamaConfig

        shape = LlamaConfig(**LLAMA_1B_SHAPE, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(shape, dtype=torch.bfloat16)
    template = PromptTemplate(tokenizer, cfg.get("model.template_args"), cfg.get("data.max_length"))
    forget, retain = plan.bench.unlearn_data(cfg.values, template)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return cfg, model.to(args.device), forget, retain, pad


def _micro_batches(cfg: Any, forget: list[Any], retain: list[Any], pad: int, count: int) -> list[dict[str, Any]]:
    """The first ``count`` micro-batches the runner trains on (epochs in order)."""
    from unlearn_core.training.batches import ForgetRetainBatches

    train_args = cfg.get("trainer.args")
    batches = ForgetRetainBatches(forget, retain, train_args["per_device_train_batch_size"], pad, train_args["seed"])
    out: list[dict[str, Any]] = []
    epoch = 0
    while len(out) < count:
        out.extend(batches.epoch(epoch))
        epoch += 1
    return out[:count]


def _real_tokens(batches: list[dict[str, Any]]) -> int:
    return sum(int(b[part]["attention_mask"].sum()) for b in batches for part in ("forget", "retain"))


def _sequence_logprob(logits: Any, labels: Any) -> Any:
    """Unfused: the full float32 log-softmax, then the targets' entries, summed per row."""
    import torch

    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = labels[:, 1:]
    mask = targets != -100
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).sum(-1), mask.sum(-1)


def _common_step(model: Any, reference: Any, optimizer: Any, batch: dict[str, Any], method_args: dict) -> float:
    """One NPO + NLL-retain step of the common loop: two forwards of the model, one of the reference."""
    import torch
    import torch.nn.functional as F

    forget, retain = batch["forget"], batch["retain"]
    logp, _ = _sequence_logprob(
        model(input_ids=forget["input_ids"], attention_mask=forget["attention_mask"]).logits, forget["labels"]
    )
    with torch.no_grad():
        ref_logits = reference(input_ids=forget["input_ids"], attention_mask=forget["attention_mask"]).logits
        ref_logp, _ = _sequence_logprob(ref_logits, forget["labels"])
    beta = method_args["beta"]
    forget_loss = -(2.0 / beta) * F.logsigmoid(-beta * (logp - ref_logp)).mean()
    retain_logits = model(input_ids=retain["input_ids"], attention_mask=retain["attention_mask"]).logits
    nll_sum, count = _sequence_logprob(retain_logits, retain["labels"])
    retain_loss = -nll_sum.sum() / count.sum()
    loss = method_args["gamma"] * forget_loss + method_args["alpha"] * retain_loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _common_loop(cfg: Any, start: Any, batches: list[dict[str, Any]], device: str) -> tuple[float, float]:
    """Seconds and first loss of the common loop over ``batches`` (one optimizer step each)."""

    from unlearn_core.training.batches import to_device

    model, reference = copy.deepcopy(start).train(), copy.deepcopy(start).eval()
    optimizer = _adamw(model, cfg.get("trainer.args"))
    _synchronize(device)
    began = _clock()
    losses = [
        _common_step(model, reference, optimizer, to_device(b, device), cfg.get("trainer.method_args")) for b in batches
    ]
    _synchronize(device)
    return _clock() - began, losses[0]


def _adamw(model: Any, train_args: dict[str, Any]) -> Any:
    """The baselines' AdamW (every parameter decayed), with the kernel ``trainer.args.optim`` asks ours for."""
    import torch

    return torch.optim.AdamW(
        model.parameters(),
        lr=train_args["learning_rate"],
        weight_decay=train_args["weight_decay"],
        fused=True if train_args["optim"] == "adamw_torch_fused" else None,
    )


def _finetune_peak(cfg: Any, start: Any, batches: list[dict[str, Any]], device: str) -> float | None:
    """Peak memory of plain finetuning on the same rows (forget and retain of a step in one padded batch, the
    model's own loss, the same optimizer): the yardstick of the unlearning step's memory."""
    import torch

    from unlearn_core.training.batches import to_device

    model = copy.deepcopy(start).train()
    optimizer = _adamw(model, cfg.get("trainer.args"))
    _peak_memory(device)  # reset
    for batch in batches:
        parts = [to_device(batch[p], device) for p in ("forget", "retain")]
        width = max(part["input_ids"].shape[1] for part in parts)
        joined = {
            key: torch.cat(
                [torch.nn.functional.pad(part[key], (0, width - part[key].shape[1]), value=fill) for part in parts]
            )
            for key, fill in (("input_ids", 0), ("attention_mask", 0), ("labels", -100))
        }
        model(**joined).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    _synchronize(device)
    return _peak_memory(device)


def _ours(
    cfg: Any, start: Any, forget: list[Any], retain: list[Any], pad: int, steps: int
) -> tuple[float, float, float]:
    """Seconds of the steps, seconds of the set-up (the reference log-probs of the forget set, computed once) and
    first loss of our runner for ``steps`` optimizer steps."""
    from unlearn_core.pipeline.environment import get_accelerator, mixed_precision_for
    from unlearn_core.plugins import load_plugins
    from unlearn_core.training.batches import ForgetRetainBatches
    from unlearn_core.training.loop import train
    from unlearn_core.training.reference import FrozenReference

    train_args = {**cfg.get("trainer.args"), "max_steps": steps, "warmup_epochs": 0.0}
    method = load_plugins().methods.get("NPO")(**cfg.get("trainer.method_args"))
    accelerator = get_accelerator(mixed_precision_for(train_args))
    model = copy.deepcopy(start)
    device = str(accelerator.device)
    _synchronize(device)
    began = _clock()
    reference = FrozenReference.build(
        model,
        forget,
        fields=method.reference_logprob_fields(),
        keep=None,
        batch_size=train_args["per_device_eval_batch_size"],
        pad_id=pad,
        device=accelerator.device,
    )
    batches = ForgetRetainBatches(forget, retain, train_args["per_device_train_batch_size"], pad, train_args["seed"])
    _synchronize(device)
    set_up = _clock() - began
    result = train(
        model,
        batches,
        train_args,
        accelerator=accelerator,
        method=method,
        reference=reference,
        description="train_speed",
    )
    _synchronize(device)
    return _clock() - began - set_up, set_up, result.history[0]["loss"]


def _clock() -> float:
    """Seconds of this process's CPU time on CPU (other processes sharing the cores do not count), else wall time."""
    return time.process_time() if CPU_TIME else time.perf_counter()


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_memory(device: str) -> float | None:
    """GiB allocated at the peak since the last call (None on CPU, where it is not measured)."""
    import torch

    if not device.startswith("cuda"):
        return None
    peak = torch.cuda.max_memory_allocated() / 2**30
    torch.cuda.reset_peak_memory_stats()
    return peak


def _memory_text(peak: float | None) -> str:
    return "peak memory: not measured on CPU" if peak is None else f"peak memory {peak:.2f} GiB"


def _report(
    name: str, times: list[float], tokens: int, flops: float, peak: float | None, memory: float | None
) -> float:
    median = statistics.median(times)
    rate = tokens / median
    useful = flops / median / 1e12
    share = f" ({100 * useful / peak:.1f}% of {peak:g})" if peak else ""
    runs = ", ".join(f"{t:.2f}" for t in times)
    figures = f"{rate:10.0f} real tokens/s  {useful:.4f} useful TFLOP/s{share}  {_memory_text(memory)}"
    print(f"{name:13s} {figures}  (runs: {runs} s)")
    return rate


def main(argv: list[str] | None = None) -> int:
    """Time both loops and print the figures."""
    import torch

    global CPU_TIME
    args = _arguments(argv)
    CPU_TIME = args.device == "cpu"
    torch.manual_seed(0)
    cfg, start, forget, retain, pad = _setting(args)
    batches = _micro_batches(cfg, forget, retain, pad, args.steps)
    tokens = _real_tokens(batches)
    trained = sum(int((b[p]["attention_mask"]).sum()) for b in batches for p in ("forget", "retain"))
    flops = 6.0 * sum(p.numel() for p in start.parameters()) * trained
    fast_paths = ("forward_mode", "target_logits_only", "gradient_checkpointing", "optim")
    fast = {k: v for k, v in cfg.get("trainer.args").items() if k in fast_paths}
    print(
        f"{args.model} on {args.device}: NPO, {args.steps} steps of {args.batch_size} forget + "
        f"{args.batch_size} retain rows, {tokens} real tokens per run; ours with {fast}",
        flush=True,
    )
    common, ours, set_up, first = [], [], [], {}
    for repeat in range(args.repeats + 1):
        seconds, first["common"] = _common_loop(cfg, start, batches, args.device)
        common_memory = _peak_memory(args.device)
        if repeat:
            common.append(seconds)
        seconds, once, first["ours"] = _ours(cfg, start, forget, retain, pad, args.steps)
        ours_memory = _peak_memory(args.device)
        if repeat:
            ours.append(seconds)
            set_up.append(once)
    base = _report("common loop", common, tokens, flops, args.peak_tflops, common_memory)
    rate = _report("ours", ours, tokens, flops, args.peak_tflops, ours_memory)
    whole = tokens / (statistics.median(ours) + statistics.median(set_up))
    print(
        f"ours with its set-up: {whole:.0f} real tokens/s ({statistics.median(set_up):.2f} s once per run for the "
        f"reference log-probs of {len(forget)} forget rows; ratio {whole / base:.2f} over these {args.steps} steps)"
    )
    print(f"first-step loss: common loop {first['common']:.6f}, ours {first['ours']:.6f}")
    finetune = _finetune_peak(cfg, start, batches, args.device)
    against = f" (ours / finetuning: {ours_memory / finetune:.3f})" if ours_memory and finetune else ""
    print(f"plain finetuning on the same rows: {_memory_text(finetune)}{against}")
    print(f"ratio: {rate / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
