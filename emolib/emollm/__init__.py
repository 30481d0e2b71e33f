"""The Emo_LLM wing (Bhargava & Pierce 2024) and its extensions, on a causal LM.

:mod:`~emolib.emollm.prompts` (templated prompts and the model's value and residual representations),
:mod:`~emolib.emollm.probes` (splits and linear probes), :mod:`~emolib.emollm.vectors` (emotion vectors
over GoEmotions comments), :mod:`~emolib.emollm.steering` (residual-stream steering against random
directions) and :mod:`~emolib.emollm.analysis` (the valence chapter's analyses).
"""
