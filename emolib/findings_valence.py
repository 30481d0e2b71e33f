"""The valence chapter's facts: the probe claim with its verdict and the comparisons beside it, and the steering
result against random directions, emotion contrasts, the projected direction, its slope and the behaviour.

Re-exported by :mod:`emolib.findings`, where the chapters call them.

Example:
    >>> _sign_flip_p(1 / 10_001)
    'p <= 1.0e-04 (the floor of 10,000 sign flips)'
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from emolib import wording

__all__ = ["valence_findings", "steering_findings"]


def _sign_flip_p(p: float, n_perm: int = 10_000) -> str:
    """A sign-flip p as text; at its floor 1 / (n_perm + 1) it says so."""
    floor = 1 / (n_perm + 1)
    return f"p <= {floor:.1e} (the floor of {n_perm:,} sign flips)" if p <= floor + 1e-12 else wording.format_p(p)


def valence_findings(inference, divergent: pd.DataFrame, comparison: pd.DataFrame, crosstab: pd.DataFrame,
                     confound: Mapping[str, float], transfer: Mapping[str, float]) -> dict[str, float | int | str]:
    """The valence chapter's facts: the claim (a probe of plain templates read on the negated templates of held-out
    adjective families, with its verdict), the descriptive comparisons beside it (the uncomposed label, the additive
    baseline, the negation oracle), the divergent templates, Emo_LLM's leaking split and the arousal confound.

    Args:
        inference: :func:`emolib.emollm.composition.probe_inference`.
        divergent: :func:`emolib.emollm.divergent.divergent_accuracy`.
        comparison: :func:`emolib.emollm.analysis.probe_comparison` (repeated splits: the faithful protocol).
        crosstab, confound: :func:`emolib.emollm.analysis.arousal_confound`.
        transfer: :func:`emolib.emollm.analysis.valence_to_arousal`.
    """
    from emolib.emollm import composition

    claim = composition.valence_row(inference.gains)
    gains = inference.gains.set_index(["scale", "experiment", "probe", "against", "rows"])
    oracle = gains.loc[("valence", "E1", "centred", "oracle", "all")]
    acc = inference.summary[inference.summary["layer"].astype(str) == "nested"].set_index(
        ["scale", "experiment", "variant"])
    from emolib.emollm.divergent import readings

    per_template = divergent[divergent["template"] != "all"]["accuracy"]
    kinds = divergent[divergent["template"] == "all"].groupby("kind")["accuracy"].mean()
    row = comparison.set_index(["scale", "features"]).loc[("valence", "residual")]

    def get(arousal: str, valence: str) -> int:
        ok = arousal in crosstab.index and valence in crosstab.columns
        return int(crosstab.loc[arousal, valence]) if ok else 0

    def nested(variant: str, column: str = "accuracy", experiment: str = "E1") -> float:
        return float(acc.loc[("valence", experiment, variant), column])

    centred, transferred = nested("centred"), nested("transfer", "negated")
    rule, unseen = float(confound["accuracy"]), float(transfer["all arousal prompts"])
    p_text = _sign_flip_p(float(claim["p"]), int(claim.get("n_perm", 10_000)))
    matched, opposite = float(kinds.get("matched", np.nan)), float(kinds.get("opposite", np.nan))
    spread = (float(per_template.min()), float(per_template.max())) if len(per_template) else None
    return {"layer": composition.nested_layer(inference.cv), "centred": centred,
            "centred_negated": nested("centred", "negated"), "uncomposed": nested("uncomposed"),
            "additive": nested("additive"), "additive_negated": nested("additive", "negated"),
            "oracle": nested("oracle"), "transfer_plain": nested("transfer", "plain"), "transfer": transferred,
            "transfer_layer": composition.nested_layer(inference.cv, variant="transfer"),
            "e2": nested("centred", experiment="E2"), "e2_transfer": nested("transfer", "negated", "E2"),
            "e2_families": int(acc.loc[("valence", "E2", "centred"), "n_families"]),
            "gain": float(claim["gain"]), "gain_low": float(claim["ci_low"]), "gain_high": float(claim["ci_high"]),
            "p": float(claim["p"]), "p_text": p_text, "power": float(claim["power"]),
            "n_families": int(claim["n_families"]), "verdict": str(claim["verdict"]), "reason": str(claim["reason"]),
            "oracle_gain": float(oracle["gain"]),
            "transfer_sentence": wording.transfer_sentence(transferred, 0.5 + float(claim["ci_low"]),
                                                           0.5 + float(claim["ci_high"]), p_text,
                                                           int(claim["n_families"]), str(claim["verdict"]),
                                                           str(claim["reason"])),
            "uncomposed_sentence": wording.uncomposed_sentence(centred, nested("uncomposed")),
            "oracle_sentence": wording.oracle_sentence(float(oracle["gain"]), float(oracle["ci_low"]),
                                                       float(oracle["ci_high"])),
            "matched": matched, "opposite": opposite,
            "divergent_sentence": wording.divergent_sentence(readings(divergent), spread),
            "faithful": float(row["faithful E1"]),
            "decoding_sentence": wording.decoding_sentence(centred),
            "leak_sentence": wording.leak_sentence(float(row["faithful E1"]), float(row["centred E1"])),
            "positive_low": get("low", "positive"), "positive_high": get("high", "positive"),
            "negative_low": get("low", "negative"), "negative_high": get("high", "negative"),
            "rule": rule, "transfer_arousal": unseen,
            "transfer_unseen": float(transfer["arousal words not in the valence lists"]),
            "confound_sentence": wording.confound_sentence(rule, unseen)}


def _finite(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _control_sentence(top: pd.Series, controls: pd.DataFrame) -> str:
    """The valence direction against its control directions at the same alpha (contrasts, its projected version)."""
    if controls.empty:
        return ""
    rivals = controls[controls["role"] != "projected"] if "role" in controls else controls
    n, above = len(rivals), int((rivals["effect"] >= top["effect"]).sum())
    if above == 0:
        text = (f"It shifts the read-out more than all {n} emotion contrasts of similar valence at the same alpha "
                f"(p_controls = {float(top.get('p_controls', np.nan)):.3f}, the smallest value {n} controls allow).")
    else:
        text = (f"{above} of its {n} emotion contrasts of similar valence shift the read-out at least as much at the "
                "same alpha: the effect is not specific to valence.")
    d, lo, hi = (float(top.get(k, np.nan)) for k in ("vs_projected", "vs_projected_low", "vs_projected_high"))
    if not all(map(_finite, (d, lo, hi))):
        return text
    if lo > 0:
        return text + (f" Projecting the read-out words out lowers the shift by {d:.2f} [{lo:.2f}, {hi:.2f}]: part of "
                       "the effect is the direct path through their unembedding.")
    if hi < 0:
        return text + f" Projecting the read-out words out raises the shift by {-d:.2f} [{-hi:.2f}, {-lo:.2f}]."
    return text + (f" Projecting the read-out words out makes no detectable difference (difference {d:+.2f}, "
                   f"{lo:+.2f} to {hi:+.2f}).")


def _slope_sentence(row: pd.Series | None, alphas) -> str:
    """The dose-response slope of the valence direction against the random directions' slopes."""
    if row is None:
        return ""
    grid = ", ".join(f"{a:g}" for a in alphas)
    return (f"Its dose-response slope over alpha = {grid} is {row['slope']:+.2f} [{row['ci_low']:+.2f}, "
            f"{row['ci_high']:+.2f}] log-odds per unit alpha (95% of the random directions: {row['random_low']:+.2f} to "
            f"{row['random_high']:+.2f}; p_random = {row['p_random']:.3f}).")


def _behaviour_sentence(behaviour: pd.DataFrame | None, name: str,
                        min_hits: int = 10) -> tuple[str, dict[str, float | str]]:
    """What greedy continuations steered along ``name`` say, with the facts behind the sentence."""
    facts: dict[str, float | str] = {"behaviour_direction": "", "behaviour_difference": np.nan,
                                     "behaviour_low": np.nan, "behaviour_high": np.nan}
    if behaviour is None:
        return "", facts
    if behaviour.empty:
        note = str(behaviour.attrs.get("note", ""))
        return (note + "." if note and not note.endswith(".") else note), facts
    mine = behaviour[behaviour["direction"] == name]
    if mine.empty and "role" in behaviour:  # the behaviour was measured on another valence direction
        mine = behaviour[behaviour["role"] == "valence"]
    if mine.empty:
        return "", facts
    row = mine.iloc[0]
    name = str(row["direction"])
    facts = {"behaviour_direction": name, "behaviour_difference": float(row["difference"]),
             "behaviour_low": float(row["ci_low"]), "behaviour_high": float(row["ci_high"])}
    hits = int(row["hits_minus"]) + int(row["hits_plus"])
    if hits == 0:
        return (f"In greedy continuations steered along {name} at minus and plus its alpha, no shipped valence "
                "adjective appears: the behavioural read-out cannot tell."), facts
    if hits < min_hits:
        return (f"Greedy continuations steered along {name} hold only {hits} shipped valence adjectives at minus and "
                f"plus its alpha: too few for the behavioural read-out to tell anything."), facts
    numbers = f"{row['difference']:+.2f} [{row['ci_low']:+.2f}, {row['ci_high']:+.2f}] per continuation"
    if row["ci_low"] > 0:
        text = (f"Greedy continuations steered along {name} at plus its alpha hold more positive and fewer negative "
                f"adjectives than at minus it ({numbers}).")
    else:
        text = (f"Greedy continuations steered along {name} show no reliable shift in positive against negative "
                f"adjectives ({numbers}).")
    random = behaviour[behaviour["role"] == "random"] if "role" in behaviour else behaviour.iloc[:0]
    random = random[random["alpha"] == row["alpha"]] if "alpha" in random else random  # steered the same size
    if len(random):
        k = int((random["difference"] >= row["difference"]).sum())
        text += (f" Of {len(random)} random directions steered the same way, {k} of them by at least as much (the "
                 f"smallest share {len(random)} allow is 1/{len(random) + 1}).")
    return text, facts


def steering_findings(best: pd.DataFrame, n_random: int, slopes: pd.DataFrame | None = None,
                      behaviour: pd.DataFrame | None = None, primary: str | None = "emotion PC1") -> dict[str, float | str]:
    """The held-out steering result of the valence direction furthest above the random draws (largest ``z``),
    with sentences that read it against the random directions, the control directions, its dose-response slope
    and the behavioural read-out.

    Args:
        best: :func:`emolib.emollm.steering_stats.held_out_tests` (rows of role ``"valence"`` compete; their controls
            are the rows with ``alpha_of`` = that direction) or :func:`~emolib.emollm.steering_stats.best_alpha`.
        n_random: the number of random draws (the table's ``n_random`` column wins where present).
        slopes: :func:`emolib.emollm.steering_stats.dose_slopes` (optional).
        behaviour: :func:`emolib.emollm.behaviour.behaviour_table` (optional; empty with ``attrs["note"]`` for a
            masked LM).

    Returns:
        ``direction, alpha, effect, ci_low, ci_high, p_random, n_random, sentence`` (against the random draws),
        ``p_controls, n_controls, control_sentence``, ``slope, slope_low, slope_high, slope_p_random,
        slope_sentence``, ``behaviour_direction, behaviour_difference, behaviour_low, behaviour_high,
        behaviour_sentence`` and ``summary`` (the sentences in one paragraph); NaN or "" where not given.

    Example:
        >>> best = pd.DataFrame({"direction": ["a", "b"], "alpha": [1.0, 2.0], "effect": [0.1, 0.5],
        ...                      "z": [0.5, 3.0], "p_random": [0.4, 1 / 21]})
        >>> steering_findings(best, 20)["direction"]
        'b'
    """
    from emolib.stats import holm

    pool = best[best["role"] == "valence"] if "role" in best.columns else best
    pool = pool.assign(p_holm=holm(pool["p_random"].to_numpy(float)))
    if primary is not None and primary in set(pool["direction"]):  # fixed in advance: no choice on the test half
        top = pool[pool["direction"] == primary].iloc[0]
    else:
        top = pool.assign(z=pool["z"].fillna(-np.inf)).sort_values("z", ascending=False, kind="stable").iloc[0]
    name = str(top["direction"])
    if "n_random" in top.index and _finite(top["n_random"]):
        n_random = int(top["n_random"])
    controls = (best[(best["alpha_of"] == name) & (best["direction"] != name)]
                if {"alpha_of", "role"} <= set(best.columns) else best.iloc[:0])
    out: dict[str, float | str] = {
        "direction": name, "alpha": float(top["alpha"]), "effect": float(top["effect"]),
        "ci_low": float(top.get("ci_low", np.nan)), "ci_high": float(top.get("ci_high", np.nan)),
        "p_random": float(top["p_random"]), "n_random": int(n_random),
        "p_holm": float(top["p_holm"]),
        "sentence": wording.random_floor_sentence(name, float(top["p_random"]), n_random)
        + (f" Holm over the {len(pool)} valence directions: p = {float(top['p_holm']):.3f}." if len(pool) > 1 else ""),
        "p_controls": float(top.get("p_controls", np.nan)), "n_controls": int(len(controls)),
        "control_sentence": _control_sentence(top, controls)}
    row = None
    if slopes is not None and len(slopes) and name in set(slopes["direction"]):
        row = slopes[slopes["direction"] == name].iloc[0]
    out |= {"slope": float(row["slope"]) if row is not None else np.nan,
            "slope_low": float(row["ci_low"]) if row is not None else np.nan,
            "slope_high": float(row["ci_high"]) if row is not None else np.nan,
            "slope_p_random": float(row["p_random"]) if row is not None else np.nan,
            "slope_sentence": _slope_sentence(row, slopes.attrs.get("alphas", []) if slopes is not None else [])}
    text, facts = _behaviour_sentence(behaviour, name)
    out |= facts | {"behaviour_sentence": text}
    out["summary"] = " ".join(s for s in (out["sentence"], out["control_sentence"], out["slope_sentence"],
                                          out["behaviour_sentence"]) if s)
    return out
