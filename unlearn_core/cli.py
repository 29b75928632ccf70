"""The ``unlearn`` command line: a thin layer over ``unlearn_core.pipeline.api``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from unlearn_core.cli_attack import ATTACK_HELP, attack_command
from unlearn_core.cli_launch import LAUNCH_PREFIX_ENV
from unlearn_core.cli_sweep import SHOW_CONFIG_HELP, show_config, sweep_command
from unlearn_core.cli_sweep import SWEEP_HELP as _SWEEP_HELP
from unlearn_core.config import resolve_config
from unlearn_core.errors import ConfigError, UnlearnError
from unlearn_core.pipeline.environment import record_command
from unlearn_core.pipeline.outputs import os_error_message
from unlearn_core.plugins import load_plugins
from unlearn_core.table import render_table, summary_table
from unlearn_core.training.checkpoint import latest_checkpoint
from unlearn_core.training.signals import TrainingInterrupted, terminate_as_interrupt

OVERRIDES_HELP = (
    "Trailing KEY=VALUE overrides use the reference keys, e.g. forget_split=forget05 trainer.args.learning_rate=2e-5 "
    "trainer.method_args.retain_loss_type=KL model=Llama-3.2-1B-Instruct "
    "model.model_args.pretrained_model_name_or_path=DIR retain_logs_path=FILE task_name=NAME."
)


SWEEP_HELP = "\n\n" + _SWEEP_HELP + " -m is short for --multirun."
RUN_SWEEP_HELP = "\n\n" + _SWEEP_HELP + " On run, -m is short for --method, so a sweep is --multirun."


class _State:
    verbose = False


def _said_by_process_0(exc: BaseException) -> bool:
    """Errors every process of a launch meets alike (a stop they agreed on, a configuration they share) are
    printed once, by process 0; any other error is printed by the process that met it."""
    return os.environ.get("RANK", "0") != "0" and isinstance(exc, (TrainingInterrupted, ConfigError))


def _fail(exc: BaseException) -> None:
    code = exc.exit_code if isinstance(exc, UnlearnError) else 1
    if _said_by_process_0(exc):
        sys.exit(code)
    click.echo(f"Error: {exc}", err=True)
    if not _State.verbose:
        click.echo("(run with --verbose for the traceback)", err=True) if not isinstance(exc, UnlearnError) else None
    sys.exit(code)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our errors into one line and an exit code; --verbose re-raises for the traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UnlearnError as exc:
            if _State.verbose:
                raise
            _fail(exc)
        except OSError as exc:
            if _State.verbose:
                raise

            click.echo(f"Error: {os_error_message(exc)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt as exc:
            code = getattr(exc, "exit_code", 130)
            name = "SIGTERM" if code == 143 else "SIGINT"
            hint = getattr(exc, "resume_hint", None)
            click.echo(
                f"Interrupted by {name}; finished results were left as they were{'; ' + hint if hint else ''}.",
                err=True,
            )
            sys.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--verbose", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="unlearn-core", prog_name="unlearn")
def main(verbose: bool) -> None:
    """unlearn: remove what a language model learned from chosen data, and measure how well that worked.

    \b
    Quick start (no network needed, runs on CPU):
      unlearn run --benchmark tofu --method npo
      unlearn list-plugins

    \b
    Sweeps and comparisons:
      unlearn run -b tofu -m npo task_name=grid --multirun trainer.method_args.beta=0.1,0.5
      unlearn compare saves/unlearn/grid --plot grid.png --html grid.html
    """
    _State.verbose = verbose


def _plugins() -> Any:
    return load_plugins()


@main.command("list-plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON instead of a table.")
@_guard
def list_plugins(as_json: bool) -> None:
    """Show installed plugins: distribution, version, entry point, what each provides, load errors."""
    plugins = _plugins()
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in plugins.infos], indent=2))
        return

    rows = []
    for info in plugins.infos:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.provides.items() if v)
        rows.append(
            [
                info.name,
                info.distribution,
                info.version,
                info.entry_point,
                info.error and f"FAILED: {info.error}" or provides,
            ]
        )
    click.echo(render_table(["plugin", "distribution", "version", "entry point", "provides"], rows))
    for info in plugins.failures():
        if _State.verbose and info.traceback:
            click.echo(f"\n{info.name}:\n{info.traceback}", err=True)


def _command_line(mode: str, benchmark: str | None, method: str | None, overrides: Any, flags: list[str]) -> list[str]:
    """The command line of a run as the user would type it (recorded in provenance, shown to resume); under
    ``unlearn launch`` the launch command it came from."""
    import shlex

    launched = os.environ.get(LAUNCH_PREFIX_ENV)
    if launched:
        prefix = shlex.split(launched)
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a plain accelerate launch: its options are not known here
        prefix = ["accelerate", "launch", "...", "-m", "unlearn_core"]
    else:
        prefix = ["unlearn"]
    argv = [*prefix, {"unlearn": "run"}.get(mode, mode)]
    argv += ["--benchmark", benchmark] if benchmark else []
    argv += ["--method", method] if method else []
    return [*argv, *overrides, *flags]


@contextmanager
def _interrupts(resume_command: str, resumable: Callable[[], bool]) -> Iterator[None]:
    """SIGTERM as SIGINT; a stop names the command that continues (``resumable()``: whether one can)."""
    try:
        with terminate_as_interrupt():
            yield
    except TrainingInterrupted as exc:
        exc.resume_command = resume_command
        raise
    except KeyboardInterrupt as exc:
        if resumable():
            exc.resume_hint = f"resume with: {resume_command}"  # type: ignore[attr-defined]
        raise


def _run_single(mode: str, plugins: Any, cli: dict[str, Any], resume_command: str) -> None:
    """Resolve, run, and print the summary table and where everything is."""
    overrides = list(cli["overrides"])
    cfg = resolve_config(mode, plugins, benchmark=cli["benchmark"], method=cli["method"], overrides=overrides)
    from unlearn_core.pipeline.api import execute  # heavy (torch, transformers): loaded once the configuration is valid

    try:
        with _interrupts(resume_command, lambda: mode != "eval" and latest_checkpoint(cfg.output_dir) is not None):
            result = execute(cfg, plugins, overwrite=cli["overwrite"], resume=cli["resume"])
    except OSError as exc:
        if _State.verbose:
            raise
        raise UnlearnError(os_error_message(exc, cfg.output_dir)) from None
    if int(os.environ.get("RANK", "0")) != 0:
        return  # process 0 reports for a multi-process run
    click.echo("")
    click.echo(summary_table(result.rows, result.columns, result.labels, result.recovery))
    click.echo("")
    click.echo(f"Output: {result.output_dir}")
    for name, path in result.files.items():
        click.echo(f"  {name}: {path}")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in result.seconds.items())
    if timing:
        click.echo(f"Time: {timing}")


def _check_method_value(method: str | None) -> None:
    """``-m`` is ``--method`` on ``unlearn run``: an override given to it means the user wanted a sweep."""
    if method and "=" in method:
        raise ConfigError(f"--method got '{method}': on 'unlearn run', -m is short for --method; a sweep is --multirun")


def _experiment_command(mode: str, with_method: bool) -> Callable[..., Any]:
    multirun_names = ["--multirun"] if with_method else ["--multirun", "-m"]  # on run, -m is --method

    @click.option("--benchmark", "-b", help="Benchmark name (see list-plugins), e.g. tofu or muse.")
    @click.option("--overwrite", is_flag=True, help="Replace the run (or the sweep's runs) in a non-empty directory.")
    @click.option(
        "--resume",
        is_flag=True,
        help="Continue the interrupted run in the output directory from its last checkpoint (with --multirun: the "
        "sweep, skipping finished runs).",
    )
    @click.option(*multirun_names, "multirun", is_flag=True, help="Run every combination of comma-separated values.")
    @click.option("--show-config", is_flag=True, help=SHOW_CONFIG_HELP)
    @click.argument("overrides", nargs=-1)
    @_guard
    def command(**cli: Any) -> None:
        import shlex

        cli.setdefault("method", None)
        benchmark, method, multirun = cli["benchmark"], cli["method"], cli["multirun"]
        overrides = list(cli["overrides"])
        _check_method_value(method)
        sweep_flag = ["--multirun"] * multirun
        flags = ["--overwrite"] * cli["overwrite"] + ["--resume"] * cli["resume"] + sweep_flag
        record_command(_command_line(mode, benchmark, method, overrides, flags))
        plugins = _plugins()
        if cli["show_config"]:
            show_config(mode, plugins, benchmark, method, overrides, multirun)
            return
        resume_command = shlex.join(_command_line(mode, benchmark, method, overrides, [*sweep_flag, "--resume"]))
        if not multirun:
            _run_single(mode, plugins, cli, resume_command)
            return
        with _interrupts(resume_command, lambda: True):
            sweep_command(
                mode,
                plugins,
                benchmark,
                method,
                overrides,
                overwrite=cli["overwrite"],
                resume=cli["resume"],
                command=_command_line(mode, benchmark, method, (), []),
            )

    if with_method:
        command = click.option("--method", "-m", help="Unlearning method (see list-plugins), e.g. npo, gradascent.")(
            command
        )
    return command


@main.command(
    "attack",
    help=ATTACK_HELP,
    context_settings={"ignore_unknown_options": True},
)
@click.argument("name")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("arguments", nargs=-1)
@click.option("--overwrite", is_flag=True, help="Replace earlier results of the same attack on this run.")
@_guard
def attack_cmd(name: str, run_dir: Path, arguments: tuple[str, ...], overwrite: bool) -> None:
    record_command(["unlearn", "attack", name, str(run_dir), *arguments, *["--overwrite"] * overwrite])
    attack_command(name, run_dir, arguments, overwrite)


run_cmd = main.command(
    "run",
    help="Unlearn the forget data with a method, then evaluate (mode 'unlearn').\n\n" + OVERRIDES_HELP + RUN_SWEEP_HELP,
    context_settings={"ignore_unknown_options": True},
)(_experiment_command("unlearn", True))
train_cmd = main.command(
    "train",
    help="Finetune a model on a benchmark's data: data.train=target (default) or retain (mode 'train').\n\n"
    + OVERRIDES_HELP
    + SWEEP_HELP,
    context_settings={"ignore_unknown_options": True},
)(_experiment_command("train", False))
eval_cmd = main.command(
    "eval",
    help="Evaluate a model on a benchmark (mode 'eval'); the embedded target model by default.\n\n"
    + OVERRIDES_HELP
    + SWEEP_HELP,
    context_settings={"ignore_unknown_options": True},
)(_experiment_command("eval", False))


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

from unlearn_core.cli_compare import compare_command  # noqa: E402  (registered last: the compare command)
from unlearn_core.cli_diff import diff_command  # noqa: E402  (registered last: the diff command)

main.add_command(diff_command)
main.add_command(compare_command)

from unlearn_core.cli_launch import launch_command  # noqa: E402  (registered last: the launch command)
from unlearn_core.cli_report import report  # noqa: E402  (registered last: the report command)

main.add_command(report)
main.add_command(launch_command)
