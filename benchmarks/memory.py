"""Peak memory and time of an unlearning step and an evaluation batch: whole logits against chunked log-probabilities,
full finetuning with a resident reference against LoRA with the adapter-disabled reference.

Each case runs in a fresh Python process (the process's peak resident set size, ``ru_maxrss``, is then that case's
alone: ``tracemalloc`` does not see torch's allocations); this script starts them one after the other, in one run,
and prints every figure and the ratios.

    OMP_NUM_THREADS=1 python benchmarks/memory.py                 # the default: vocabulary 128256, hidden 256
    OMP_NUM_THREADS=1 python benchmarks/memory.py --batch 8 --length 256 --repeats 3

The model is Llama-shaped with Llama-3's 128k vocabulary and a small hidden size, on the CPU, with random weights
(memory and time do not depend on what it knows). The step is NPO with the KL retain loss (``NPO(retain_loss_type=KL)``,
the real method and reference classes): a forget batch and a retain batch of ``--batch`` rows of ``--length``
tokens (the first quarter prompt), one AdamW update. The evaluation batch is TOFU-shaped: ``--batch`` questions,
each with its answer, a paraphrase and five perturbed answers, scored by the evaluation engine. Cases:

- ``step-naive``: full finetuning, a resident frozen copy as reference, whole logits (``UNLEARN_LOGITS_CHUNK_MB=0``);
- ``step-chunked``: the same with chunked log-probabilities;
- ``step-lora``: LoRA (r=8 on q/k/v/o) with the adapter-disabled model as reference, chunked;
- ``eval-naive`` / ``eval-chunked``: the evaluation batch with whole logits / chunked.

Peak memory is the whole process's (Python, torch, the model and optimizer included); ``above start`` is the peak
minus the resident size just before the first step or evaluation. Time is the median over ``--repeats`` steps after
one warm-up step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

VOCAB = 128256
CASES = ("step-naive", "step-chunked", "step-lora", "eval-naive", "eval-chunked")


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(hidden: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def _samples(n: int, length: int, seed: int, start_index: int = 0) -> list[Any]:
    import torch

    from unlearn_core.data import Tokenized

    g = torch.Generator().manual_seed(seed)
    prompt = length // 4
    return [
        Tokenized(
            tuple(torch.randint(3, VOCAB, (prompt,), generator=g).tolist()),
            tuple(torch.randint(3, VOCAB, (length - prompt,), generator=g).tolist()),
            start_index + i,
        )
        for i in range(n)
    ]


def _step_setup(lora: bool, args: argparse.Namespace) -> tuple[Any, Any, Any, dict[str, Any]]:
    """Model, method, reference and the forget/retain batch of a step case."""
    import copy

    import torch
    from unlearn_npo.methods import NPO

    from unlearn_core.data import collate
    from unlearn_core.models.lora import adapters_off, with_adapters
    from unlearn_core.training.reference import FrozenReference

    model = _model(args.hidden)
    forget, retain = _samples(args.batch, args.length, 1), _samples(args.batch, args.length, 2, 1000)
    if lora:
        lora_values = {
            "r": 8,
            "lora_alpha": 16,
            "lora_dropout": 0.0,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
            "bias": "none",
        }
        model = with_adapters(model, lora_values)
        keep = model
    else:
        keep = copy.deepcopy(model).requires_grad_(False).eval()  # the resident frozen reference
    with adapters_off(model) if lora else torch.no_grad():
        reference = FrozenReference.build(
            model,
            forget,
            fields=("forget",),
            keep=keep,
            batch_size=args.batch,
            pad_id=0,
            device=torch.device("cpu"),
            adapters_disabled=lora,
        )
    batch = {"forget": collate(forget, 0), "retain": collate(retain, 0)}
    return model.train(), NPO(retain_loss_type="KL"), reference, batch


def _run_step(case: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    model, method, reference, batch = _step_setup(case == "step-lora", args)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    start = _rss_mb()
    times = []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        out = method.compute_loss(model, batch, reference)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return {"start_mb": start, "loss": float(out.loss), "seconds": statistics.median(times[1:])}


def _run_eval(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from unlearn_core.evaluation.scoring import AnswerGroup, ScoringCounters, score_groups

    model = _model(args.hidden).eval()
    g = torch.Generator().manual_seed(3)

    def tokens(n: int) -> tuple[int, ...]:
        return tuple(torch.randint(3, VOCAB, (n,), generator=g).tolist())

    answer = (args.length * 3) // 4
    groups = [AnswerGroup(tokens(args.length // 4), tuple(tokens(answer) for _ in range(7))) for _ in range(args.batch)]
    start = _rss_mb()
    times = []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        stats = score_groups(model, groups, batch_size=args.batch, pad_id=0, counters=ScoringCounters())
        times.append(time.perf_counter() - t0)
    return {"start_mb": start, "loss": stats[0][0].avg_loss, "seconds": statistics.median(times[1:])}


def run_case(case: str, args: argparse.Namespace) -> None:
    """Run one case in this process and print its figures as JSON (the last line)."""
    os.environ["UNLEARN_LOGITS_CHUNK_MB"] = "0" if case.endswith("naive") else str(args.chunk_mb)
    result = _run_eval(args) if case.startswith("eval") else _run_step(case, args)
    result.update(case=case, peak_mb=_peak_mb())
    print(json.dumps(result))


def _spawn(case: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--case",
        case,
        "--batch",
        str(args.batch),
        "--length",
        str(args.length),
        "--hidden",
        str(args.hidden),
        "--repeats",
        str(args.repeats),
        "--chunk-mb",
        str(args.chunk_mb),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"case {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[str, dict[str, Any]]) -> None:
    """Print every case and the ratios the targets are about."""
    print(f"{'case':<14} {'peak MiB':>9} {'above start':>12} {'seconds':>8}")
    for case, r in results.items():
        print(f"{case:<14} {r['peak_mb']:>9.0f} {r['peak_mb'] - r['start_mb']:>12.0f} {r['seconds']:>8.3f}")

    def ratio(a: str, b: str, key: str) -> float:
        return results[a][key] / results[b][key]

    def above(case: str) -> float:
        return results[case]["peak_mb"] - results[case]["start_mb"]

    print()
    print(
        f"chunked / naive step:   peak {ratio('step-chunked', 'step-naive', 'peak_mb'):.2f} "
        f"(above start {above('step-chunked') / above('step-naive'):.2f}), "
        f"time {ratio('step-chunked', 'step-naive', 'seconds'):.2f}   [targets: peak <= 0.40, time <= 1.10]"
    )
    print(
        f"LoRA / full step:       peak {ratio('step-lora', 'step-chunked', 'peak_mb'):.2f}, "
        f"time {ratio('step-lora', 'step-chunked', 'seconds'):.2f}   [target: peak <= 0.60; both chunked]"
    )
    print(f"LoRA chunked / naive full step: peak {ratio('step-lora', 'step-naive', 'peak_mb'):.2f}")
    print(
        f"chunked / naive eval:   peak {ratio('eval-chunked', 'eval-naive', 'peak_mb'):.2f} "
        f"(above start {above('eval-chunked') / above('eval-naive'):.2f}), "
        f"time {ratio('eval-chunked', 'eval-naive', 'seconds'):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, help="run one case in this process (what the script spawns)")
    parser.add_argument("--batch", type=int, default=8, help="rows per forget/retain batch, questions per evaluation")
    parser.add_argument("--length", type=int, default=128, help="tokens per row")
    parser.add_argument("--hidden", type=int, default=256, help="hidden size of the Llama-shaped model")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps after one warm-up")
    parser.add_argument("--chunk-mb", type=float, default=64.0, help="UNLEARN_LOGITS_CHUNK_MB of the chunked cases")
    args = parser.parse_args()
    if args.case:
        run_case(args.case, args)
        return
    print(
        f"vocabulary {VOCAB}, hidden {args.hidden}, batch {args.batch} x {args.length} tokens, CPU, "
        f"{os.environ.get('OMP_NUM_THREADS', 'default')} threads"
    )
    report({case: _spawn(case, args) for case in CASES})


if __name__ == "__main__":
    main()
