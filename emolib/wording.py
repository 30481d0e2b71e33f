"""Sentences whose wording follows the numbers: the book's prose changes with the result.

Example:
    >>> chance_caution(0.53) != ""
    True
    >>> chance_caution(0.81)
    ''
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["CHANCE_THRESHOLD", "MASKING_CONVENTION", "chance_caution", "above_chance", "format_p",
           "count_sentence", "equal_sentence", "confound_sentence", "baseline_sentence", "transfer_sentence", "uncomposed_sentence",
           "oracle_sentence", "divergent_sentence",
           "random_floor_sentence", "decoding_sentence", "leak_sentence", "verdict_sentence",
           "reliability_sentence", "partial_global_sentence", "prompt_layout", "prompt_setup", "verdict_counts", "fwer_reliability_phrase"]

#: Mean dev accuracy below which a backbone's prompts count as close to chance.
CHANCE_THRESHOLD = 0.6

#: The masking chapters' one sign convention, stated once at the top of each (Markdown).
MASKING_CONVENTION = (
    "**Signs.** A mask's effect is the **extra accuracy lost**: accuracy under the random (or sham) masks minus "
    "accuracy under the attribute mask, so a positive value means that the attribute's units matter more than "
    "random units (the paper's `diff`, attribute minus random, is its negative). **ρ** is the correlation of the "
    "extra accuracy lost with the attribute's human weight, so a positive ρ means that silencing the attributes "
    "humans weigh more costs more accuracy, the paper's claim (the paper's tables give the correlation of its "
    "`diff`, the same number with the opposite sign; its figure plots ours). Every figure, table and sentence "
    "of these chapters uses these two quantities.")


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


def format_p(p: float, floor: float = 1e-4) -> str:
    """A p value as text, with a bound below ``floor`` instead of ``0.0000``; a permutation p at its floor
    ``1/(n + 1)`` (give that as ``floor``) reads "p ≤ floor", the smallest value the draws allow.

    Example:
        >>> format_p(0.0), format_p(0.0312), format_p(3e-7, floor=1e-3), format_p(1 / 2001, floor=1 / 2001)
        ('p < 0.0001', 'p = 0.031', 'p < 0.001', 'p ≤ 0.0005 (the floor of the permutations)')
    """
    if p < floor * (1 - 1e-9):
        return f"p < {floor:g}"
    if p <= floor * (1 + 1e-9):
        return f"p ≤ {floor:.2g} (the floor of the permutations)"
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.1e}"


def count_sentence(n: int, total: int, what: str, fails: str) -> str:
    """``n`` of ``total`` items have a property; the rest, named by ``fails``, fail it, as a sentence.

    Example:
        >>> count_sentence(7, 14, "attribute masks hurt more than random ones", "are not worse than random")
        '7 of 14 attribute masks hurt more than random ones; the other 7 are not worse than random.'
        >>> count_sentence(14, 14, "attributes are reliable", "are not")
        'All 14 attributes are reliable.'
    """
    if n == total:
        return f"All {total:,} {what}."
    if n == 0:
        return f"None of the {total:,} {what.split(' ', 1)[1] if ' ' in what else what}: all {fails}."
    return f"{n:,} of {total:,} {what}; the other {total - n:,} {fails}."


def equal_sentence(max_difference: float, what: str, tolerance: float = 1e-9) -> str:
    """Whether a recomputation equals a released file, as a sentence.

    Example:
        >>> equal_sentence(0.0, "The eight rating attributes")
        'The eight rating attributes equal the released file exactly.'
        >>> equal_sentence(3e-14, "The appraisal attributes")
        'The appraisal attributes equal the released file up to float noise (max difference 3.0e-14).'
        >>> equal_sentence(0.14, "The appraisal attributes")
        'The appraisal attributes differ from the released file (max difference 0.14).'
    """
    if max_difference == 0:
        return f"{what} equal the released file exactly."
    if max_difference < tolerance:
        return f"{what} equal the released file up to float noise (max difference {max_difference:.1e})."
    return f"{what} differ from the released file (max difference {max_difference:.2g})."


def confound_sentence(rule_accuracy: float, transfer: float, threshold: float = 0.7) -> str:
    """What a valence rule and a valence probe reaching the arousal labels say about the arousal set.

    Example:
        >>> confound_sentence(0.569, 0.544)
        'Valence explains little of the arousal labels: the arousal set is not a disguised valence set.'
        >>> confound_sentence(0.9, 0.8)
        'Valence predicts most arousal labels: an arousal probe can pass by reading valence.'
    """
    if rule_accuracy >= threshold or transfer >= threshold:
        return "Valence predicts most arousal labels: an arousal probe can pass by reading valence."
    return "Valence explains little of the arousal labels: the arousal set is not a disguised valence set."


def transfer_sentence(accuracy: float, low: float, high: float, p: str, n_families: int, verdict: str,
                      reason: str = "") -> str:
    """The claim of the valence row: a probe fitted on plain templates, read on the negated templates of held-out
    adjective families (right only if negation flips the model's own valence axis).

    Example:
        >>> transfer_sentence(0.9, 0.85, 0.95, "p < 0.001", 169, "holds")
        "Negation flips the model's own valence axis: a probe fitted on plain templates reads the negated templates of adjective families it never saw at 0.900 (0.850 to 0.950, 169 families, p < 0.001; chance 0.50): **holds**."
        >>> transfer_sentence(0.47, 0.43, 0.51, "p = 0.9", 169, "does not hold").split(": ")[-1]
        '**does not hold**. Negation does not flip the valence axis the probe finds in plain templates.'
    """
    numbers = f"{accuracy:.3f} ({low:.3f} to {high:.3f}, {n_families} families, {p}; chance 0.50)"
    if verdict == "holds":
        return ("Negation flips the model's own valence axis: a probe fitted on plain templates reads the negated "
                f"templates of adjective families it never saw at {numbers}: **holds**.")
    why = f" ({reason})" if reason else ""
    tail = " It keeps the adjective's own sign there." if high < 0.5 else ""
    return (f"A probe fitted on plain templates reads the negated templates of adjective families it never saw at "
            f"{numbers}: **{verdict}**{why}. Negation does not flip the valence axis the probe finds in plain "
            f"templates.{tail}")


def uncomposed_sentence(composed: float, uncomposed: float) -> str:
    """Emo_LLM's label (valence flipped by negation) against the adjective's own list, both decoded by the same probe.

    Example:
        >>> uncomposed_sentence(0.982, 0.987)
        "The rigorous probe decodes Emo_LLM's label (the adjective's valence, flipped by negation) at 0.982 for adjective families it never saw, and the adjective's own list, negation ignored, at 0.987: decoding either label shows a valence code that depends on the template, whose sign the training labels set; it does not show that negation is composed."
    """
    return (f"The rigorous probe decodes Emo_LLM's label (the adjective's valence, flipped by negation) at "
            f"{composed:.3f} for adjective families it never saw, and the adjective's own list, negation ignored, at "
            f"{uncomposed:.3f}: decoding either label shows a valence code that depends on the template, whose sign "
            "the training labels set; it does not show that negation is composed.")


def oracle_sentence(gain: float, low: float, high: float, margin: float = 0.03) -> str:
    """The rigorous probe against the oracle that reads the adjective alone and is told each template's negation flag;
    "matches" needs the interval inside +-``margin``.

    Example:
        >>> oracle_sentence(-0.001, -0.020, 0.022)
        'It matches an oracle that reads the adjective alone and is told the negation flag (difference -0.001, -0.020 to 0.022, within +-0.03).'
        >>> oracle_sentence(-0.1, -0.15, -0.05).split(" (")[0]
        'It falls short of an oracle that reads the adjective alone and is told the negation flag'
    """
    numbers = f"difference {gain:+.3f}, {low:.3f} to {high:.3f}"
    oracle = "an oracle that reads the adjective alone and is told the negation flag"
    if high < 0:
        return f"It falls short of {oracle} ({numbers})."
    if low > 0:
        return f"It beats {oracle} ({numbers})."
    if -margin <= low and high <= margin:
        return f"It matches {oracle} ({numbers}, within +-{margin:.2f})."
    return f"It is neither reliably above nor below {oracle} ({numbers})."


def divergent_sentence(readings: Mapping[str, float], spread: tuple[float, float] | None = None,
                       clear: float = 0.75, margin: float = 0.1) -> str:
    """Which reading explains the probe on the divergent templates (:func:`emolib.emollm.divergent.readings`): the
    character's state, the adjective's own valence or a flip after a contrast word.

    Example:
        >>> divergent_sentence({"character": 0.62, "adjective": 0.45, "contrast cue": 0.83}).split(": ")[-1]
        'the probe follows the contrast word, not the character.'
        >>> divergent_sentence({"character": 0.6, "adjective": 0.5, "contrast cue": 0.55}).split(": ")[-1]
        "no one reading explains it, and these templates cannot separate an inference about the character from the sentence's words."
    """
    what = {"character": "the character's state", "adjective": "the adjective, not the character",
            "contrast cue": "the contrast word, not the character"}
    ranked = sorted(readings.items(), key=lambda kv: -kv[1])
    where = f" (one template to the next: {spread[0]:.3f} to {spread[1]:.3f})" if spread is not None else ""
    head = (f"On templates where the character feels the opposite of the adjective or the same, said with or without "
            f"a contrast word, the probe's predictions agree with the character's state on {readings['character']:.3f}"
            f"{where}, with the adjective's own valence on {readings['adjective']:.3f} and with a flip after a "
            f"contrast word on {readings['contrast cue']:.3f}: ")
    if ranked[0][1] >= clear and ranked[0][1] - ranked[1][1] >= margin:
        return head + f"the probe follows {what[ranked[0][0]]}."
    return head + ("no one reading explains it, and these templates cannot separate an inference about the character "
                   "from the sentence's words.")


def baseline_sentence(paper_n: int, pooled_n: int, total: int) -> str:
    """How many attribute masks hurt more than random under the paper's and the pooled baseline.

    Example:
        >>> print(baseline_sentence(8, 7, 14))
        Against the pooled random baseline 7 of 14 attribute masks hurt more than random ones (8 against the paper's single draws); the other 7 are not worse than random units.
    """
    return (f"Against the pooled random baseline {pooled_n} of {total} attribute masks hurt more than random ones "
            f"({paper_n} against the paper's single draws); the other {total - pooled_n} are not worse than random "
            "units.")


def random_floor_sentence(direction: str, p_random: float, n_random: int) -> str:
    """A steering direction's ``p_random`` read against its floor 1 / (1 + ``n_random``).

    Example:
        >>> random_floor_sentence("emotion PC1", 1 / 21, 20)
        'The emotion PC1 direction shifts the read-out more than all 20 random directions (p_random = 0.048, the smallest value 20 draws allow).'
        >>> random_floor_sentence("emotion PC1", 0.4, 20)
        'The emotion PC1 direction shifts the read-out no more than random directions do (p_random = 0.400 with 20 draws).'
    """
    direction = f"The {direction} direction"
    floor = 1 / (1 + n_random)
    if p_random <= floor + 1e-12:
        return (f"{direction} shifts the read-out more than all {n_random} random directions (p_random = "
                f"{p_random:.3f}, the smallest value {n_random} draws allow).")
    if p_random < 0.05:
        return (f"{direction} shifts the read-out more than most random directions (p_random = {p_random:.3f} with "
                f"{n_random} draws).")
    return (f"{direction} shifts the read-out no more than random directions do (p_random = {p_random:.3f} with "
            f"{n_random} draws).")


def decoding_sentence(accuracy: float, chance: float = 0.5, margin: float = 0.05) -> str:
    """Whether a probe's accuracy on held-out words clears chance by ``margin``, as a sentence.

    Example:
        >>> decoding_sentence(0.81)
        'Valence is linearly decodable for adjectives the probe never saw (0.810, chance 0.50).'
        >>> decoding_sentence(0.52)
        'Valence is not decodable above chance for adjectives the probe never saw (0.520, chance 0.50).'
    """
    if accuracy >= chance + margin:
        return f"Valence is linearly decodable for adjectives the probe never saw ({accuracy:.3f}, chance {chance:.2f})."
    return (f"Valence is not decodable above chance for adjectives the probe never saw ({accuracy:.3f}, chance "
            f"{chance:.2f}).")


def leak_sentence(faithful: float, rigorous: float, margin: float = 0.02) -> str:
    """What Emo_LLM's leaking split adds over the rigorous one, as a sentence.

    Example:
        >>> leak_sentence(0.95, 0.80)
        "Emo_LLM's leaking split overstates it: 0.950 against 0.800 with whole families held out."
        >>> leak_sentence(0.80, 0.80)
        "Emo_LLM's leaking split gives about the same (0.800 against 0.800 with whole families held out)."
    """
    if faithful - rigorous > margin:
        return f"Emo_LLM's leaking split overstates it: {faithful:.3f} against {rigorous:.3f} with whole families held out."
    return (f"Emo_LLM's leaking split gives about the same ({faithful:.3f} against {rigorous:.3f} with whole families "
            "held out).")


_MEASURES = {
    "masks_random": ("attribute masks against layer-matched random masks", "extra accuracy lost", "{:+.3f}"),
    "masks_sham": ("attribute masks against sham-attribute masks", "extra accuracy lost", "{:+.3f}"),
    "weights": ("damage against the human weights", "rho of the extra loss with the human weight", "{:+.2f}"),
    "inference": ("emotion inference", "mean accuracy", "{:.3f}"),
}
_CONTROLS = {"masks_random": "the layer-matched random masks", "masks_sham": "the sham-attribute masks"}


def verdict_sentence(row) -> str:
    """One verdict row (:func:`emolib.paper.verdict.verdict`, in the sign convention of :data:`MASKING_CONVENTION`)
    as a sentence: estimate, interval, p, Holm p, power, the paper's effect at this design, and the verdict.

    Example:
        >>> row = {"claim": "masks_random", "value": 0.012, "ci_low": -0.008, "ci_high": 0.03, "p": 0.12,
        ...        "p_holm": 0.48, "power": 0.31, "paper_at_design": 0.029, "verdict": "cannot tell",
        ...        "reason": "power 0.31 < 0.8 to see the paper's effect at this design"}
        >>> print(verdict_sentence(row))
        Attribute masks against layer-matched random masks: the attribute masks lose 0.012 more accuracy than the layer-matched random masks (extra accuracy lost +0.012, 95 % CI -0.008 to +0.030; p = 0.120, Holm p = 0.480); power 0.31 to see the paper's effect as this design measures it (+0.029). **cannot tell**: power 0.31 < 0.8 to see the paper's effect at this design.
    """
    what, measure, fmt = _MEASURES.get(row["claim"], (row["claim"], "value", "{:.3f}"))
    value = row["value"]
    has_ci = row.get("ci_low") is not None and row.get("ci_low") == row.get("ci_low")
    ci = f"95 % CI {fmt.format(row['ci_low'])} to {fmt.format(row['ci_high'])}; " if has_ci else ""
    tests = f"{format_p(row['p'])}, Holm {format_p(row['p_holm'])})"
    if row["claim"] in _CONTROLS and value == value:
        head = (f"the attribute masks lose {abs(value):.3f} {'more' if value >= 0 else 'less'} accuracy than "
                f"{_CONTROLS[row['claim']]} ({measure} {fmt.format(value)}" + (f", {ci}" if ci else "; "))
    else:
        head = f"{measure} {fmt.format(value)} ({ci}"
    return _verdict_tail(f"{what[0].upper() + what[1:]}: {head}{tests}", row, fmt)


def _verdict_tail(text: str, row, fmt: str) -> str:
    paper = row.get("paper_at_design")
    if row.get("power") == row.get("power") and row.get("power") is not None:
        text += (f"; power {row['power']:.2f} to see the paper's effect as this design measures it "
                 f"({fmt.format(paper)})")
    text += f". **{row['verdict']}**"
    if row.get("reason"):
        text += f": {row['reason']}"
    return text + "."


def reliability_sentence(facts) -> str:
    """What the unit RDMs' reliability allows (:func:`emolib.paper.geometry.reliability_findings`), as a sentence.

    Example:
        >>> reliability_sentence({"reliability": 0.03, "n_seeds": 3, "seeds_5": "19", "seeds_8": "76"})
        'With a median reliability of 0.030 for the mean of its 3 seeds, this run cannot rank units by their geometry: the ranks are mostly noise. A reliability of 0.5 would need 19 seeds, 0.8 would need 76.'
    """
    rel = facts.get("reliability", float("nan"))
    if rel != rel:  # NaN: one seed
        return "With one seed per emotion, how well unit RDMs replicate cannot be measured."
    verdict = ("this run cannot rank units by their geometry: the ranks are mostly noise" if rel < 0.5
               else "the units' ranks are reliable enough to read")
    return (f"With a median reliability of {rel:.3f} for the mean of its {facts['n_seeds']} seeds, {verdict}. "
            f"A reliability of 0.5 would need {facts['seeds_5']} seeds, 0.8 would need {facts['seeds_8']}.")


def partial_global_sentence(p_trained: float, p_null: float) -> str:
    """The global test with the label co-occurrence partialled out, trained prompts beside the null prompts; empty
    where the searchlight ran no such test.

    Example:
        >>> partial_global_sentence(0.008, 0.033)[:70]
        'With the label co-occurrence partialled out, the global test gives p ='
        >>> partial_global_sentence(float("nan"), float("nan"))
        ''
    """
    if not math.isfinite(p_trained):
        return ""
    null = f" ({format_p(p_null)} with null prompts)" if math.isfinite(p_null) else ""
    return (f"With the label co-occurrence partialled out, the global test gives {format_p(p_trained)}{null}; the "
            f"null prompts (random directions, each as far from the shared start as its trained prompt) are what "
            f"tells training from the prompts' lengths alone.")


def prompt_layout(kind: str, position: str = "before", suffix: str = " Answer:") -> str:
    """Where a soft prompt sits and where the answer is read, as the scorer runs it (:mod:`emolib.paper.layouts`).

    Example:
        >>> prompt_layout("causal", "after")
        "[comment, P1..PL, ' Answer:'], read at the last position (next-token verbalizer)"
        >>> prompt_layout("masked")
        '[<mask>, P1..PL, <s>, comment, </s>], read at <mask>'
    """
    if kind == "masked":
        return "[<mask>, P1..PL, <s>, comment, </s>], read at <mask>"
    parts = "comment, P1..PL" if position == "after" else "P1..PL, comment"
    return f"[{parts}, {suffix!r}], read at the last position (next-token verbalizer)"


def prompt_setup(settings, kind: str) -> dict[str, str]:
    """The run's prompt set-up in words, from its resolved :class:`~emolib.profiles.PromptSettings`: ``layout``,
    ``verbalizer`` (the two answer words, negative first) and ``init`` (how the prompts start).

    Example:
        >>> from emolib import profiles
        >>> setup = prompt_setup(profiles.settings("prompts", "standard"), "causal")
        >>> setup["verbalizer"], setup["layout"][:17]
        ('"no" / "yes"', '[comment, P1..PL,')
        >>> prompt_setup(profiles.settings("prompts", "paper"), "masked")["init"][:26]
        'N(0, 0.02²) random vectors'
    """
    layout = prompt_layout(kind, settings.prompt_position, settings.suffix)
    verbalizer = " / ".join(f'"{w}"' for w in settings.verbalizer)
    if settings.init == "normal":
        init = (f"N(0, {settings.init_std:g}²) random vectors, one draw per seed, so all emotions of a seed start "
                "from the same prompt (the original's effective init: HF fast-init overrode its intended mask-token "
                "init)")
    else:
        init = (f"the token embeddings of the instruction {settings.init.strip()!r} (it names no emotion), repeated "
                f"or cut to {settings.n_tokens} tokens, the same start for every prompt (the original drew "
                "N(0, 0.02²) random vectors)")
    return {"layout": layout, "verbalizer": verbalizer, "init": init}


def verdict_counts(verdicts) -> str:
    """How many judged claims hold, do not hold and cannot be told, as a sentence with the verbs agreeing.

    Example:
        >>> verdict_counts(["holds", "cannot tell", "cannot tell"])
        'Of the 3 judged claims, 1 holds, 0 do not hold and 2 cannot be told at this design.'
    """
    verdicts = list(verdicts)
    counts = {v: sum(x == v for x in verdicts) for v in ("holds", "does not hold", "cannot tell")}

    def n(v: str, one: str, many: str) -> str:
        k = counts[v]
        return f"{k} {one if k == 1 else many}"

    return (f"Of the {len(verdicts)} judged claims, {n('holds', 'holds', 'hold')}, "
            f"{n('does not hold', 'does not hold', 'do not hold')} and {n('cannot tell', 'cannot be told', 'cannot be told')}"
            " at this design.")


def fwer_reliability_phrase(facts) -> str:
    """The reliability of the units past the family-wise level over all units and attributes
    (:func:`emolib.paper.geometry.reliability_findings`), or that none passes.

    Example:
        >>> fwer_reliability_phrase({"fwer_units": 0, "fwer_reliability": float("nan")})
        'no unit passes the family-wise level over all units and attributes'
        >>> fwer_reliability_phrase({"fwer_units": 85, "fwer_reliability": 0.7285})
        'the 85 units past the family-wise level over all units and attributes: 0.729'
    """
    n = int(facts.get("fwer_units", 0) or 0)
    if n == 0:
        return "no unit passes the family-wise level over all units and attributes"
    return (f"the {n:,} unit{'' if n == 1 else 's'} past the family-wise level over all units and attributes: "
            f"{facts['fwer_reliability']:.3f}")
