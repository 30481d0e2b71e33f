"""Sentences whose wording follows the numbers: the book's prose changes with the result.

Example:
    >>> chance_caution(0.53) != ""
    True
    >>> chance_caution(0.81)
    ''
"""

from __future__ import annotations

__all__ = ["CHANCE_THRESHOLD", "chance_caution"]

#: Mean dev accuracy below which a backbone's prompts count as close to chance.
CHANCE_THRESHOLD = 0.6


def chance_caution(mean_accuracy: float, threshold: float = CHANCE_THRESHOLD) -> str:
    """A caution when the prompts' mean dev accuracy is below ``threshold`` (else the empty string)."""
    if mean_accuracy >= threshold:
        return ""
    return (f"**Caution:** these prompts reach a mean dev accuracy of {mean_accuracy:.3f}, close to chance, so the "
            "model hardly performs the task it is probed on. The figures below show the method on this backbone, "
            "not evidence for or against the paper.")
