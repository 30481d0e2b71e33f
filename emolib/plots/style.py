"""The house style shared by every figure: matplotlib defaults, the palette, the RDM heatmap, the text-size check.

Example:
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> set_style()
    >>> fig, ax = plt.subplots()
    >>> rdm_heatmap(ax, np.arange(3.0), ["a", "b", "c"]).get_title()
    ''
"""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["PALETTE", "OKABE_ITO", "DIVERGING", "SEQUENTIAL", "COLUMN_PX", "MIN_TEXT_PX", "TEXT_PX_KEY",
           "set_style", "rdm_heatmap", "min_text_px", "png_size", "displayed_text_px", "figure_png",
           "layer_axis", "one_based_layers"]  # fmt: skip

#: Colours of the three attribute groups and of model vs human stages.
PALETTE = {"Affective": "#d1495b", "Basic emotions (faces)": "#edae49", "Appraisal": "#00798c",
           "human": "#66a182", "model": "#2e4057", "analysis": "#8d96a3"}  # fmt: skip
#: The Okabe-Ito colour-blind-safe palette (black omitted), the house colour cycle.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"]
#: Colour maps without red against green: diverging (low = blue, high = red) and sequential.
DIVERGING, SEQUENTIAL = "RdBu_r", "cividis"
#: The book's article column (px) and the smallest text it shows (px, at the displayed size).
COLUMN_PX, MIN_TEXT_PX = 690, 9.0
#: The PNG tEXt key under which :func:`figure_png` stores :func:`min_text_px`.
TEXT_PX_KEY = "emobook:min-text-px"


def set_style() -> None:
    """emobook's matplotlib defaults, the text-size PNG formatter (under IPython), and tables that show whole cell
    texts (a verdict's reasons are sentences; pandas would cut them at 50 characters). Call once per chapter.

    The text rule: an inline figure is written at ``figure.dpi`` (110) and shown at its natural width up to the
    690-px article column, scaled down beyond, so text of ``pt`` points renders at
    ``pt * 110/72 * min(1, 690 / (width_in * 110))`` px, which must be >= 9 px. At 6.3 in or narrower that is
    6 pt; a figure wider than 6.3 in needs proportionally larger text (8 pt up to 8.5 in wide, 9 pt up to 9.5 in).
    """
    import matplotlib as mpl
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
        "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "legend.title_fontsize": 8,
        "figure.titlesize": 10, "image.cmap": SEQUENTIAL, "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
        "axes.spines.top": False, "axes.spines.right": False, "figure.constrained_layout.use": True,
    })  # fmt: skip
    _register_png_formatter()
    from emolib.tables import register

    register()  # every DataFrame: no row numbers, integer counts, p never "0.000" (emolib.tables)


def _register_png_formatter() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    import matplotlib.figure

    # load the backend first: the inline backend registers its own PNG formatter when it is imported
    getattr(plt, "_get_backend_mod", lambda: None)()
    shell.display_formatter.formatters["image/png"].for_type(matplotlib.figure.Figure, _png_base64)


def _png_base64(fig) -> str | None:
    if not fig.axes and not fig.lines:  # as IPython: an empty figure shows nothing
        return None
    return base64.b64encode(figure_png(fig)).decode("ascii")


def figure_png(fig: plt.Figure) -> bytes:
    """The figure as the inline backend writes it (tight box, ``figure.dpi``), with :func:`min_text_px` in the
    PNG tEXt chunk ``emobook:min-text-px``.

    Example:
        >>> from PIL import Image
        >>> fig, ax = plt.subplots(); _ = ax.set_title("t", fontsize=9)
        >>> float(Image.open(io.BytesIO(figure_png(fig))).text[TEXT_PX_KEY]) > 9
        True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", facecolor=fig.get_facecolor(),
                edgecolor=fig.get_edgecolor(), metadata={TEXT_PX_KEY: f"{min_text_px(fig):.2f}"})
    return buffer.getvalue()


def _drawn_text_points(fig: plt.Figure) -> list[float]:
    """Font sizes (pt) of every non-empty text the figure draws, recorded from an Agg draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    sizes: list[float] = []
    original = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if str(s).strip() and gc.get_alpha() != 0:
            sizes.append(float(prop.get_size_in_points()))
        return original(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return sizes


def min_text_px(fig: plt.Figure, dpi: float | None = None) -> float:
    """The smallest height, in the PNG's natural pixels, of any drawn non-empty text: ``pt * dpi / 72``.

    Args:
        fig: the figure (tick labels, legends, titles, annotations and colour-bar labels all count).
        dpi: the resolution the PNG is written with; default ``fig.dpi`` (as the inline backend).

    Returns:
        The smallest text height in px (``inf`` for a figure without text).

    Example:
        >>> fig, ax = plt.subplots(dpi=72); _ = ax.set_xticks([]); _ = ax.set_yticks([])
        >>> _ = ax.set_title("small", fontsize=4)
        >>> min_text_px(fig)
        4.0
    """
    sizes = _drawn_text_points(fig)
    return min(sizes) * (fig.dpi if dpi is None else dpi) / 72 if sizes else float("inf")


def png_size(fig: plt.Figure) -> tuple[int, int]:
    """(width, height) in px of the PNG the inline backend writes (tight box, ``figure.dpi``).

    Example:
        >>> png_size(plt.figure(figsize=(2, 1), dpi=100))  # the tight box pads 0.1 in on each side
        (220, 120)
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    return Image.open(io.BytesIO(buffer.getvalue())).size


def displayed_text_px(fig: plt.Figure, column_px: int = COLUMN_PX) -> float:
    """The smallest text height in px as the book shows the figure: ``min_text_px * min(1, column / width)``.

    Example:
        >>> fig, ax = plt.subplots(figsize=(12, 3), dpi=110); _ = ax.set_title("wide", fontsize=9)
        >>> round(displayed_text_px(fig), 1) < 9  # a 12-in figure needs larger text
        True
    """
    return min_text_px(fig) * min(1.0, column_px / png_size(fig)[0])


def layer_axis(ax: plt.Axes, axis: str = "x", label: str = "layer") -> None:
    """Integer ticks on a layer axis whose data are already 1-based (the book shows layers 1-based); call it after
    plotting: the axis starts at 0.5, so no tick reads "layer 0".

    Example:
        >>> fig, ax = plt.subplots(); _ = ax.plot([1, 18], [0, 1]); layer_axis(ax)
        >>> all(float(t).is_integer() for t in ax.get_xticks()), float(ax.get_xlim()[0])
        (True, 0.5)
    """
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    getattr(ax, f"set_{axis}label")(label)
    low, high = getattr(ax, f"get_{axis}lim")()
    if low < 1 <= high:
        getattr(ax, f"set_{axis}lim")(max(low, 0.5), high)


def one_based_layers(table, column: str = "layer", text_columns: tuple[str, ...] = ()):
    """A copy of ``table`` with 0-based layer indices shown 1-based, as the book shows every layer.

    ``column`` (a column or an index level) holds integers or their strings ("all", "nested" stay); in
    ``text_columns`` and in the column names, "layer k" becomes "layer k+1". The library stays 0-based.

    Example:
        >>> import pandas as pd
        >>> one_based_layers(pd.DataFrame({"layer": [0, "all"], "rdm": ["layer 0", "x"]}), text_columns=("rdm",))
          layer      rdm
        0     1  layer 1
        1   all        x
    """
    import re

    import pandas as pd

    def shift(value):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value) + 1
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return str(int(value) + 1)
        return value

    def shift_text(text):
        return re.sub(r"\blayer (\d+)\b", lambda m: f"layer {int(m.group(1)) + 1}", text) if isinstance(text, str) \
            else text

    out = table.copy()
    if column in out.columns:
        out[column] = out[column].map(shift)
    if column in (out.index.names or []):
        if isinstance(out.index, pd.MultiIndex):
            level = out.index.names.index(column)
            out.index = out.index.set_levels(out.index.levels[level].map(shift), level=level, verify_integrity=False)
        else:
            out.index = out.index.map(shift)
    for name in text_columns:
        out[name] = out[name].map(shift_text)
    out.columns = [shift_text(c) for c in out.columns] if not isinstance(out.columns, pd.MultiIndex) else out.columns
    return out


def rdm_heatmap(ax: plt.Axes, vector: np.ndarray, labels: list[str] | None, title: str = "",
                cmap: str = SEQUENTIAL, equalize: bool = True, fontsize: float = 7) -> plt.Axes:
    """Draw a pair vector (paper order) as a square RDM on ``ax``; ``equalize`` ranks the values
    (histogram equalisation, as the paper's RDM images). ``labels=None`` leaves the axes unlabelled (small
    multiples); 27 labels at ``fontsize`` 7 need an axes about 2.6 in high (7 pt = 10.7 px at 110 dpi)."""
    from scipy.stats import rankdata

    from emolib.emotions import pairs_to_square

    values = rankdata(vector) / len(vector) if equalize else np.asarray(vector, float)
    square = pairs_to_square(values, diagonal=np.nan)
    ax.imshow(square, cmap=cmap)
    if labels is None:
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set_title(title)
    return ax
