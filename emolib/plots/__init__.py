"""Figures, one module per topic, in one shared style (:mod:`~emolib.plots.style`).

Every figure function returns a matplotlib Figure and takes frames or arrays the analyses return:
:mod:`~emolib.plots.data` (intro, data), :mod:`~emolib.plots.human`, :mod:`~emolib.plots.neurons`,
:mod:`~emolib.plots.masking`, :mod:`~emolib.plots.prompts`, :mod:`~emolib.plots.valence`,
:mod:`~emolib.plots.vectors`, :mod:`~emolib.plots.verdict`.

Example:
    >>> from emolib import plots
    >>> plots.set_style()
    >>> len(plots.data.pipeline_figure().axes)
    1
"""

from emolib.plots import data, human, masking, neurons, prompts, valence, vectors, verdict
from emolib.plots.style import PALETTE, rdm_heatmap, set_style

__all__ = ["PALETTE", "set_style", "rdm_heatmap", "data", "human", "masking", "neurons", "prompts", "valence",
           "vectors", "verdict"]
