"""The resolved configuration as YAML (``--show-config``): what a run would use, presets and plugin defaults in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


def config_yaml(values: dict[str, Any], title: str | None = None) -> str:
    """One YAML document with the keys in their configuration order, under a ``# title`` comment."""
    import yaml

    class Dumper(yaml.SafeDumper):
        """Strings with line breaks (template tags) on one line, escaped: ``"\\n\\n"``."""

    def string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = '"' if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, string)
    plain = json.loads(json.dumps(values, default=str))  # tuples become lists, as in config.json
    text = yaml.dump(plain, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return (f"# {title}\n" if title else "") + text


def configs_yaml(documents: Sequence[tuple[str | None, dict[str, Any]]]) -> str:
    """Several documents in one YAML stream (``---`` between them), e.g. one per combination of a sweep."""
    return "---\n".join(config_yaml(values, title) for title, values in documents)
