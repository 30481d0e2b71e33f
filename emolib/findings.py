"""The numbers of each chapter's Findings box and the paper's numbers beside ours (the intro's table: :mod:`emolib.overview`).

Each ``*_findings`` function takes what its chapter has already computed and returns plain numbers (and the
sentences of :mod:`emolib.wording` that follow them), so that a chapter glues them without computing in a cell.
:func:`compare` sets the original's numbers (:func:`emolib.data.paper_numbers`) beside ours.

Example:
    >>> table = compare({"searchlight_tests": 516_096})
    >>> table.loc["searchlight tests (units x attributes)", ["paper", "ours", "difference"]].tolist()
    [516096.0, 516096.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from emolib import data, released, wording

__all__ = ["profile_reach", "participant_comparison", "markdown_table", "compare", "data_findings",
           "human_findings", "searchlight_findings", "silencing_findings", "silencing_table",
           "accuracy_comparison", "valence_findings", "steering_findings"]


def compare(ours: Mapping[str, float]) -> pd.DataFrame:
    """The paper's value of each key of ``ours`` beside ours and the difference (ours - paper).

    Args:
        ours: key of ``data/paper_numbers.csv`` -> our value.

    Returns:
        Indexed by the quantity's description; columns ``paper``, ``ours``, ``difference``, ``source``.

    Example:
        >>> compare({"included_appraisal": 299})["difference"].tolist()
        [-1.0]
    """
    numbers = data.paper_numbers()
    unknown = [k for k in ours if k not in numbers.index]
    if unknown:
        raise ValueError(f"unknown paper number(s) {unknown!r}; valid choices: {', '.join(numbers.index)}")
    rows = [{"quantity": numbers.loc[k, "quantity"], "paper": float(numbers.loc[k, "paper"]), "ours": float(v),
             "difference": float(v) - float(numbers.loc[k, "paper"]), "source": numbers.loc[k, "source"]}
            for k, v in ours.items()]
    return pd.DataFrame(rows).set_index("quantity")


def participant_comparison() -> pd.DataFrame:
    """The participants each human experiment keeps, the method notes' numbers beside ours (:func:`compare`).

    Example:
        >>> participant_comparison()["difference"].tolist()
        [0.0, 0.0, -1.0, 0.0]
    """
    included = released.inclusion_summary()["included"].to_numpy()
    keys = ["included_affective", "included_face", "included_appraisal", "included_similarity"]
    return compare(dict(zip(keys, included)))


def data_findings(tasks: pd.DataFrame) -> tuple[dict[str, float | int | str], pd.DataFrame]:
    """The data chapter's facts: the paper's counts beside ours, and the chance level of the binary tasks.

    Args:
        tasks: :func:`emolib.data.task_table` (task sizes per split; dev positive rate of one seed).

    Returns:
        ``(facts, comparison)``: facts ``n_match``, ``n_compared``, ``chance`` (mean share of positives in the
        dev tasks: the accuracy of always answering "yes"), ``chance_low``/``chance_high`` (its range over
        emotions) and ``verdict`` (a sentence); the comparison of :func:`compare`.
    """
    splits = data.split_summary()["comments"]
    ours = {"goemotions_train": splits["train"], "goemotions_dev": splits["dev"], "goemotions_test": splits["test"],
            "dev_positives": tasks["dev"].sum() / 2, "train_positives": tasks["train"].sum() / 2}
    comparison = pd.concat([compare(ours), participant_comparison()])
    rate = tasks["dev positive rate (seed 1)"]
    n_match = int((comparison["difference"] == 0).sum())
    differs = ", ".join(comparison.index[comparison["difference"] != 0])
    verdict = (f"All {len(comparison)} counts the method notes state are reproduced." if not differs else
               f"{n_match} of {len(comparison)} counts the method notes state are reproduced; the exception: "
               f"{differs} (see below).")
    return ({"n_match": n_match, "n_compared": len(comparison), "chance": float(rate.mean()),
             "chance_low": float(rate.min()), "chance_high": float(rate.max()), "verdict": verdict}, comparison)


def human_findings(recomputed: pd.DataFrame, reference: pd.DataFrame, reliability: pd.DataFrame,
                   weights: pd.DataFrame, alpha: float = 0.05) -> dict[str, float | int | str]:
    """The human-space chapter's facts: parity with the released RDMs, reliability and the human weights.

    Args:
        recomputed, reference: the 14 attribute RDMs recomputed and as released (351 pairs x 14).
        reliability: :func:`emolib.human.attribute_reliability` (column ``significant``).
        weights: :func:`emolib.human.attribute_weights` (``attribute, tau, ci_low, ci_high, q``).
        alpha: threshold of the weights' q.
    """
    rating = float((recomputed.iloc[:, :8] - reference.iloc[:, :8]).abs().to_numpy().max())
    appraisal = float((recomputed.iloc[:, 8:] - reference.iloc[:, 8:]).abs().to_numpy().max())
    ordered = weights.sort_values("tau", ascending=False)
    top, last = ordered.iloc[0], ordered.iloc[-1]
    n_weighted = int(((weights["q"] < alpha) & (weights["tau"] > 0)).sum())
    return {"rating_sentence": wording.equal_sentence(rating, "The eight rating attributes"),
            "appraisal_sentence": wording.equal_sentence(appraisal, "The six appraisal attributes", 1e-10),
            "rating_max_diff": rating, "appraisal_max_diff": appraisal,
            "n_reliable": int(reliability["significant"].sum()), "n_attributes": len(reliability),
            "reliable_sentence": wording.count_sentence(int(reliability["significant"].sum()), len(reliability),
                                                        "attributes are reliable (the paper's q < .025)",
                                                        "are not"),
            "top": str(top["attribute"]), "top_tau": float(top["tau"]), "second": str(ordered.iloc[1]["attribute"]),
            "second_tau": float(ordered.iloc[1]["tau"]), "last": str(last["attribute"]), "last_tau": float(last["tau"]),
            "last_low": float(last["ci_low"]), "last_high": float(last["ci_high"]),
            "n_weighted": n_weighted}


def searchlight_findings(result, judged, rates: pd.DataFrame, alpha: float = 0.01,
                         fwer_alpha: float = 0.05) -> dict[str, float | int | str]:
    """The released searchlight's facts: units under the paper's q and under the permutation FWER, and the
    paper test's false-positive rate on random RDMs.

    Args:
        result: the :class:`~emolib.rsa.searchlight.SearchlightResult` judged by the paper's q.
        judged: the same with the permutation null (``fwer_p``).
        rates: :func:`emolib.rsa.false_positive_rates`.
    """
    paper_any = int((judged.q_paper < alpha).any(axis=1).sum())
    fwer_any = int((judged.fwer_p < fwer_alpha).any(axis=1).sum())
    paper_rate = float(rates.query("dims == 1 and alpha == @alpha and test == 'paper'")["rate"].iloc[0])
    perm_rate = float(rates.query("dims == 1 and alpha == @alpha and test == 'permutation'")["rate"].iloc[0])
    return {"n_units": int(len(result.tau)), "paper_any": paper_any, "fwer_any": fwer_any,
            "selective": int(result.selective.sum()),
            "valence_paper": int((judged.q_paper["valence"] < alpha).sum()),
            "valence_fwer": int((judged.fwer_p["valence"] < fwer_alpha).sum()),
            "fp_paper": paper_rate, "fp_perm": perm_rate,
            "survive": fwer_any / paper_any if paper_any else float("nan")}


def silencing_findings(result, k: int = 4000, alpha: float = 0.05) -> dict[str, float | int | str]:
    """The released masking's facts at mask size ``k``: rho per baseline, the attribute masks that hurt more
    than random (negative difference with q < ``alpha``) under each baseline, and the emotions that lose.

    Args:
        result: :func:`emolib.reproduce.released_manipulation`.
    """
    from emolib.paper import manipulation

    out: dict[str, float | int | str] = {"k": int(k)}
    for b, table in result.table("correlation").items():
        row = manipulation.select(table, k=k).iloc[0]
        out |= {f"{b}_rho": float(row["mean_rho"]), f"{b}_low": float(row["ci_low"]),
                f"{b}_high": float(row["ci_high"]), f"{b}_p": wording.format_p(float(row["p"]))}
        out[f"{b}_k_negative"] = int((table["ci_high"] < 0).sum())
        out["n_k"] = len(table)
    for b, table in result.table("by_attribute").items():
        at = manipulation.select(table, k=k)
        out[f"{b}_worse"] = int(((at["diff"] < 0) & (at["q"] < alpha)).sum())
        out["n_attributes"] = len(at)
    for b, table in result.table("by_emotion").items():
        at = manipulation.select(table, k=k)
        out[f"{b}_emotions"] = int(((at["diff"] < 0) & (at["q"] < alpha)).sum())
        out["n_emotions"] = len(at)
    out["headline"] = ("The paper's headline reproduces from its released masking accuracies:" if out["pooled_high"] < 0
                       else "The paper's headline does not reproduce from its released masking accuracies:")
    out["baseline_sentence"] = wording.baseline_sentence(out["paper_worse"], out["pooled_worse"], out["n_attributes"])
    return out


def silencing_table(result, k: int = 4000, alpha: float = 0.05) -> pd.DataFrame:
    """The masking chapter's summary at ``k``, one row per random baseline: mean rho with its 95 % CI, t, df and
    p (as text, with a bound), and the attributes and emotions whose masks hurt more than random (q < ``alpha``).

    Args:
        result: :func:`emolib.reproduce.released_manipulation`.
    """
    from emolib.paper import manipulation

    facts = silencing_findings(result, k, alpha)
    rows = []
    for b, table in result.table("correlation").items():
        row = manipulation.select(table, k=k).iloc[0]
        rows.append({"baseline": b, "mean rho": float(row["mean_rho"]), "CI low": float(row["ci_low"]),
                     "CI high": float(row["ci_high"]), "t": float(row["t"]), "df": int(row["df"]),
                     "p": wording.format_p(float(row["p"])),
                     "attributes worse than random": f"{facts[f'{b}_worse']} of {facts['n_attributes']}",
                     "emotions worse than random": f"{facts[f'{b}_emotions']} of {facts['n_emotions']}"})
    return pd.DataFrame(rows).set_index("baseline")


def accuracy_comparison(unmasked: pd.DataFrame) -> pd.DataFrame:
    """Per emotion: the original's mean prompt accuracy (``emotion_agreements.csv``, column Accuracy) beside
    ours (the mean over seeds of ``unmasked``, e.g. the released per-prompt accuracies) and the difference.

    Example:
        >>> table = accuracy_comparison(released.prompt_accuracy())
        >>> float(table["difference"].abs().max()) < 1e-9
        True
    """
    paper = released.emotion_agreements()["accuracy"]
    ours = unmasked.groupby("emotion")["accuracy"].mean()
    table = pd.DataFrame({"paper": paper, "ours": ours.reindex(paper.index)})
    table["difference"] = table["ours"] - table["paper"]
    return table.rename_axis("emotion")


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


def markdown_table(frame: pd.DataFrame) -> str:
    """A frame as a Markdown table (index first), for ``{glue:md}``: links and emphasis in cells render.

    Example:
        >>> print(markdown_table(pd.DataFrame({"b": [1]}, index=pd.Index(["x"], name="a"))))
        | a | b |
        |---|---|
        | x | 1 |
    """
    header = [frame.index.name or ""] + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for index, row in frame.iterrows():
        lines.append("| " + " | ".join([str(index)] + [str(v) for v in row]) + " |")
    return "\n".join(lines)


def profile_reach(profile: str = "quick") -> pd.DataFrame:
    """What a profile's sizes allow a statistic to show, stage by stage: the smallest p a permutation or a
    random-draw comparison can reach, and the sample behind each accuracy.

    Example:
        >>> reach = profile_reach("quick")
        >>> reach.loc["steering", "setting"]
        '200 random directions'
        >>> reach.loc["steering", "smallest p"]
        '1/201 = 0.005'
    """
    from emolib import profiles
    from emolib.profiles import PAPER_UNITS

    prompts = profiles.settings("prompts", profile)
    masking = profiles.settings("masking", profile)
    search = profiles.settings("searchlight", profile)
    probes = profiles.settings("probes", profile)
    steering = profiles.settings("steering", profile)

    def floor(n: int) -> str:
        return f"1/{n + 1} = {1 / (n + 1):.2g}" if n else "no permutation test"

    dev = prompts.dev_size or "the full"
    ks = ", ".join(f"{k * PAPER_UNITS:,.0f}" if k < 1 else f"{k:,.0f}" for k in masking.k_values)
    rows = [
        ("prompt accuracy", f"{len(prompts.seeds)} seed(s), dev {dev} examples per emotion",
         (f"an accuracy step of 1/{dev}" if prompts.dev_size else "the paper's full dev tasks")
         + ("; one seed gives no seed-to-seed spread" if len(prompts.seeds) == 1 else ""), "-"),
        ("masking", f"k = {ks} (of 36,864 units scaled), {masking.n_draws} random draw(s) per k",
         f"{len(masking.k_values)} mask size(s): no curve over k", floor(masking.n_perm)),
        ("searchlight", f"{search.permutations:,} label permutations", "FWER and permutation FDR from these",
         floor(search.permutations)),
        ("valence probes", f"{probes.n_repeats} repeated splits", f"t intervals with {probes.n_repeats - 1} df",
         "-"),
        ("steering", f"{steering.n_random} random directions", "p_random against these draws",
         floor(steering.n_random)),
    ]
    return pd.DataFrame(rows, columns=["stage", "setting", "what it allows", "smallest p"]).set_index("stage")
