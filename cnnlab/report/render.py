"""Writing the report's blocks as Markdown (README.md) and self-contained HTML (index.html).

The HTML embeds its figures as base64 data URIs and its style inline: opened from disk it
makes no network request, so it can be mailed, archived or attached to an MLflow run. Text
in the blocks uses two inline marks, `code` and *emphasis*, rendered by both writers.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from cnnlab.report.document import Banner, Block, FigureBlock, Heading, Table, Text

_CODE = re.compile(r"`([^`]+)`")
_EMPHASIS = re.compile(r"\*([^*]+)\*")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8rem 0 1.2rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d0d5; padding: 0.35rem 0.55rem; vertical-align: top;
         text-align: left; }
th { background: #f2f2f5; }
code { background: #f2f2f5; padding: 0 0.2rem; border-radius: 3px; }
.banner { padding: 0.7rem 1rem; border-radius: 6px; margin: 0.8rem 0; font-weight: 500; }
.banner.smoke { background: #fff4ce; border: 1px solid #e0b000; }
.banner.not-judged { background: #fde2e1; border: 1px solid #d33; }
.banner.edited { background: #fde2e1; border: 1px solid #d33; }
.banner.confound { background: #eef3ff; border: 1px solid #6b8cd6; }
td.verdict { font-weight: 600; white-space: nowrap; }
td.supported { background: #dff5e1; } td.refuted { background: #fde2e1; }
td.practically-equivalent { background: #e6eefc; } td.inconclusive { background: #f4f4f4; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e5e5ea; }
figcaption { font-size: 0.9rem; color: #55555a; }
"""


def _inline_html(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = _CODE.sub(r"<code>\1</code>", escaped)
    return _EMPHASIS.sub(r"<em>\1</em>", escaped)


def _cell_md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Text):
            out.append(block.text)
        elif isinstance(block, Banner):
            out.append(f"> **{block.text}**")
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_cell_md(h) for h in block.header) + " |")
            out[-1] += "\n|" + "---|" * len(block.header)
            for row in block.rows:
                out[-1] += "\n| " + " | ".join(_cell_md(c) for c in row) + " |"
        elif isinstance(block, FigureBlock):
            figure = block.figure
            out.append(
                f"### {figure.title}\n\n![{figure.title}](figures/{figure.file})\n\n"
                f"{figure.caption}"
            )
    return "\n\n".join(out) + "\n"


def _table_html(table: Table) -> str:
    ident = f' id="{table.element_id}"' if table.element_id else ""
    head = "".join(f"<th>{_inline_html(h)}</th>" for h in table.header)
    rows = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            verdict = (
                f' class="verdict {cell.lower().replace(" ", "-")}"'
                if table.element_id == "verdicts" and i == 1
                else ""
            )
            cells.append(f"<td{verdict}>{_inline_html(cell)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def to_html(blocks: list[Block], figures_dir: Path, title: str) -> str:
    body: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Banner):
            body.append(f'<div class="banner {block.kind}">{_inline_html(block.text)}</div>')
        elif isinstance(block, Table):
            body.append(_table_html(block))
        elif isinstance(block, FigureBlock):
            figure = block.figure
            data = base64.b64encode((figures_dir / figure.file).read_bytes()).decode("ascii")
            body.append(
                f'<figure id="figure-{figure.file.removesuffix(".png")}">'
                f"<h3>{_inline_html(figure.title)}</h3>"
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(figure.title)}">'
                f"<figcaption>{_inline_html(figure.caption)}</figcaption></figure>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        # Belt and braces for "no network": the page may load nothing but its own data URIs.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
