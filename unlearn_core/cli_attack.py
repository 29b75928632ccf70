"""``unlearn attack NAME RUN_DIR [attack.KEY=VALUE ...]``: what an attack brings back of what a run unlearned."""

from __future__ import annotations

from pathlib import Path

import click

from unlearn_core.attacks.arguments import attack_arguments, parse_attack_overrides
from unlearn_core.pipeline.attack import attack_dir, attack_run, check_attack_dir, load_attacked_run
from unlearn_core.pipeline.environment import quiet_libraries
from unlearn_core.plugins import load_plugins
from unlearn_core.table import summary_table

ATTACK_HELP = """Attack the unlearned model of RUN_DIR and evaluate it as the run was evaluated.

\b
Built-in attacks (unlearn list-plugins lists installed ones):
  relearn   finetune on attack.fraction (0.1) of attack.data (forget_subset|retain|<data set name>) for
            attack.steps (10) steps at attack.learning_rate (the run's), attack.seed (the run's)
  quantize  attack.bits=8|4 (4) with attack.method=rtn (any device)|quanto (CPU, optional extra)|bnb (CUDA)

Writes RUN_DIR/attacks/<name>[-<variant>]/ (<BENCH>_EVAL.json, <BENCH>_SUMMARY.json, attack.json,
summary_table.json) and prints the unlearned model against the attacked one, with the recovery of each forget
metric: (attacked - unlearned) / (target - unlearned), 0 = nothing came back, 1 = back to the target model.
"""


def attack_command(name: str, run_dir: Path, arguments: tuple[str, ...], overwrite: bool) -> None:
    """Check the attack and its arguments, run it, print the table and where the results are."""
    plugins = load_plugins()
    attack_cls = plugins.attacks.get(name)
    attack = attack_cls(**attack_arguments(attack_cls, parse_attack_overrides(arguments)))
    attack.check(load_attacked_run(run_dir).values)
    check_attack_dir(attack_dir(run_dir, attack), overwrite)

    quiet_libraries()
    result = attack_run(run_dir, attack, plugins, overwrite=overwrite)
    click.echo("")
    click.echo(summary_table(result.rows, result.columns, result.labels, result.recovery))
    click.echo("")
    click.echo(f"Output: {result.output_dir}")
    for label, path in result.files.items():
        click.echo(f"  {label}: {path}")
    click.echo("Time: " + ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items()))
