"""The paper wing (Li et al. 2023) on any backbone: soft prompts, FFN units, masking and its statistics.

Modules, in the order of the data flow: :mod:`~emolib.paper.layouts` (where the prompt goes and where
the answer is read), :mod:`~emolib.paper.train` (the prompt bank), :mod:`~emolib.paper.store`
(trained prompts), :mod:`~emolib.paper.prompts` (the cached prompt grid), :mod:`~emolib.paper.units`
(activations at the read-out, unit masks), :mod:`~emolib.paper.masked_eval` (every prompt under
every mask), :mod:`~emolib.paper.manipulation` (the statistics) and :mod:`~emolib.paper.pipeline`
(everything chained: :func:`~emolib.paper.pipeline.run_paper`).
"""
