"""HTML pieces: one page with its style inline (no network fetches), tables, figures as inline SVG.
Every text from data or users is escaped here."""

from __future__ import annotations

import html
import math

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0 auto;
       max-width: 1100px; padding: 1.2em 1.6em 3em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #d8dde6; padding-bottom: 0.2em;
margin-top: 1.8em; } h3 { margin-bottom: 0.3em; }
.meta { color: #5a6475; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e3e7ee; padding: 0.25em 0.7em; text-align: right; }
th { background: #f3f5f9; } td:first-child, th:first-child { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; flex: 1 1 460px; max-width: 640px; } figure svg { width: 100%; height: auto; }
figure[data-figure^='bootstrap'] { flex-basis: 100%; max-width: 820px; }
figure[data-figure^='candidates'] { flex-basis: 100%; max-width: 100%; }
figcaption { font-size: 0.85em; color: #5a6475; }
.warn { background: #fff6e0; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; margin: 0.4em 0; }
.note { color: #5a6475; font-size: 0.9em; margin: 0.3em 0; }
.error { background: #fde8e8; border-left: 4px solid #c62828; padding: 0.4em 0.8em; }
@media print { body { max-width: none; font-size: 10pt; padding: 0; } figure { break-inside: avoid; }
               h2 { break-after: avoid; } .figures { display: block; } table { font-size: 8pt; }
               th, td { padding: 0.15em 0.35em; } }
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def number(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return esc(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}g}" if math.isfinite(v) else esc(v)


def table(header: list[str], rows: list[list], caption: str | None = None) -> str:
    """A table; cells are numbers (formatted) or text (escaped)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{number(c)}</td>" for c in row) + "</tr>" for row in rows)
    cap = f"<caption class='note'>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure(svg_text: str, caption: str, name: str) -> str:
    """An inline SVG figure (``name`` marks it for tests and for readers of the source)."""
    return f"<figure data-figure='{esc(name)}'>{svg_text}<figcaption>{esc(caption)}</figcaption></figure>"


def lines(items, css: str) -> str:
    return "".join(f"<p class='{css}'>{esc(item)}</p>" for item in items)


def page(title: str, meta: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            # a shared file fetches and runs nothing, whatever text found its way into it
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:; base-uri 'none'; form-action 'none'\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1><p class='meta'>{esc(meta)}</p>{body}"
            "</body></html>")
