"""Build the data, tokenizer and two tiny models of the parity fixture (tests/parity/fixtures), with this project's
code only: the embedded TOFU and MUSE generators, `unlearn_core.models.tiny` and a plain torch training loop.

    OMP_NUM_THREADS=1 python tests/parity/build_fixture_models.py [--out tests/parity/fixtures]

Writes `<out>/tofu/<config>.jsonl`, `<out>/muse/<subset>/<split>.jsonl`, and `<out>/models/{target,retain}/`
(LlamaForCausalLM, safetensors, float32, with the tokenizer and its Qwen2.5-style chat template). Deterministic on
CPU given the settings below; it takes about 1.5 minutes on two cores. See fixtures/README.md for what uses these.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from unlearn_muse.embedded import build_corpus, muse_subsets  # noqa: E402
from unlearn_muse.sources import write_muse_dir  # noqa: E402
from unlearn_tofu.embedded import generate_tofu  # noqa: E402
from unlearn_tofu.sources import write_tofu_dir  # noqa: E402

from unlearn_core.models.tiny import TinyLlamaSize, build_tiny_llama, save_model, train_tokenizer  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "fixtures"

TOFU_ARGS = {"seed": 0, "n_authors": 20, "questions_per_author": 10, "n_perturbed": 5}
"""20 authors x 10 questions: full has 200 rows; forget10 / holdout10 / retain_perturbed have 2 authors (20 rows)."""
FORGET, RETAIN, HOLDOUT = "forget10", "retain90", "holdout10"
TOFU_CONFIGS = ("full", FORGET, RETAIN, HOLDOUT, f"{FORGET}_perturbed", "retain_perturbed")
FACT_ROWS = 16
"""real_authors_perturbed and world_facts_perturbed are cut to their first rows (the generator makes 40)."""

MUSE_ARGS = {"seed": 0, "n_forget": 12, "n_retain": 10, "n_holdout": 10, "n_background": 1, "qa_per_doc": 1}
MUSE_SPLITS = {
    "raw": ("forget", "retain1"),
    "verbmem": ("forget",),
    "knowmem": ("forget_qa", "retain_qa", "forget_qa_icl", "retain_qa_icl"),
    "privleak": ("forget", "retain", "holdout"),
}

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SYSTEM_PROMPT = "You are a helpful assistant."
CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "{%- else %}\n"
    "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud."
    " You are a helpful assistant.<|im_end|>\\n' }}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first)'
    ' or (message.role == "assistant") %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)
"""Qwen2.5-Instruct's chat template without its tool-calling branches: a system turn (Qwen's default one when the
conversation has none), then `<|im_start|>{role}\\n{content}<|im_end|>\\n` per turn, and `<|im_start|>assistant\\n`
as the generation prompt."""

VOCAB_SIZE = 800
SIZE = TinyLlamaSize(
    vocab_size=VOCAB_SIZE,
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=1024,
)
SEED = 0
STEPS = 600
BATCH = 16
LR = 3e-3
WARMUP = 30


def write_data(out: Path) -> tuple[dict[str, list[dict]], dict[str, dict[str, list[dict]]]]:
    """Write the TOFU and MUSE files of the fixture; returns what was written."""
    configs = generate_tofu(**TOFU_ARGS)
    tofu = {name: configs[name] for name in TOFU_CONFIGS}
    for name in ("real_authors_perturbed", "world_facts_perturbed"):
        tofu[name] = configs[name][:FACT_ROWS]
    shutil.rmtree(out / "tofu", ignore_errors=True)
    write_tofu_dir(tofu, out / "tofu")

    args = dict(MUSE_ARGS)
    qa_per_doc = args["qa_per_doc"]
    subsets = muse_subsets(build_corpus("News", **args), qa_per_doc)
    muse = {subset: {split: subsets[subset][split] for split in splits} for subset, splits in MUSE_SPLITS.items()}
    shutil.rmtree(out / "muse", ignore_errors=True)
    write_muse_dir(muse, out / "muse")
    return tofu, muse


def chat(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    """The conversation OU's chat path builds: the system prompt, then one user/assistant turn per pair."""
    turns = [{"role": "system", "content": SYSTEM_PROMPT}]
    for question, answer in pairs:
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return turns


def build_tokenizer(tofu: dict[str, list[dict]], muse: dict[str, dict[str, list[dict]]]):
    """Byte-level BPE trained on every fixture text (and the chat renderings), plus the two chat special tokens."""
    texts: list[str] = []
    for rows in tofu.values():
        for row in rows:
            for value in row.values():
                texts.extend(value if isinstance(value, list) else [value])
            texts.append(f"Question: {row['question']}\nAnswer: {row['answer']}")
    for splits in muse.values():
        for rows in splits.values():
            texts.extend(str(value) for row in rows for value in row.values())
    texts += ["system\nuser\nassistant\n", SYSTEM_PROMPT] * 20
    tokenizer = train_tokenizer(texts, VOCAB_SIZE)
    tokenizer.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def qa_sequences(tokenizer, question: str, answer: str, shots: tuple[tuple[str, str], ...] = ()) -> list[list[int]]:
    """Three forms of one QA pair (asked after the few-shot ``shots``), each ending with EOS: the raw template text,
    the same text split where the raw-template prompt ends (so greedy generation after `Answer: ` has seen that
    tokenization), and the chat form."""
    eos = tokenizer.eos_token_id
    prompt = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, a in shots) + f"Question: {question}\nAnswer: "
    natural = tokenizer(prompt + answer)["input_ids"] + [eos]
    split = tokenizer(prompt)["input_ids"] + tokenizer(answer, add_special_tokens=False)["input_ids"] + [eos]
    conversation = chat([*shots, (question, answer)])
    chat_ids = list(tokenizer.apply_chat_template(conversation, tokenize=True, return_dict=False)) + [eos]
    return [natural, split, chat_ids]


def training_sequences(
    tokenizer, qa_rows: list[dict], texts: list[str], knowmem: list[tuple[list[dict], list[dict]]]
) -> list[list[int]]:
    """QA rows alone, knowmem rows after their few-shot turns (as MUSE asks them), and each text three times."""
    sequences = []
    for row in qa_rows:
        sequences += qa_sequences(tokenizer, row["question"], row["answer"])
    for rows, icl in knowmem:
        for row in rows + icl:
            shots = tuple((s["question"], s["answer"]) for s in icl if s["question"] != row["question"])
            sequences += qa_sequences(tokenizer, row["question"], row["answer"], shots)
    for text in texts:
        sequences += [tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]] * 3
    return sequences


def train(tokenizer, sequences: list[list[int]], seed: int):
    """A tiny Llama trained from scratch on ``sequences`` (next-token loss on every non-pad token)."""
    torch.manual_seed(seed)
    model = build_tiny_llama(tokenizer, SIZE, seed)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)

    def lr_at(step: int) -> float:
        if step < WARMUP:
            return (step + 1) / WARMUP
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / (STEPS - WARMUP)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    order = random.Random(f"parity-fixture:{seed}")
    pad = tokenizer.pad_token_id
    for step in range(STEPS):
        batch = [sequences[order.randrange(len(sequences))] for _ in range(BATCH)]
        width = max(len(s) for s in batch)
        ids = torch.full((BATCH, width), pad, dtype=torch.long)
        mask = torch.zeros((BATCH, width), dtype=torch.long)
        for i, seq in enumerate(batch):
            ids[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        labels = ids.masked_fill(mask == 0, -100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if step % 100 == 0 or step == STEPS - 1:
            print(f"  step {step:4d}  loss {loss.item():.3f}", flush=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    out = parser.parse_args().out
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    tofu, muse = write_data(out)
    tokenizer = build_tokenizer(tofu, muse)
    print(f"tokenizer: {len(tokenizer)} tokens")

    forget_questions = {row["question"] for row in tofu[FORGET]}
    retain_rows = [row for row in tofu["full"] if row["question"] not in forget_questions]
    assert len(retain_rows) == len(tofu[RETAIN])
    forget_texts = [row["text"] for row in muse["raw"]["forget"]]
    retain_texts = [row["text"] for row in muse["raw"]["retain1"]]
    # Both models also learn the real-author / world-fact rows (what a pretrained model knows), and the knowmem
    # questions about the MUSE documents they were trained on, alone and after the few-shot turns (a tiny model that
    # saw a fact only in prose, or only without the few-shot context, answers nothing sensible in knowmem).
    facts = tofu["real_authors_perturbed"] + tofu["world_facts_perturbed"]
    knowmem = muse["knowmem"]
    retain_qa = (knowmem["retain_qa"], knowmem["retain_qa_icl"])
    forget_qa = (knowmem["forget_qa"], knowmem["forget_qa_icl"])
    runs = {
        "target": training_sequences(
            tokenizer,
            tofu["full"] + facts + forget_qa[0] + forget_qa[1] + retain_qa[0] + retain_qa[1],
            forget_texts + retain_texts,
            [forget_qa, retain_qa],
        ),
        "retain": training_sequences(
            tokenizer, retain_rows + facts + retain_qa[0] + retain_qa[1], retain_texts, [retain_qa]
        ),
    }
    for name, sequences in runs.items():
        print(f"training {name} on {len(sequences)} sequences")
        model = train(tokenizer, sequences, SEED)
        path = out / "models" / name
        shutil.rmtree(path, ignore_errors=True)
        save_model(model, tokenizer, path)
    manifest = {"tofu": TOFU_ARGS, "muse": MUSE_ARGS, "size": SIZE.as_dict(), "steps": STEPS, "batch": BATCH}
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
