"""emolib: human emotion concepts in language models, reproducibly.

The package behind the emobook Jupyter Book, in wings that follow the book (``ARCHITECTURE.md``):
:mod:`emolib.model` (backbones and hooks), :mod:`emolib.human` (the human emotion space),
:mod:`emolib.rsa` (RDMs and the searchlight), :mod:`emolib.paper` (Li et al. on any backbone),
:mod:`emolib.emollm` (Emo_LLM's probes, emotion vectors, steering), :mod:`emolib.plots`, and
:mod:`emolib.reproduce` (every result table as CSV). The names below are the small public API.

Example:
    >>> import emolib
    >>> bb = emolib.load_backbone("tiny-llama", device="cpu")
    >>> ids = bb.tokenizer(["so happy"], return_tensors="pt")
    >>> with emolib.record(bb, "ffn", positions=-1) as rec:
    ...     _ = bb.model(**ids)
    >>> tuple(rec.concatenated().shape)
    (1, 192)
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> module that defines it (imported on first use, so ``import emolib`` stays light)
_PUBLIC = {
    "load_backbone": "emolib.model.backbones", "Backbone": "emolib.model.backbones",
    "record": "emolib.model.hooks", "mask_units": "emolib.model.hooks", "steer": "emolib.emollm.steering",
    "unit_rdms": "emolib.rsa.rdms", "compare_rdms": "emolib.rsa.rdms", "searchlight": "emolib.rsa.searchlight",
    "run_paper": "emolib.paper.pipeline",
}  # fmt: skip
__all__ = list(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emolib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
