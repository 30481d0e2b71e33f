"""emolib: human emotion concepts in language models, reproducibly.

The package behind the emobook Jupyter Book. Start with :mod:`emolib.emotions` (names and pair
conventions), :mod:`emolib.data` and :mod:`emolib.released` (data), :mod:`emolib.backbones` (models).
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
