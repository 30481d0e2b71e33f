"""Probes with families as the unit: leave-one-family-out cross-validation, a baseline without oracles, the layer
chosen inside the training data, and intervals and tests over families.

The units a probe's accuracy generalises over are the adjective *lemma families* (E1: unseen words) and the
*template families* (E2: unseen sentence frames), not the prompts that share them. :func:`family_cv` holds every
family out once (E1: grouped K-fold over lemma families; E2: leave-one-template-family-out), fits each variant on
the rest, and keeps the held-out correct counts per (family, negated or plain template). The layer is chosen by an
inner grouped cross-validation on the training families only (``layer = "nested"``), so the test families never
choose it. Variants:

- ``centred``: the rigorous probe (template-centred features, Emo_LLM's label ``y``);
- ``additive``: a baseline without oracles, linear and additive in adjective features (the adjective read alone
  after ``"Word:"``) and template features (the template's mean representation); with no adjective x template
  term it cannot flip the adjective's sentiment under negation, so it sits near chance on negated templates
  unless the representation itself composes them;
- ``oracle``: the old lexical baseline: the adjective alone predicts its list and the template's true negation
  flag flips the prediction (an oracle for the composition);
- ``uncomposed``: the same probe trained and scored on the adjective's own list, negation ignored: if it reads
  as well as ``centred``, the probes read a context-dependent code whose sign the training labels set, and
  decodability of the composed label shows no composition;
- ``transfer``: the rigorous probe fitted on *plain* templates only and scored on all held-out rows. On negated
  templates it is right only if negation flips the model's own valence axis (composition); about .5 if negation
  erases or re-encodes it, below .5 if the axis keeps the adjective's sign;
- ``random-label``: the control task (lists shuffled over adjectives).

:func:`family_summary` gives accuracies with cluster-bootstrap intervals over families; :func:`paired_gain` compares
two variants family by family (sign-flip test over families, an inferiority test against a smallest effect of
interest, and the power to see it); :func:`decide_gain` applies the verdict's three-way rule.

Example:
    >>> import numpy as np
    >>> folds = family_folds(np.array([0, 0, 1, 2, 2, 3]), n_splits=2, seed=0)
    >>> sorted(np.concatenate(folds).tolist())
    [0, 1, 2, 3]
    >>> decide_gain({"p": 0.001, "p_shift": np.nan, "power": 0.2})[0]
    'holds'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from emolib.emollm.probes import centre_by_group, fit_logistic, standardise
from emolib.stats import decide

__all__ = ["FAMILY_VARIANTS", "GROUPS", "SMALLEST_GAIN", "family_folds", "family_cv", "family_summary", "paired_gain",
           "chance_gain", "decide_gain"]

logger = logging.getLogger(__name__)

FAMILY_VARIANTS = ("centred", "additive", "oracle", "uncomposed", "transfer", "random-label")
#: The family column each experiment holds out.
GROUPS = {"E1": "lemma_family", "E2": "template_family"}
#: The smallest gain over the baseline that counts as composing valence in context (accuracy points): "does not
#: hold" needs the gain to be reliably below it, with power >= .8 to see it.
SMALLEST_GAIN = 0.10


def family_folds(groups: np.ndarray, n_splits: int | None = None, seed: int = 0) -> list[np.ndarray]:
    """The families held out by each fold; every family is held out exactly once.

    ``n_splits=None`` (or at least the number of families) is leave-one-family-out; otherwise the families, in a
    seeded random order, go one by one to the fold with the fewest rows so far (balanced, like GroupKFold).

    Example:
        >>> family_folds(np.array(["a", "b", "b", "c"]))
        [array(['a'], dtype='<U1'), array(['b'], dtype='<U1'), array(['c'], dtype='<U1')]
    """
    groups = np.asarray(groups)
    names, counts = np.unique(groups, return_counts=True)
    if n_splits is None or n_splits >= len(names):
        return [names[i : i + 1] for i in range(len(names))]
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2 (or None for leave-one-family-out), got {n_splits}")
    order = np.random.default_rng(seed).permutation(len(names))
    load, members = np.zeros(n_splits), [[] for _ in range(n_splits)]
    for i in order[np.argsort(-counts[order], kind="stable")]:  # largest first, ties in random order
        fold = int(np.argmin(load))
        load[fold] += counts[i]
        members[fold].append(names[i])
    return [np.array(sorted(m), dtype=names.dtype) for m in members]


def _variant_problems(d: Mapping, features: str, layers: list[int], variants: Sequence[str],
                      seed: int) -> dict[str, dict]:
    """Per variant: features ``X [L, N, d]``, the fit target, the XOR flip, the label scored and the rows it may fit on."""
    frame = d["frame"]
    y, neg = frame["y"].to_numpy(), frame["negation"].to_numpy().astype(bool)
    templates = frame["template_id"].to_numpy()
    raw = d[features][:, layers]  # [N, L, d]
    centred = centre_by_group(raw, templates)
    zero = np.zeros(len(frame), dtype=bool)
    everyone = np.ones(len(frame), dtype=bool)
    out: dict[str, dict] = {}
    for variant in variants:
        if variant == "centred":
            out[variant] = {"X": centred, "target": y, "flip": zero, "label": y, "fit": everyone}
        elif variant == "additive":  # adjective features beside the template's mean: no interaction term
            X = np.concatenate([d[f"lexical_{features}"][:, layers], raw - centred], axis=-1)
            out[variant] = {"X": X, "target": y, "flip": zero, "label": y, "fit": everyone}
        elif variant == "oracle":  # one row per adjective (see _fit_rows); the true negation flag flips the prediction
            out[variant] = {"X": d[f"lexical_{features}"][:, layers], "target": frame["in_first"].to_numpy().astype(int),
                            "flip": neg, "label": y, "fit": everyone, "per_adjective": True}
        elif variant == "uncomposed":  # the adjective's own list, whatever the template says
            listed = frame["in_first"].to_numpy().astype(int)
            out[variant] = {"X": centred, "target": listed, "flip": zero, "label": listed, "fit": everyone}
        elif variant == "transfer":  # fitted on plain templates only, scored everywhere
            out[variant] = {"X": centred, "target": y, "flip": zero, "label": y, "fit": ~neg}
        elif variant == "random-label":
            adj = frame.drop_duplicates("adjective").set_index("adjective")["in_first"].astype(int)
            shuffled = dict(zip(adj.index, np.random.default_rng(seed + 1).permutation(adj.to_numpy())))
            y_control = (frame["adjective"].map(shuffled).to_numpy() != neg).astype(int)
            out[variant] = {"X": centred, "target": y_control, "flip": zero, "label": y_control, "fit": everyone}
        else:
            raise ValueError(f"unknown variant {variant!r}; valid choices: {', '.join(FAMILY_VARIANTS)}")
    return out


def _fit_rows(problem: dict, train: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    rows = train & problem["fit"]
    if problem.get("per_adjective"):  # each training adjective once, whichever of its rows is in training
        rows = train & ~(frame["adjective"].where(train).duplicated().to_numpy() | ~train)
    return np.flatnonzero(rows)


def _correct(problem: dict, train_rows: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Held-out correctness ``[L, n_test]`` of one fit per layer on ``train_rows``."""
    X = problem["X"]  # [N, L, d]
    train, held = standardise(X[train_rows].transpose(1, 0, 2), X[test].transpose(1, 0, 2))
    target = problem["target"][train_rows]
    if len(np.unique(target)) < 2:
        raise ValueError("a training fold holds one class only; use fewer folds")
    coef, intercept = fit_logistic(train, target)  # [L, d], [L]
    pred = (np.einsum("lnd,ld->ln", held, coef) + intercept[:, None] > 0) != problem["flip"][test]
    return pred == problem["label"][test]


def family_cv(d: Mapping, experiment: str = "E1", features: str = "residual", layers: Sequence[int] | None = None,
              n_splits: int | None = 5, inner_splits: int = 3, seed: int = 0,
              variants: Sequence[str] = ("centred", "additive", "oracle")) -> pd.DataFrame:
    """Held-out correct counts of each variant, per layer and at the layer chosen inside the training families.

    Args:
        d: one scale of :func:`emolib.emollm.prompts.probe_data` (``frame``, the features, ``lexical_<features>``).
        experiment: ``"E1"`` (lemma families held out) or ``"E2"`` (template families held out).
        n_splits: outer folds (``None``: leave one family out). E2 is always leave-one-family-out.
        inner_splits: folds of the inner cross-validation that chooses the layer on the training families.
        layers: layers probed (default all).

    Returns:
        Tidy ``experiment, variant, layer, fold, family, negation, n, correct``; ``layer`` is an int, or ``"nested"``
        for the held-out accuracy at the layer the inner cross-validation chose (``chosen`` names it).
    """
    if experiment not in GROUPS:
        raise ValueError(f"unknown experiment {experiment!r}; valid choices: {', '.join(GROUPS)}")
    frame = d["frame"]
    n_layers = d[features].shape[1]
    layers = list(range(n_layers)) if layers is None else sorted({int(i) % n_layers for i in layers})
    family = frame[GROUPS[experiment]].to_numpy()
    neg = frame["negation"].to_numpy().astype(bool)
    problems = _variant_problems(d, features, layers, variants, seed)
    outer = family_folds(family, None if experiment == "E2" else n_splits, seed)
    with threadpool_limits(1):  # hundreds of small fits: BLAS threads only contend (tenfold slower on 2 busy cores)
        parts = _cross_validate(problems, frame, family, neg, layers, outer, inner_splits, seed, experiment)
    out = pd.concat(parts, ignore_index=True)
    return out[["experiment", "variant", "layer", "chosen", "fold", "family", "negation", "n", "correct"]]


def _cross_validate(problems: dict, frame: pd.DataFrame, family: np.ndarray, neg: np.ndarray, layers: list[int],
                    outer: list[np.ndarray], inner_splits: int, seed: int, experiment: str) -> list[pd.DataFrame]:
    parts = []
    for fold, held in enumerate(outer):
        test = np.isin(family, held)
        train = ~test
        inner = family_folds(family[train], min(inner_splits, len(np.unique(family[train]))), seed + 1 + fold)
        for variant, problem in problems.items():
            correct = _correct(problem, _fit_rows(problem, train, frame), np.flatnonzero(test))  # [L, n]
            scores = np.zeros(len(layers))
            for inner_held in inner:
                inner_test = train & np.isin(family, inner_held)
                fit = _fit_rows(problem, train & ~inner_test, frame)
                scores += _correct(problem, fit, np.flatnonzero(inner_test)).sum(axis=1)
            chosen = int(np.argmax(scores))
            for name, hit, pick in [*((layer, correct[i], layer) for i, layer in enumerate(layers)),
                                    ("nested", correct[chosen], layers[chosen])]:
                counts = pd.DataFrame({"family": family[test], "negation": neg[test], "correct": hit})
                agg = counts.groupby(["family", "negation"]).agg(n=("correct", "size"), correct=("correct", "sum"))
                parts.append(agg.reset_index().assign(experiment=experiment, variant=variant, layer=name,
                                                      fold=fold, chosen=pick))
    return parts


def _family_totals(cv: pd.DataFrame, negated: bool | None) -> pd.DataFrame:
    rows = cv if negated is None else cv[cv["negation"] == negated]
    return rows.groupby(["experiment", "variant", "layer", "family"], sort=False)[["n", "correct"]].sum()


def _bootstrap_weights(n_families: int, n_boot: int, seed: int) -> np.ndarray:
    """``[n_boot, F]`` counts of each family in a resample of the families with replacement."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_families, np.full(n_families, 1.0 / n_families), size=n_boot)


def family_summary(cv: pd.DataFrame, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Accuracy of each (experiment, variant, layer) with a cluster-bootstrap interval over families, on all rows and
    on negated and plain templates alone.

    Returns:
        ``experiment, variant, layer, accuracy, ci_low, ci_high, negated, negated_low, negated_high, plain,
        n_families, n`` (``layer`` as in :func:`family_cv`).
    """
    tail = 50 * (1 - level)
    rows = []
    for negated, prefix in ((None, ""), (True, "negated"), (False, "plain")):
        totals = _family_totals(cv, negated)
        for key, group in totals.groupby(level=["experiment", "variant", "layer"], sort=False):
            n, c = group["n"].to_numpy(float), group["correct"].to_numpy(float)
            w = _bootstrap_weights(len(n), n_boot, seed)
            boot = (w @ c) / np.maximum(w @ n, 1)
            lo, hi = np.percentile(boot, [tail, 100 - tail])
            name = prefix or "accuracy"
            rows.append({"experiment": key[0], "variant": key[1], "layer": key[2], "part": name,
                         "value": c.sum() / n.sum(), "low": lo, "high": hi, "n_families": len(n), "n": int(n.sum())})
    long = pd.DataFrame(rows)
    wide = long.pivot_table(index=["experiment", "variant", "layer"], columns="part", values=["value", "low", "high"],
                            aggfunc="first", sort=False)
    table = pd.DataFrame({"accuracy": wide[("value", "accuracy")], "ci_low": wide[("low", "accuracy")],
                          "ci_high": wide[("high", "accuracy")]})
    for part in ("negated", "plain"):
        if ("value", part) in wide:
            table[part] = wide[("value", part)]
            table[f"{part}_low"], table[f"{part}_high"] = wide[("low", part)], wide[("high", part)]
    counts = long[long["part"] == "accuracy"].set_index(["experiment", "variant", "layer"])[["n_families", "n"]]
    return table.join(counts).reset_index()


def paired_gain(cv: pd.DataFrame, a: str = "centred", b: str = "additive", experiment: str = "E1",
                layer: int | str = "nested", negated: bool | None = None, smallest: float = SMALLEST_GAIN,
                n_perm: int = 10_000, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> dict[str, float]:
    """Variant ``a`` against ``b`` on the same held-out families: the accuracy gain, its cluster-bootstrap interval,
    a sign-flip test over families (H0: no gain), an inferiority test (H0: gain >= ``smallest``) and the power to see
    a gain of ``smallest``.

    The statistic is the pooled gain ``sum_f (correct_a - correct_b) / sum_f n``; each family's difference keeps its
    sign or flips it with probability 1/2 under H0 (families are exchangeable units). The power is that of a one-sided
    z test at ``alpha`` with the standard error from the families' spread, at a true gain of 0: the power to call a
    zero gain "below ``smallest``" (the inferiority test's power, which "does not hold" needs).

    Returns:
        ``gain, ci_low, ci_high, p, p_shift, power, n_families, smallest, n_perm``.
    """
    sub = cv[(cv["experiment"] == experiment) & (cv["layer"].astype(str) == str(layer))]
    totals = {v: _family_totals(sub[sub["variant"] == v], negated).droplevel(["experiment", "variant", "layer"])
              for v in (a, b)}
    if totals[a].empty or totals[b].empty:
        raise ValueError(f"cv holds no rows of {a!r} and {b!r} at {experiment}, layer {layer!r}")
    joined = totals[a].join(totals[b], lsuffix="_a", rsuffix="_b", how="inner")
    n = joined["n_a"].to_numpy(float)
    diff = (joined["correct_a"] - joined["correct_b"]).to_numpy(float)  # [F] count differences
    total = n.sum()
    gain = diff.sum() / total
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_perm, len(diff)))
    p = (1 + np.sum(signs @ diff / total >= gain)) / (1 + n_perm)
    shifted = diff - smallest * n  # H0: the gain is `smallest`; small values speak against it
    p_shift = (1 + np.sum(signs @ shifted / total <= shifted.sum() / total)) / (1 + n_perm)
    w = _bootstrap_weights(len(n), n_boot, seed + 1)
    boot = (w @ diff) / (w @ n)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    se = np.sqrt(np.sum((diff - gain * n) ** 2)) / total
    power = float(stats.norm.sf(stats.norm.isf(alpha) - smallest / se)) if se > 0 else 1.0
    return {"gain": float(gain), "ci_low": float(lo), "ci_high": float(hi), "p": float(p), "p_shift": float(p_shift),
            "power": power, "n_families": int(len(n)), "smallest": float(smallest), "n_perm": int(n_perm)}


def chance_gain(cv: pd.DataFrame, variant: str = "transfer", experiment: str = "E1", layer: int | str = "nested",
                negated: bool | None = True, chance: float = 0.5, **kwargs) -> dict[str, float]:
    """:func:`paired_gain` of ``variant`` against a constant accuracy ``chance`` in every family (e.g. the plain-to-negated
    transfer on negated templates against .5).

    Example:
        >>> cv = pd.DataFrame({"experiment": "E1", "variant": "transfer", "layer": "nested", "chosen": 0, "fold": 0,
        ...                    "family": range(30), "negation": True, "n": 10, "correct": 9})
        >>> chance_gain(cv, n_perm=999)["gain"]
        0.4
    """
    rows = cv[(cv["variant"] == variant) & (cv["experiment"] == experiment)]
    if rows.empty:
        raise ValueError(f"cv holds no rows of {variant!r} at {experiment}")
    constant = rows.assign(variant="chance", correct=rows["n"] * chance)
    return paired_gain(pd.concat([rows, constant], ignore_index=True), variant, "chance", experiment, layer, negated,
                       **kwargs)


def decide_gain(row: Mapping[str, float], alpha: float = 0.05) -> tuple[str, str]:
    """The verdict's three-way rule (:func:`emolib.stats.decide`) on a :func:`paired_gain` row."""
    return decide(row["p"], row.get("p_shift", np.nan), row.get("power", np.nan), alpha,
                  reference=f"a gain of {row.get('smallest', SMALLEST_GAIN):.2f}")
