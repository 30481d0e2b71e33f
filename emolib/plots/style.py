"""The house style shared by every figure: matplotlib defaults, the palette, the RDM heatmap.

Example:
    >>> import matplotlib.pyplot as plt, numpy as np
    >>> set_style()
    >>> fig, ax = plt.subplots()
    >>> rdm_heatmap(ax, np.arange(3.0), ["a", "b", "c"]).get_title()
    ''
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["PALETTE", "set_style", "rdm_heatmap"]

#: Colours of the three attribute groups and of model vs human stages.
PALETTE = {"Affective": "#d1495b", "Basic emotions (faces)": "#edae49", "Appraisal": "#00798c",
           "human": "#66a182", "model": "#2e4057", "analysis": "#8d96a3"}  # fmt: skip


def set_style() -> None:
    """emobook's matplotlib defaults, and tables that show whole cell texts (a verdict's reasons are sentences; pandas
    would cut them at 50 characters). Call once per chapter."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)
    plt.rcParams.update({
        "figure.dpi": 110, "savefig.dpi": 150, "font.size": 9, "axes.titlesize": 10,
        "axes.spines.top": False, "axes.spines.right": False, "figure.constrained_layout.use": True,
    })  # fmt: skip


def rdm_heatmap(ax: plt.Axes, vector: np.ndarray, labels: list[str], title: str = "", cmap: str = "cividis",
                equalize: bool = True) -> plt.Axes:
    """Draw a pair vector (paper order) as a square RDM on ``ax``; ``equalize`` ranks the values
    (histogram equalisation, as the paper's RDM images)."""
    from scipy.stats import rankdata

    from emolib.emotions import pairs_to_square

    values = rankdata(vector) / len(vector) if equalize else np.asarray(vector, float)
    square = pairs_to_square(values, diagonal=np.nan)
    ax.imshow(square, cmap=cmap)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    ax.set_title(title)
    return ax
