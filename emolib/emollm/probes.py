"""Linear probes on layer-wise representations: word/template families, Emo_LLM's E1/E2/E3 splits
(faithful and grouped), per-layer logistic regressions, and the fitted :class:`ValenceProbe`.

Everything here is numpy/scikit-learn on arrays; :mod:`emolib.emollm.prompts` builds the prompts and representations.

Example:
    >>> import numpy as np
    >>> from emolib.emollm.probes import ValenceProbe, lemma_families
    >>> lemma_families(["happy", "unhappy", "content", "discontented", "sad"])
    [0, 0, 1, 1, 2]
    >>> X = np.random.default_rng(0).normal(size=(40, 5)); y = (X[:, 0] > 0).astype(int)
    >>> ValenceProbe().fit(X, y).score(X, y) > 0.9
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

__all__ = [
    "lemma_families",
    "template_families",
    "faithful_split",
    "grouped_split",
    "centre_by_group",
    "standardise",
    "fit_logistic",
    "knn_predict",
    "mean_ci",
    "ValenceProbe",
    "run_probes",
    "summarise",
    "SPLIT_SETS",
    "VARIANTS",
    "EXPERIMENTS",
]

#: Split labels: the three evaluation sets, the training set, and entries left unused.
SPLIT_SETS = ("E1", "E2", "E3", "train", "unused")

_PREFIXES = ("over", "dis", "non", "un", "in", "im", "en", "re")
_SUFFIXES = ("fully", "ness", "less", "ful", "ing", "ied", "ed", "ly", "ic", "ive", "ous", "y", "e", "s")
_NEGATIONS = {"not", "no", "didn't", "doesn't", "don't", "can't", "couldn't", "wasn't", "isn't", "even", "despite"}
_PRONOUNS = {"he", "she", "him", "her", "his", "hers", "he's", "she's", "himself", "herself"}


def _strip_suffix(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _union_find(n: int, links: Sequence[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[find(a)] = find(b)
    roots: dict[int, int] = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(n)]  # numbered by first appearance


def lemma_families(words: Sequence[str]) -> list[int]:
    """Group word forms of one lemma without a lemmatiser; returns a family id per word.

    Rule: a word (multi-word entries: their first word) gets the keys ``stem(w)`` and
    ``stem(w minus a prefix)`` for the prefixes over/dis/non/un/in/im/en/re (if >= 4 letters remain),
    where ``stem`` strips one common suffix (-fully, -ness, -less, -ful, -ing, -ied, -ed, -ly, -ic, -ive,
    -ous, -y, -e, -s) and keeps the first 6 letters. Words sharing a key are one family (connected
    components). It errs towards grouping (tense/intense, restful/restless), which only makes a
    grouped split stricter.

    Example:
        >>> lemma_families(["satisfied", "dissatisfied", "encouraging", "discouraged", "calm"])
        [0, 0, 1, 1, 2]
    """
    keys: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        w = re.sub(r"[^a-z]", "", word.lower().split()[0] if word.split() else word.lower())
        own = {_strip_suffix(w)[:6]}
        own |= {_strip_suffix(w[len(p):])[:6] for p in _PREFIXES if w.startswith(p) and len(w) - len(p) >= 4}
        for key in own:
            keys.setdefault(key, []).append(i)
    links = [(members[0], j) for members in keys.values() for j in members[1:]]
    return _union_find(len(words), links)


def template_families(templates: Sequence[str], negation: Sequence[bool] | None = None) -> list[int]:
    """Group templates into families; returns a family id per template.

    A template's skeleton is its set of lower-cased words with names (capitalised words whose
    lower-case form never occurs in any template) replaced by NAME, pronouns by PRON, and negation
    words (not, n't forms, no, even, despite) removed. Templates with equal skeletons are one family,
    and so are the plain/negated pairs (consecutive templates when ``negation`` alternates
    False/True, as in all Emo_LLM template files).

    Example:
        >>> template_families(["Bob was {}, so Bob", "Bob was not {}, so Bob", "Ann was {}, so Ann", "It is {}"])
        [0, 0, 0, 1]
    """
    tokenised = [re.findall(r"[A-Za-z'{}]+", t.replace("\u2019", "'")) for t in templates]
    lower = {w for words in tokenised for w in words if w[:1].islower()}
    skeletons = []
    for words in tokenised:
        skeleton = set()
        for w in words:
            if w[:1].isupper() and w.lower() not in lower:
                skeleton.add("NAME")
            elif w.lower() in _PRONOUNS:
                skeleton.add("PRON")
            elif w.lower() not in _NEGATIONS:
                skeleton.add(w.lower())
        skeletons.append(frozenset(skeleton))
    first: dict[frozenset, int] = {}
    links = [(first.setdefault(s, i), i) for i, s in enumerate(skeletons)]
    if negation is not None and len(negation) == len(templates) and len(templates) % 2 == 0:
        if all(bool(negation[i]) == (i % 2 == 1) for i in range(len(templates))):
            links += [(i, i + 1) for i in range(0, len(templates), 2)]
    return _union_find(len(templates), links)


def _assign(n: int, e1: np.ndarray, e2: np.ndarray, e3: np.ndarray, rng: np.random.Generator,
            train_ratio: float) -> np.ndarray:
    split = np.full(n, "unused", dtype=object)
    split[e3] = "E3"
    split[e2] = "E2"
    split[e1] = "E1"  # priority E1 > E2 > E3
    pool = np.flatnonzero(split == "unused")
    split[rng.choice(pool, size=int(train_ratio * len(pool)), replace=False)] = "train"
    return split


def faithful_split(frame: pd.DataFrame, seed: int, e1: float = 0.15, e2: float = 0.15, e3: float = 0.10,
                   train_ratio: float = 0.6) -> np.ndarray:
    """Emo_LLM's split (method notes, section 5.2), seeded: a set name per row of ``frame``.

    ``frame`` has columns ``adjective``, ``template_id`` and ``key`` (equal for duplicate entries).
    E1 = rows whose adjective is among floor(e1 x unique adjectives) drawn ones; E2 = else rows whose
    template is among floor(e2 x unique templates) drawn ones; E3 = else rows equal to one of
    floor(e3 x N) drawn rows; train = a ``train_ratio`` sample of the rest; the remainder is unused.
    """
    rng = np.random.default_rng(seed)
    adjectives = np.array(sorted(frame["adjective"].unique()))
    templates = np.array(sorted(frame["template_id"].unique()))
    held_adj = rng.choice(adjectives, size=int(e1 * len(adjectives)), replace=False)
    held_tpl = rng.choice(templates, size=int(e2 * len(templates)), replace=False)
    drawn = frame["key"].to_numpy()[rng.choice(len(frame), size=int(e3 * len(frame)), replace=False)]
    return _assign(len(frame), frame["adjective"].isin(held_adj).to_numpy(),
                   frame["template_id"].isin(held_tpl).to_numpy(),
                   frame["key"].isin(set(drawn)).to_numpy(), rng, train_ratio)


def _hold_out_groups(groups: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Whole groups in random order until at least floor(fraction x unique members) are held out."""
    members = pd.Series(groups).groupby(groups).size()
    target = max(1, int(fraction * len(groups)))
    chosen, count = [], 0
    for group in rng.permutation(members.index.to_numpy()):
        if count >= target:
            break
        chosen.append(group)
        count += members[group]
    return np.array(chosen)


def grouped_split(frame: pd.DataFrame, seed: int, e1: float = 0.15, e2: float = 0.15, e3: float = 0.10,
                  train_ratio: float = 0.6) -> np.ndarray:
    """The same split with whole lemma families (E1) and template families (E2) held out.

    ``frame`` needs ``adjective``, ``template_id``, ``lemma_family``, ``template_family``. Fractions
    count unique adjectives / templates, as in :func:`faithful_split`; E3 samples rows.
    """
    rng = np.random.default_rng(seed)
    adj = frame.drop_duplicates("adjective")
    tpl = frame.drop_duplicates("template_id")
    held_lemma = _hold_out_groups(adj["lemma_family"].to_numpy(), e1, rng)
    held_family = _hold_out_groups(tpl["template_family"].to_numpy(), e2, rng)
    drawn = frame["key"].to_numpy()[rng.choice(len(frame), size=int(e3 * len(frame)), replace=False)]
    return _assign(len(frame), frame["lemma_family"].isin(held_lemma).to_numpy(),
                   frame["template_family"].isin(held_family).to_numpy(),
                   frame["key"].isin(set(drawn)).to_numpy(), rng, train_ratio)


def centre_by_group(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Subtract each group's mean (e.g. per template; label-free), for ``X [N, ...]``."""
    X = np.asarray(X, dtype=np.float32)
    codes, inverse = np.unique(groups, return_inverse=True)
    sums = np.zeros((len(codes),) + X.shape[1:], dtype=np.float64)
    np.add.at(sums, inverse, X)
    counts = np.bincount(inverse, minlength=len(codes)).reshape((-1,) + (1,) * (X.ndim - 1))
    return (X - (sums / counts)[inverse]).astype(np.float32)


def standardise(train: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """StandardScaler per feature (last axis) fit on ``train [..., N, d]``; zero-variance features -> scale 1."""
    mean = train.mean(axis=-2, keepdims=True)
    scale = train.std(axis=-2, keepdims=True)
    scale[scale == 0] = 1.0
    return tuple((x - mean) / scale for x in (train, *others))


def fit_logistic(X: np.ndarray, y: np.ndarray, C: float = 1.0, max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's ``LogisticRegression(C=C, max_iter=max_iter)`` (the original's defaults) per problem.

    Args:
        X: ``[B, N, d]`` (B independent problems, e.g. layers) or ``[N, d]``.
        y: ``[N]`` 0/1 labels shared by all problems.

    Returns:
        ``(coef [B, d], intercept [B])`` (without the B axis for 2-D ``X``).
    """
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X)
    squeeze = X.ndim == 2
    model = LogisticRegression(C=C, max_iter=max_iter, warm_start=True)  # neighbouring layers start each other
    coef, intercept = [], []
    for x in X[None] if squeeze else X:
        model.fit(x, y)
        coef.append(model.coef_[0].copy())
        intercept.append(float(model.intercept_[0]))
    coef, intercept = np.stack(coef), np.array(intercept)
    return (coef[0], intercept[0]) if squeeze else (coef, intercept)


def knn_predict(train: np.ndarray, y: np.ndarray, query: np.ndarray, k: int = 5) -> np.ndarray:
    """scikit-learn 5-NN (Euclidean, uniform weights), as the original."""
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(n_neighbors=k).fit(train, y).predict(query)


def mean_ci(values: Sequence[float], level: float = 0.95,
            bounds: tuple[float, float] | None = None) -> tuple[float, float, float]:
    """Mean and a t confidence interval across repeats (NaN interval for fewer than 2 values), clipped to
    ``bounds`` (accuracies: (0, 1), so that an interval from few repeats never passes 1).

    Example:
        >>> mean_ci([0.9, 1.0, 1.0], bounds=(0.0, 1.0))[2]
        1.0
    """
    v = np.asarray(values, dtype=float)
    mean = float(v.mean())
    if len(v) < 2 or np.all(v == v[0]):
        return (mean, np.nan, np.nan) if len(v) < 2 else (mean, mean, mean)
    half = stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return mean, float(low), float(high)


class ValenceProbe:
    """A standardised L2 logistic-regression probe on one layer's representations (sklearn style).

    Attributes after :meth:`fit`: ``mean_``, ``scale_`` (the scaler, kept), ``coef_`` and
    ``intercept_`` (in standardised coordinates), ``direction_``: the unit vector in model space
    along which the decision function grows (``coef_ / scale_``, normalised), oriented towards y = 1.

    Example:
        >>> X = np.random.default_rng(1).normal(size=(60, 4)); y = (X[:, 1] > 0).astype(int)
        >>> probe = ValenceProbe(C=1.0).fit(X, y)
        >>> int(np.argmax(np.abs(probe.direction_)))
        1
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> ValenceProbe:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(int)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be [N, d] with N = len(y) = {len(y)}, got shape {X.shape}")
        if set(np.unique(y)) != {0, 1}:
            raise ValueError(f"y must hold both classes 0 and 1, got {sorted(set(np.unique(y)))}")
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        self.coef_, self.intercept_ = fit_logistic((X - self.mean_) / self.scale_, y, C=self.C, max_iter=self.max_iter)
        raw = self.coef_ / self.scale_
        norm = np.linalg.norm(raw)
        self.direction_ = raw / norm if norm > 0 else raw  # all-zero when the features carry no signal
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(int)

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(X) == np.asarray(y)).mean())


# ----------------------------------------------------------------------------------- experiments

#: Probe variants: Emo_LLM's split and classifiers, then the rigorous protocol and its baselines.
VARIANTS = ("faithful", "faithful-knn", "grouped", "centred", "random-label", "oracle")
EXPERIMENTS = ("E1", "E2", "E3")


def _layer_accuracy(X: np.ndarray, target: np.ndarray, split: np.ndarray, y: np.ndarray, flip: np.ndarray,
                    fit_rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fit one standardised logistic regression per layer of ``X [N, L, d]`` on ``target`` and return
    the accuracy per layer ``[L]`` on each of E1/E2/E3 (prediction XOR ``flip`` against ``y``)."""
    rows = np.flatnonzero(split == "train") if fit_rows is None else fit_rows
    train, *tests = standardise(X[rows].transpose(1, 0, 2), *(X[split == e].transpose(1, 0, 2) for e in EXPERIMENTS))
    coef, intercept = fit_logistic(train, target[rows])  # [L, d], [L]
    out = {}
    for e, Xe in zip(EXPERIMENTS, tests):
        if Xe.shape[1] == 0:
            continue
        pred = (np.einsum("lnd,ld->ln", Xe, coef) + intercept[:, None] > 0) != flip[split == e]  # [L, n]
        out[e] = (pred == y[split == e]).mean(axis=1)
    return out


def run_probes(data: dict, n_repeats: int = 5, seed: int = 0, variants: Sequence[str] = VARIANTS,
               features: Sequence[str] = ("value", "residual"), layers: Sequence[int] | None = None) -> pd.DataFrame:
    """Accuracy of every (scale, variant, features, layer, experiment) in each repeated split.

    Args:
        data: ``{scale: {"frame", "value", "residual", "lexical_value", "lexical_residual"}}`` as
            :func:`emolib.emollm.prompts.probe_data` returns.
        n_repeats: seeded splits per variant (split seed ``seed * 10_000 + repeat``).
        layers: the layers probed one at a time (default all); the all-layer ``faithful`` probe always
            sees every layer.

    Returns:
        Tidy frame ``scale, experiment, variant, features, layer, repeat, accuracy``; ``layer`` is
        ``"all"`` for the original's flattened all-layer value vectors (``faithful``, ``faithful-knn``).
    """
    with threadpool_limits(1):  # many small fits: BLAS threads only contend
        return _run_probes(data, n_repeats, seed, variants, features, layers)


def _run_probes(data: dict, n_repeats: int, seed: int, variants: Sequence[str], features: Sequence[str],
                layers: Sequence[int] | None) -> pd.DataFrame:
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise ValueError(f"unknown variant {bad[0]!r}; valid choices: {', '.join(VARIANTS)}")
    rows = []
    for scale, d in data.items():
        frame = d["frame"]
        n_layers = d["value"].shape[1]
        if layers is not None and (not len(layers) or any(not -n_layers <= int(i) < n_layers for i in layers)):
            raise ValueError(f"layers {list(layers)} must be a non-empty list within -{n_layers}..{n_layers - 1}")
        picked = list(range(n_layers)) if layers is None else sorted({int(i) % n_layers for i in layers})
        per_layer = {key: d[key][:, picked] for key in d if key != "frame" and key.split("_")[-1] in features}
        y, neg = frame["y"].to_numpy(), frame["negation"].to_numpy()
        in_first = frame["in_first"].to_numpy().astype(int)
        first = ~frame.duplicated("adjective").to_numpy()
        adj_first = frame[first].set_index("adjective")["in_first"].astype(int)
        centred = {f: centre_by_group(per_layer[f], frame["template_id"].to_numpy()) for f in features
                   if {"centred", "random-label"} & set(variants)}
        for repeat in tqdm(range(n_repeats), desc=f"probes {scale}", leave=False):
            split_seed = seed * 10_000 + repeat
            faithful = faithful_split(frame, split_seed)
            grouped = grouped_split(frame, split_seed)
            rng = np.random.default_rng(split_seed + 1)  # control task: lists shuffled over adjectives
            control = dict(zip(adj_first.index, rng.permutation(adj_first.to_numpy())))
            y_control = (frame["adjective"].map(control).to_numpy() != neg).astype(int)
            train_adj = frame["adjective"].isin(set(frame["adjective"].to_numpy()[grouped == "train"])).to_numpy()
            lexical_rows = np.flatnonzero(first & train_adj)  # each training adjective once

            def add(variant: str, feat: str, accuracy: dict, layer_names=None) -> None:
                for e, acc in accuracy.items():
                    for layer, a in zip(layer_names or picked, np.atleast_1d(acc)):
                        rows.append((scale, e, variant, feat, layer, repeat, float(a)))

            if "faithful" in variants or "faithful-knn" in variants:
                flat = d["value"].reshape(len(frame), -1)
                train, *tests = standardise(flat[faithful == "train"], *(flat[faithful == e] for e in EXPERIMENTS))
                if "faithful" in variants:
                    coef, b = fit_logistic(train, y[faithful == "train"])
                    add("faithful", "value", {e: [((t @ coef + b > 0) == y[faithful == e]).mean()]
                                              for e, t in zip(EXPERIMENTS, tests) if len(t)}, ["all"])
                if "faithful-knn" in variants:
                    knn = {e: [(knn_predict(train, y[faithful == "train"], t) == y[faithful == e]).mean()]
                           for e, t in zip(EXPERIMENTS, tests) if len(t)}
                    add("faithful-knn", "value", knn, ["all"])
            zero = np.zeros(len(frame), dtype=bool)
            for feat in features:
                if "faithful" in variants:
                    add("faithful", feat, _layer_accuracy(per_layer[feat], y, faithful, y, zero))
                if "grouped" in variants:
                    add("grouped", feat, _layer_accuracy(per_layer[feat], y, grouped, y, zero))
                if "centred" in variants:
                    add("centred", feat, _layer_accuracy(centred[feat], y, grouped, y, zero))
                if "random-label" in variants:
                    add("random-label", feat, _layer_accuracy(centred[feat], y_control, grouped, y_control, zero))
                if "oracle" in variants:  # the adjective alone predicts its list; the template's true negation flips it
                    add("oracle", feat, _layer_accuracy(per_layer[f"lexical_{feat}"], in_first, grouped, y, neg,
                                                                lexical_rows))
    return pd.DataFrame(rows, columns=["scale", "experiment", "variant", "features", "layer", "repeat", "accuracy"])


def summarise(results: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean accuracy and t CI across repeats, clipped to [0, 1]: ``scale, experiment, variant, features, layer,
    accuracy, ci_low, ci_high`` (the columns of ``probe_results.csv``)."""
    keys = ["scale", "experiment", "variant", "features", "layer"]
    rows = [(*k, *mean_ci(g["accuracy"], level, bounds=(0.0, 1.0))) for k, g in results.groupby(keys, sort=False)]
    return pd.DataFrame(rows, columns=keys + ["accuracy", "ci_low", "ci_high"])
