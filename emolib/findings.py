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
from emolib.findings_valence import steering_findings, valence_findings

__all__ = ["profile_reach", "participant_comparison", "markdown_table", "compare", "data_findings",
           "human_findings", "searchlight_findings", "silencing_findings", "silencing_table", "masked_dev_chance", "released_dev_chance",
           "p_cell", "p_columns", "show", "masking_tests",
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
    """The released masking's facts at mask size ``k``, in the sign convention of
    :data:`emolib.wording.MASKING_CONVENTION`: rho (of the extra accuracy lost with the human weight) per
    baseline, the attribute masks that cost more than random (extra loss > 0 with q < ``alpha``) under each
    baseline, and the emotions that lose.

    Args:
        result: :func:`emolib.reproduce.released_manipulation`.

    Returns:
        ``{b}_rho, {b}_low, {b}_high, {b}_p, {b}_k_positive`` (mask sizes whose interval lies above zero) per
        baseline ``b``, ``n_k``, ``{b}_worse``, ``n_attributes``, ``{b}_emotions``, ``n_emotions``, ``headline``,
        ``baseline_sentence``.
    """
    from emolib.paper import manipulation
    from emolib.paper.masking_summary import oriented

    out: dict[str, float | int | str] = {"k": int(k)}
    for b, table in result.table("correlation").items():
        table = oriented(table)
        row = manipulation.select(table, k=k).iloc[0]
        out |= {f"{b}_rho": float(row["rho"]), f"{b}_low": float(row["ci_low"]),
                f"{b}_high": float(row["ci_high"]), f"{b}_p": wording.format_p(float(row["p"]))}
        out[f"{b}_k_positive"] = int((table["ci_low"] > 0).sum())
        out["n_k"] = len(table)
    for b, table in result.table("by_attribute").items():
        at = oriented(manipulation.select(table, k=k))
        out[f"{b}_worse"] = int(((at["extra_loss"] > 0) & (at["q"] < alpha)).sum())
        out["n_attributes"] = len(at)
    for b, table in result.table("by_emotion").items():
        at = oriented(manipulation.select(table, k=k))
        out[f"{b}_emotions"] = int(((at["extra_loss"] > 0) & (at["q"] < alpha)).sum())
        out["n_emotions"] = len(at)
    out["headline"] = ("The paper's headline reproduces from its released masking accuracies:" if out["pooled_low"] > 0
                       else "The paper's headline does not reproduce from its released masking accuracies:")
    out["baseline_sentence"] = wording.baseline_sentence(out["paper_worse"], out["pooled_worse"], out["n_attributes"])
    return out


def silencing_table(result, k: int = 4000, alpha: float = 0.05) -> pd.DataFrame:
    """The masking chapter's summary at ``k``, one row per random baseline: rho (of the extra accuracy lost with
    the human weight) with its 95 % CI, t, df and p (as text, with a bound), and the attributes and emotions
    whose masks cost more than random (q < ``alpha``); ``baseline`` is a column (no index).

    Args:
        result: :func:`emolib.reproduce.released_manipulation`.
    """
    from emolib.paper import manipulation
    from emolib.paper.masking_summary import oriented

    facts = silencing_findings(result, k, alpha)
    rows = []
    for b, table in result.table("correlation").items():
        row = manipulation.select(oriented(table), k=k).iloc[0]
        rows.append({"baseline": b, "rho": float(row["rho"]), "CI low": float(row["ci_low"]),
                     "CI high": float(row["ci_high"]), "t": float(row["t"]), "df": int(row["df"]),
                     "p": wording.format_p(float(row["p"])),
                     "attributes worse than random": f"{facts[f'{b}_worse']} of {facts['n_attributes']}",
                     "emotions worse than random": f"{facts[f'{b}_emotions']} of {facts['n_emotions']}"})
    return pd.DataFrame(rows)


def masked_dev_chance(run) -> float:
    """What always giving one answer scores on the masked evaluation's dev examples of a
    :class:`~emolib.paper.pipeline.PaperRun`: the mean over its prompts of each dev sample's majority share (the
    chance line of its masked-accuracy figures)."""
    from emolib.paper import pipeline, prompts
    from emolib.paper.claims import majority_share

    settings = pipeline.masked_settings(run.store, run.masking)
    table = run.accuracy["dev"]
    pairs = table[["emotion", "seed"]].drop_duplicates().itertuples(index=False)
    return float(np.mean([majority_share(prompts.task_split(e, int(s), "dev", settings)["label"]) for e, s in pairs]))


def released_dev_chance(unmasked: pd.DataFrame) -> float:
    """What always giving one answer scores on the released prompts' dev tasks: the mean over the (emotion,
    seed) prompts of ``unmasked`` of each full dev task's majority share (the paper's negative sampling)."""
    from emolib.data import paper_task
    from emolib.paper.claims import majority_share

    pairs = unmasked[["emotion", "seed"]].drop_duplicates().itertuples(index=False)
    return float(np.mean([majority_share(paper_task(e, int(s), "dev")["label"]) for e, s in pairs]))


def p_cell(p: float, floor: float = 1e-4) -> str:
    """A p (or q) value for a table cell, never "0.000" (:func:`emolib.tables.format_p_value`).

    Example:
        >>> p_cell(0.0), p_cell(0.0312), p_cell(2.5e-3), p_cell(1.7)
        ('< 0.0001', '0.031', '0.0025', '1.7')
    """
    from emolib.tables import format_p_value

    return format_p_value(p, floor)


def p_columns(frame: pd.DataFrame, names: tuple[str, ...] = ("p", "perm_p", "q", "p_holm")) -> pd.DataFrame:
    """``frame`` with its p-value columns (named, or last level named, as in ``names``) as :func:`p_cell` text.

    Example:
        >>> p_columns(pd.DataFrame({("a", "p"): [0.0], ("a", "rho"): [0.5]})).values.tolist()
        [['< 0.0001', 0.5]]
    """
    out = frame.copy()
    for column in out.columns:
        if (column[-1] if isinstance(column, tuple) else column) in names:
            out[column] = out[column].map(p_cell)
    return out


def show(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> pd.DataFrame:
    """A table as a page shows it (:func:`emolib.tables.shown`): no row numbers (a named index becomes the first
    column); the book's table formatter (:func:`emolib.tables.register`) writes whole numbers as integers;
    ``formats`` (column -> ``str.format`` pattern) for columns that need other digits.

    Example:
        >>> show(pd.DataFrame({"n": [90.0]}, index=pd.Index(["joy"], name="emotion"))).columns.tolist()
        ['emotion', 'n']
    """
    from emolib.tables import shown

    return shown(frame, formats)


def masking_tests(tables: Mapping[str, pd.DataFrame], k: int, by: str, order: list[str] | None = None,
                  columns: tuple[str, ...] = ("extra_loss", "t", "p", "q")) -> pd.DataFrame:
    """The paired tests at ``k`` per baseline side by side, in the book's sign convention (``extra_loss`` =
    random minus attribute accuracy, :func:`emolib.paper.masking_summary.oriented`), as text cells: the extra loss
    signed to 3 decimals, t to 2, p and q by :func:`p_cell` (the paper's q = pN/rank(p) is not capped and can
    exceed 1; such cells are marked ">1"). ``by`` (``"emotion"`` or ``"attribute"``) is the first column.

    Example:
        >>> t = pd.DataFrame({"emotion": ["joy"], "k": [4000], "diff": [-0.05], "t": [-3.0], "p": [1e-6],
        ...                   "q": [1.2], "ci_low": [-0.08], "ci_high": [-0.02]})
        >>> masking_tests({"pooled": t}, 4000, "emotion").values.tolist()
        [['joy', '+0.050', '3.00', '< 0.0001', '1.2 (>1)']]
    """
    from emolib.paper import manipulation
    from emolib.paper.masking_summary import oriented

    parts = {}
    for b, table in tables.items():
        at = oriented(manipulation.select(table, k=k)).set_index(by)
        if order is not None:
            at = at.loc[order]
        cells = pd.DataFrame(index=at.index)
        for column in columns:
            if column == "extra_loss":
                cells[column] = [f"{v:+.3f}" for v in at[column]]
            elif column == "t":
                cells[column] = [f"{v:.2f}" for v in at[column]]
            else:
                cells[column] = [p_cell(v) + (" (>1)" if v > 1 else "") for v in at[column]]
        parts[b] = cells
    out = pd.concat(parts, axis=1) if len(parts) > 1 else next(iter(parts.values()))
    return out.reset_index()


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
    from emolib.paper.units import resolve_k
    from emolib.profiles import PAPER_UNITS

    prompts = profiles.settings("prompts", profile)
    masking = profiles.settings("masking", profile)
    search = profiles.settings("searchlight", profile)
    probes = profiles.settings("probes", profile)
    steering = profiles.settings("steering", profile)

    def floor(n: int) -> str:
        return f"1/{n + 1} = {1 / (n + 1):.2g}" if n else "no permutation test"

    dev = prompts.dev_size or "the full"
    ks = ", ".join(f"{resolve_k(k, PAPER_UNITS):,}" for k in masking.k_values)  # one rounding, as the runs
    rows = [
        ("prompt accuracy", f"{len(prompts.seeds)} seed(s), dev {dev} examples per emotion",
         (f"an accuracy step of 1/{dev}" if prompts.dev_size else "the paper's full dev tasks")
         + ("; one seed gives no seed-to-seed spread" if len(prompts.seeds) == 1 else ""), "-"),
        ("masking", f"k = {ks} (of 36,864 units scaled), {masking.n_draws} random draw(s) per k, "
                    f"{masking.n_perm:,} permutations",
         "one mask size: no curve over k" if len(masking.k_values) == 1
         else f"{len(masking.k_values)} mask sizes: a coarse curve over k", floor(masking.n_perm)),
        ("searchlight", f"{search.permutations:,} label permutations", "FWER and permutation FDR from these",
         floor(search.permutations)),
        ("valence probes", f"{probes.n_repeats} repeated splits", f"t intervals with {probes.n_repeats - 1} df",
         "-"),
        ("steering", f"{steering.n_random} random directions", "p_random against these draws",
         floor(steering.n_random)),
    ]
    return pd.DataFrame(rows, columns=["stage", "setting", "what it allows", "smallest p"]).set_index("stage")
