"""The model wing: backbones (:mod:`~emolib.model.backbones`), tiny random models
(:mod:`~emolib.model.tiny`) and every forward hook (:mod:`~emolib.model.hooks`).

Example:
    >>> from emolib.model import load_backbone, record
    >>> bb = load_backbone("tiny-gpt2", device="cpu")
    >>> bb.family, bb.device.type
    ('gpt2', 'cpu')
"""

from emolib.model.backbones import (
    DEFAULT_BACKBONE,
    EMBEDDED,
    SUPPORTED_FAMILIES,
    Backbone,
    Site,
    find_sites,
    load_backbone,
    tiny_backbone,
)
from emolib.model.hooks import Recording, add_to_layer, mask_units, record
from emolib.model.tiny import tiny_model, tiny_tokenizer

__all__ = ["DEFAULT_BACKBONE", "EMBEDDED", "SUPPORTED_FAMILIES", "Backbone", "Site", "find_sites", "load_backbone",
           "tiny_backbone", "tiny_model", "tiny_tokenizer", "Recording", "record", "mask_units", "add_to_layer"]
