"""``unlearn launch CONFIG COMMAND ...``: run a command on several processes through ``accelerate launch`` with a
shipped configuration, setting what a machine without CUDA needs (gloo DDP, DeepSpeed's CPU accelerator)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from unlearn_core.errors import ConfigError

SHIPPED_CONFIGS = Path(__file__).resolve().parent / "configs" / "accelerate"
LAUNCHABLE = ("run", "train", "eval")
LAUNCH_PREFIX_ENV = "UNLEARN_LAUNCH_COMMAND"
"""Set for the launched processes: ``unlearn launch [options] CONFIG``, so they record (and show, to resume) the
command the user typed."""


def shipped_config_names() -> list[str]:
    """Names of the shipped Accelerate configurations (``ddp``, ``zero2``, ``zero3``, ...)."""
    return sorted(p.stem for p in SHIPPED_CONFIGS.glob("*.yaml"))


def config_path(config: str) -> Path:
    """The YAML file of a shipped configuration name, or ``config`` itself when it is a file."""
    if config in shipped_config_names():
        return SHIPPED_CONFIGS / f"{config}.yaml"
    path = Path(config).expanduser()
    if path.is_file():
        return path
    raise ConfigError(
        f"unknown accelerate configuration '{config}': choose one of {', '.join(shipped_config_names())}, "
        "or give the path of an accelerate YAML file"
    )


def launch_environment(config: Path, cuda: bool) -> dict[str, str]:
    """Variables to add for ``config``: without CUDA, DDP over gloo needs ``ACCELERATE_USE_CPU=1`` (otherwise each
    process runs alone), and ``DS_ACCELERATOR=cpu`` keeps DeepSpeed from announcing its CPU fallback on stdout."""
    if cuda:
        return {}
    import yaml

    try:
        settings = yaml.safe_load(config.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read accelerate configuration {config}: {exc}") from None
    env = {"DS_ACCELERATOR": "cpu"}
    if settings.get("distributed_type") in ("MULTI_GPU", "MULTI_CPU"):
        env["ACCELERATE_USE_CPU"] = "1"
    return env


def launch_argv(config: Path, command: tuple[str, ...], **options: Any) -> list[str]:
    """The ``accelerate launch`` command line (run with this Python, so no PATH lookup is involved); ``options`` are
    accelerate's own (``num_processes``, ``machine_rank``, ``main_process_ip``, ``main_process_port``), None when
    the config file's value stands."""
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)]
    for name, value in options.items():
        if value is not None:
            argv += [f"--{name}", str(value)]
    return [*argv, "-m", "unlearn_core", *command]


@click.command(
    "launch",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("config")
@click.option(
    "--num-processes", type=click.IntRange(min=1), help="Processes in all, over every machine (default: the config's)."
)
@click.option("--machine-rank", type=click.IntRange(min=0), help="This machine's rank in a multi-node launch.")
@click.option("--main-process-ip", help="Address of machine 0 in a multi-node launch.")
@click.option("--main-process-port", type=click.IntRange(1, 65535), help="Port of the rendezvous.")
@click.option("--dry-run", is_flag=True, help="Print the environment and command line instead of running them.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def launch_command(config: str, dry_run: bool, command: tuple, **options: Any) -> None:
    """Run COMMAND (run, train or eval with its options and KEY=VALUE overrides) on several processes.

    CONFIG is a shipped configuration (ddp, zero2, zero3, zero3_offload, multinode_zero3) or an accelerate YAML
    file. The options of launch itself go before CONFIG. Example:

        unlearn launch --num-processes 4 zero3 run --benchmark tofu --method npo

    A sweep runs each of its combinations on all the processes:

    \b
        unlearn launch ddp run --benchmark tofu --method npo --multirun trainer.args.learning_rate=1e-5,2e-5

    On several machines run the same command on each with its --machine-rank (and the config's or
    --main-process-ip); the output directory and UNLEARN_CACHE_DIR must then be on a shared filesystem.
    """
    try:
        path = config_path(config)
        if not command or command[0] not in LAUNCHABLE:
            given = f"'{command[0]}'" if command else "nothing"
            raise ConfigError(f"unlearn launch runs one of {', '.join(LAUNCHABLE)}; got {given} after {config}")
        import torch

        env = launch_environment(path, torch.cuda.is_available())
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    argv = launch_argv(path, command, **options)
    typed = [f"--{k.replace('_', '-')}={v}" for k, v in options.items() if v is not None]
    env[LAUNCH_PREFIX_ENV] = shlex.join(["unlearn", "launch", *typed, config])
    if dry_run:
        click.echo(" ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()))
        click.echo(" ".join(argv))
        return
    os.execve(sys.executable, argv, {**os.environ, **env})
