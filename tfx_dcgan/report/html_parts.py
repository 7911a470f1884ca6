"""The report page's building blocks: its CSS, inlined images and tables, number formats."""

from __future__ import annotations

import base64
import html
import io
import math

from PIL import Image

__all__ = ["CSS", "data_uri", "duration", "empty", "escape", "img", "number", "std", "table"]

CSS = """
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: #1d232a; margin: 0;
       background: #f4f5f7; }
header { background: #1d2b3a; color: #fff; padding: 18px 32px 14px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .meta { color: #b8c4d0; font-size: 12.5px; }
.badges { margin-top: 10px; }
.badge { display: inline-block; margin: 0 8px 4px 0; padding: 3px 10px; border-radius: 12px;
         background: #2f4358; color: #fff; font-size: 13px; }
.badge.good { background: #1f7a4d; } .badge.bad { background: #a33a2f; }
nav { padding: 8px 32px; background: #e6e9ed; font-size: 13px; }
nav a { margin-right: 14px; color: #24517a; text-decoration: none; }
main { padding: 8px 32px 32px; max-width: 1180px; }
section { background: #fff; border-radius: 6px; padding: 4px 20px 14px; margin: 14px 0;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }
h2 { font-size: 17px; margin: 12px 0 8px; color: #1d2b3a; }
.empty { color: #6b7480; font-style: italic; }
.error { color: #a33a2f; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { text-align: left; padding: 3px 12px 3px 0; border-bottom: 1px solid #eceef1;
         vertical-align: top; }
th { color: #56606b; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12.5px "DejaVu Sans Mono", monospace; }
pre { background: #f1f3f5; padding: 8px 12px; border-radius: 4px; white-space: pre-wrap;
      word-break: break-all; }
figure { display: inline-block; margin: 4px 14px 8px 0; vertical-align: top; }
figcaption { font-size: 12px; color: #56606b; text-align: center; }
img.pixels { image-rendering: pixelated; }
.bar { display: inline-block; height: 10px; background: #5b8fc7; border-radius: 2px; }
.small { font-size: 12px; color: #56606b; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a data: URI (the page loads nothing from elsewhere)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def escape(value: object) -> str:
    """Text made safe inside HTML."""
    return html.escape(str(value))


def img(png: bytes, alt: str, *, pixels: bool = False, min_width: int = 0) -> str:
    """An inlined <img>; a picture narrower than `min_width` is shown enlarged by a whole factor
    (pixel art stays sharp: `pixels` turns off smoothing)."""
    size = ""
    if min_width:
        width, height = Image.open(io.BytesIO(png)).size
        if width < min_width:
            factor = math.ceil(min_width / width)
            size = f' width="{width * factor}" height="{height * factor}"'
    cls = ' class="pixels"' if pixels else ""
    return f'<img src="{data_uri(png)}" alt="{escape(alt)}"{cls}{size}>'


def empty(text: str) -> str:
    """The paragraph a section shows instead of data."""
    return f'<p class="empty">{escape(text)}</p>'


def table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """Rows of already-escaped cells; `numeric` column indexes are right-aligned."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def number(value: float | None, digits: int = 4) -> str:
    """A figure with `digits` decimals ("n/a" for None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def std(value: float | None) -> str:
    """A standard deviation in 2 significant digits."""
    return "n/a" if value is None else f"{value:.2g}"


def duration(seconds: float) -> str:
    """ "12.3 s", or "4 min 05.6 s" from a minute on."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:04.1f} s"
