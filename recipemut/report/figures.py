"""matplotlib plumbing shared by every chart: a figure on the Agg canvas, and its PNG or SVG bytes.

``pyplot`` is never used (no global figure state to leak between calls, no GUI backend chosen
from the environment); each figure gets its own
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`. SVG text stays text
(``svg.fonttype: none``: smaller files, searchable, and a test can read it), and the SVG is
byte-for-byte reproducible (a fixed id salt, no date). User text given to matplotlib must be
drawn with ``parse_math=False`` (a ``$`` in a name would otherwise be read as TeX); matplotlib
escapes text for XML itself.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: file suffix -> matplotlib format of the image files a chart can be written as
IMAGE_FORMATS: dict[str, str] = {".png": "png", ".svg": "svg"}
#: pixels per inch of PNG output
DPI = 110

#: the look of every chart (a small subset of matplotlib's rcParams, applied while drawing and saving)
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "legend.frameon": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "recipemut",
}


def image_format(path: str | os.PathLike[str]) -> str | None:
    """The image format a file name asks for (``png``, ``svg``), or None for any other suffix.

    >>> image_format("capacity.PNG"), image_format("a/b.svg"), image_format("x.pdf")
    ('png', 'svg', None)
    """
    return IMAGE_FORMATS.get(os.path.splitext(os.fspath(path))[1].lower())


def new_figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """An empty figure of ``width`` x ``height`` inches on its own Agg canvas.

    ``constrained``: matplotlib's constrained layout places the axes (it measures every tick label
    first); without it the caller places them (fixed margins in inches: half the drawing time of
    a grid of date axes).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with styled():
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def styled() -> Any:
    """A context in which :data:`STYLE` applies (axes and text created inside it take its look)."""
    import matplotlib

    rc: Any = STYLE  # matplotlib's stubs want literal rcParams keys
    return matplotlib.rc_context(rc)


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """The figure as ``png`` or ``svg`` bytes (reproducible: no date, fixed ids)."""
    if fmt not in IMAGE_FORMATS.values():
        raise ValueError(f"unknown image format {fmt!r}")
    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    buf = io.BytesIO()
    with styled():
        fig.savefig(buf, format=fmt, metadata=metadata, facecolor="white")
    return buf.getvalue()


def inline_svg(fig: Figure, *, label: str, prefix: str) -> str:
    """The figure as an ``<svg>`` element to put inside an HTML page (no XML prolog, no DOCTYPE).

    ``label`` becomes its ``aria-label`` (escaped here); the element is given ``role="img"``.
    Every id inside it (and every reference to one) starts with ``prefix-``: matplotlib numbers
    ids per figure (``axes_1``), so two figures in one page would otherwise share them.
    """
    import html

    text = figure_bytes(fig, "svg").decode("utf-8")
    for old, new in (('id="', f'id="{prefix}-'), ("url(#", f"url(#{prefix}-"), ('href="#', f'href="#{prefix}-')):
        text = text.replace(old, new)
    start = text.index("<svg")
    head_end = text.index(">", start)
    head = text[start:head_end]
    return f'{head} role="img" aria-label="{html.escape(label, quote=True)}"' + text[head_end:].rstrip() + "\n"
