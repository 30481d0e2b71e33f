"""Sentences whose wording follows the numbers: the book's prose changes with the result.

Example:
    >>> chance_caution(0.53) != ""
    True
    >>> chance_caution(0.81)
    ''
"""

from __future__ import annotations

__all__ = ["CHANCE_THRESHOLD", "chance_caution", "above_chance", "beats_control", "rho_sentence"]

#: Mean dev accuracy below which a backbone's prompts count as close to chance.
CHANCE_THRESHOLD = 0.6


def chance_caution(mean_accuracy: float, threshold: float = CHANCE_THRESHOLD) -> str:
    """A caution when the prompts' mean dev accuracy is below ``threshold`` (else the empty string)."""
    if mean_accuracy >= threshold:
        return ""
    return (f"**Caution:** these prompts reach a mean dev accuracy of {mean_accuracy:.3f}, close to chance, so the "
            "model hardly performs the task it is probed on. The figures below show the method on this backbone, "
            "not evidence for or against the paper.")


def above_chance(low: float, chance: float) -> str:
    """Whether an accuracy interval's lower bound clears chance, as a sentence.

    Example:
        >>> above_chance(0.68, 0.51)
        'The interval lies above chance: the prompts perform the task.'
        >>> above_chance(0.49, 0.51)
        'The interval reaches down to chance: the prompts hardly perform the task, and what silencing units does to them cannot be read.'
    """
    if low > chance:
        return "The interval lies above chance: the prompts perform the task."
    return ("The interval reaches down to chance: the prompts hardly perform the task, and what silencing units "
            "does to them cannot be read.")


def beats_control(trained: int, null: int, what: str) -> str:
    """Whether a count beats the null control's, as a sentence.

    Example:
        >>> beats_control(120, 3, "units pass the permutation FWER")
        'More units pass the permutation FWER for the trained prompts than by chance (120 against 3).'
        >>> beats_control(2, 3, "units pass the permutation FWER")
        'No more units pass the permutation FWER for the trained prompts than by chance (2 against 3).'
    """
    if trained > null:
        return f"More {what} for the trained prompts than by chance ({trained:,} against {null:,})."
    return f"No more {what} for the trained prompts than by chance ({trained:,} against {null:,})."


def rho_sentence(rho: float, low: float, high: float, p: float, null: float, alpha: float = 0.05) -> str:
    """The human-weight correlation read against zero, its permutation p and the null control, as a sentence.

    Example:
        >>> rho_sentence(-0.4, -0.6, -0.2, 0.001, 0.0)
        'The damage follows the human weights, beyond what the null prompts show.'
    """
    if high < 0 and p < alpha and rho < null:
        return "The damage follows the human weights, beyond what the null prompts show."
    if high < 0 and p < alpha:
        return "The correlation is negative, but the null prompts show as much: it is not the prompts' emotion knowledge."
    if low > 0:
        return "The correlation is positive: the damage runs against the paper's claim."
    return "The interval includes zero: this backbone cannot tell whether the damage follows the human weights."
