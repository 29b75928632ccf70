"""The HTML page of ``unlearn compare --html``: one self-contained file (inline style, the plot as base64 PNG)."""

from __future__ import annotations

import base64
import html
from typing import Any

from unlearn_core.compare.runs import Comparison
from unlearn_core.table import format_value

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f3f3f3; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.reference td { background: #fafafa; font-style: italic; }
img { max-width: 100%; height: auto; margin: 1em 0; }
p.note { color: #a33; }
"""


def _table(headers: list[str], rows: list[list[Any]], reference: int) -> str:
    """An HTML table; the first ``reference`` rows (target, retain) are styled apart."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = format_value(value) if value != "" else ""
            cells.append(f'<td class="number">{text}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        kind = ' class="reference"' if i < reference else ""
        body.append(f"<tr{kind}>{''.join(cells)}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def render_html(comparison: Comparison, title: str, png: bytes | None, notes: list[str]) -> str:
    """The page: title, notes (runs left out, comparability overridden), the plot, the table, the sources."""
    headers, rows = comparison.table()
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in notes]
    if png is not None:
        encoded = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="trade-off plot of the runs" src="data:image/png;base64,{encoded}">')
    parts.append(_table(headers, rows, len(comparison.reference)))
    sources = "".join(f"<li><code>{html.escape(str(path))}</code></li>" for path in comparison.sources)
    parts.append(f"<h2>Run directories</h2>\n<ul>{sources}</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
