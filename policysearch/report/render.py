"""A tiny document model rendered to both HTML (index.html) and Markdown (report.md).

A document is a list of blocks: ("h1"|"h2"|"p", text), ("table", headers, rows),
("img", src, caption), ("ul", items). Text is plain (escaped for HTML); table cells may be
("link", text, href) tuples.
"""

from __future__ import annotations

import html
import math

CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 0.5em 0 1.5em 0; }
figcaption { font-size: 0.85em; color: #555; max-width: 60em; }
img { max-width: 100%; border: 1px solid #eee; }
li { font-size: 0.9em; margin: 0.2em 0; }
"""


def fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if not math.isfinite(v):
        return "–"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    return f"{v:.{digits}g}" if abs(v) < 10 ** digits else f"{v:.0f}"


def fmt_stats(st: dict | None, digits: int = 3, spread: bool = True) -> str:
    """'median [q25, q75]' of a stats dict from analysis._stats."""
    if not st or st.get("median") is None:
        return "–"
    if not spread or st.get("n", 0) < 2:
        return fmt(st["median"], digits)
    return f"{fmt(st['median'], digits)} [{fmt(st['q25'], digits)}, {fmt(st['q75'], digits)}]"


def _cell_html(c) -> str:
    if isinstance(c, tuple) and c and c[0] == "link":
        return f'<a href="{html.escape(c[2])}">{html.escape(c[1])}</a>'
    return html.escape(str(c))


def _cell_md(c) -> str:
    if isinstance(c, tuple) and c and c[0] == "link":
        return f"[{c[1]}]({c[2]})"
    return str(c).replace("|", "\\|")


def to_html(title: str, blocks: list) -> str:
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style>", "</head><body>"]
    for b in blocks:
        kind = b[0]
        if kind in ("h1", "h2", "p"):
            out.append(f"<{kind}>{html.escape(b[1])}</{kind}>")
        elif kind == "table":
            out.append("<table>")
            out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in b[1]) + "</tr>")
            for row in b[2]:
                out.append("<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>")
            out.append("</table>")
        elif kind == "img":
            out.append(f'<figure><img src="{html.escape(b[1])}" alt="{html.escape(b[1])}">'
                       f"<figcaption>{html.escape(b[2])}</figcaption></figure>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b[1]) + "</ul>")
        else:  # pragma: no cover - programming error
            raise ValueError(f"unknown block {kind!r}")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def to_markdown(blocks: list) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out.append(f"# {b[1]}\n")
        elif kind == "h2":
            out.append(f"## {b[1]}\n")
        elif kind == "p":
            out.append(f"{b[1]}\n")
        elif kind == "table":
            out.append("| " + " | ".join(_cell_md(h) for h in b[1]) + " |")
            out.append("|" + "|".join("---" for _ in b[1]) + "|")
            for row in b[2]:
                out.append("| " + " | ".join(_cell_md(c) for c in row) + " |")
            out.append("")
        elif kind == "img":
            out.append(f"![{b[2]}]({b[1]})\n")
            out.append(f"*{b[2]}*\n")
        elif kind == "ul":
            out.extend(f"- {i}" for i in b[1])
            out.append("")
    return "\n".join(out)
