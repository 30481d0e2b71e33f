"""Emotion vectors: per-emotion mean residual-stream activations over GoEmotions comments, against human ratings.

For each of the 27 emotions, the vector at layer ``l`` is the mean over comments labelled with the
emotion of the comment's pooled residual stream (the output of decoder layer ``l``), minus the mean
over all sampled comments (Sofroniew et al. 2026). Comments are sampled per emotion from one split
(seeded, up to ``n_per_emotion``); a comment with several labels counts for each of them and is
encoded once.

**Pooling.** A comment's activation is the mean over its real tokens: attention-mask positions that
are not special tokens (BOS/CLS/EOS), and, in a causal LM, not the first position either. The first
position of a causal LM is the attention sink: it sees only itself, and in Llama-family models its
residual carries "massive activations" (in SmolLM2-135M one dimension reaches ~24,000 at layer 15,
against typical token norms of ~180), which would make a plain mean track 1/length. Batches are
right-padded, so a causal model sees exactly the unpadded comment (tested equal to unbatched).

**Standardised dimensions.** The analyses (PCA, RDMs) z-score each residual dimension by its sd
over the sampled comments (``standardize=True``, default): a few "rogue" dimensions of Llama-family
residual streams have variances hundreds of times the rest and otherwise dominate PC1 and every
distance (Timkey & van Schijndel 2021). ``standardize=False`` gives the raw-space analysis.

**PCA and orientation.** PCA of the 27 vectors per layer (:func:`pca_scores`). A component's sign is
arbitrary; orienting it to correlate positively with human valence would bias r upward. We orient
by fixed anchors that never look at the ratings: PC1 so that ``joy - sadness`` projects positively,
PC2 so that ``excitement - relief`` does (two emotions the human arousal ratings put at the extremes
with similar valence; a choice made from emotion names, documented, not tuned). The bootstrap
(:func:`pc_correlations`) resamples the 27 emotions with replacement, refits the PCA on the resample,
re-orients it by the same anchors, and correlates the scores with the resampled human means, so the
CI includes PCA instability (including PC1/PC2 swaps).

**Layer.** Every layer is reported (descriptive); the headline layer is fixed in advance at two thirds of the
depth, where Sofroniew et al. (2026) read their emotion vectors (:func:`headline_layer`), never the
best-correlating one. :data:`SOFRONIEW_R` holds their PC-rating correlations, for comparison only: 45 emotions
with Russell-Mehrabian ratings in a much larger model, against the 27 GoEmotions emotions and this book's
ratings here.

Example:
    >>> ev = emotion_vectors("tiny-llama", profile="smoke", device="cpu")
    >>> ev.vectors.shape  # [layers, 27, d]
    (2, 27, 32)
    >>> pc_correlations(ev, layer=1, n_boot=200).columns.tolist()
    ['layer', 'pc', 'human_scale', 'r', 'ci_low', 'ci_high']
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from emolib import profiles
from emolib.artifacts import artifact, load_arrays, save_arrays
from emolib.data import GOEMOTIONS_LABELS, goemotions_frame
from emolib.emotions import EMOTIONS, PAPER_ORDER, check_emotions, n_pairs, pair_indices, reorder_pairs
from emolib.human import rating_means, similarity_rdm
from emolib.model.backbones import Backbone, load_backbone
from emolib.model.hooks import record
from emolib.rsa import compare_rdms
from emolib.versions import version

__all__ = [
    "ANCHORS", "EmotionVectors", "sample_comments", "pooled_residuals", "emotion_vectors",
    "headline_layer", "human_means", "pca_scores", "pc_direction", "contrast_direction", "pc_correlations",
    "vector_rdms", "vector_rsa", "pc_layer_selection", "SOFRONIEW_R", "with_reference", "against_baselines",
]  # fmt: skip

logger = logging.getLogger(__name__)

#: Fixed orientation anchors: PC k is flipped so that ``vector[a] - vector[b]`` projects positively.
ANCHORS: dict[int, tuple[str, str]] = {1: ("joy", "sadness"), 2: ("excitement", "relief")}
SCALES = ("valence", "arousal")
#: Sofroniew et al. (2026): r of PC1 with valence and of PC2 with arousal (their 45 emotions, Russell-Mehrabian
#: ratings, a much larger model): a reference beside ours, not a test.
SOFRONIEW_R: dict[tuple[str, str], float] = {("PC1", "valence"): 0.81, ("PC2", "arousal"): 0.66}


@dataclass
class EmotionVectors:
    """Emotion vectors of one backbone: ``vectors`` ``[layers, 27, d]`` (``EMOTIONS`` order)."""

    vectors: np.ndarray  # [L, 27, d]
    layer_norms: np.ndarray  # [L] median token residual norm of the sampled comments
    scale: np.ndarray  # [L, d] sd over comments of the pooled activation (for standardising)
    counts: np.ndarray  # [27] comments per emotion
    backbone: str
    emotions: tuple[str, ...] = EMOTIONS
    meta: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return self.vectors.shape[0]

    def layer(self, layer: int, standardize: bool = False) -> np.ndarray:
        """``[27, d]`` float64 vectors of one layer, optionally in sd units (``ValueError`` if out of range)."""
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.n_layers:
            raise ValueError(f"layer {layer!r} out of range; valid choices: 0..{self.n_layers - 1}")
        x = self.vectors[int(layer)].astype(np.float64)
        return x / np.where(self.scale[int(layer)] > 0, self.scale[int(layer)], 1.0) if standardize else x


def sample_comments(split: str, n_per_emotion: int | None, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Seeded sample of up to ``n_per_emotion`` comments per emotion.

    Returns:
        ``(comments, membership)``: the unique sampled comments (``text``, ``row``; file order) and a
        ``[n_comments, 27]`` bool matrix (comment sampled for emotion).
    """
    if n_per_emotion is not None and n_per_emotion < 1:
        raise ValueError(f"n_per_emotion must be >= 1 or None, got {n_per_emotion}")
    frame = goemotions_frame(split)
    rng = np.random.default_rng(seed)
    chosen: dict[int, set[int]] = {}
    for k, emotion in enumerate(EMOTIONS):
        label = GOEMOTIONS_LABELS.index(emotion)
        rows = np.flatnonzero([label in labels for labels in frame["labels"]])
        if n_per_emotion is not None and len(rows) > n_per_emotion:
            rows = rng.choice(rows, n_per_emotion, replace=False)
        for row in rows.tolist():
            chosen.setdefault(row, set()).add(k)
    order = sorted(chosen)
    membership = np.zeros((len(order), len(EMOTIONS)), dtype=bool)
    for i, row in enumerate(order):
        membership[i, sorted(chosen[row])] = True
    comments = pd.DataFrame({"text": frame["text"].to_numpy()[order], "row": order})
    return comments, membership


def pooled_residuals(
    backbone: Backbone, texts: Sequence[str], max_length: int = 64, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Mean residual stream over each text's real non-special tokens, every layer.

    Returns:
        ``(pooled [n, L, d] float32, token_norms [L, n_tokens] float32)``; batches are sorted by
        length for speed, results are in input order.
    """
    lengths = [len(backbone.tokenizer(t)["input_ids"]) for t in texts]
    order = np.argsort(lengths, kind="stable")
    pooled = np.zeros((len(texts), backbone.n_layers, backbone.hidden_size), dtype=np.float32)
    norms = []
    with torch.no_grad(), record(backbone, "residual") as rec:
        for start in tqdm(range(0, len(texts), batch_size), desc="emotion vectors", leave=False):
            index = order[start : start + batch_size]
            batch = backbone.encode([texts[i] for i in index], max_length)
            backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            real = (batch["attention_mask"].bool() & ~batch["special_tokens_mask"].bool()).float()  # [B, T]
            if backbone.kind == "causal":
                real[:, 0] = 0.0  # position 0: the attention sink (see module docstring)
            empty = real.sum(1) == 0
            real[empty] = batch["attention_mask"][empty].float()  # one-token text: keep what there is
            hidden = rec.stacked().float()  # [B, L, T, d]
            pooled[index] = (torch.einsum("bltd,bt->bld", hidden, real) / real.sum(1)[:, None, None]).cpu().numpy()
            norms.append(hidden.norm(dim=-1)[:, :, :].permute(1, 0, 2)[:, real.bool()].cpu().numpy())  # [L, tokens]
    return pooled, np.concatenate(norms, axis=1) if norms else np.zeros((backbone.n_layers, 0), np.float32)


def emotion_vectors(
    backbone: str | Backbone = "smollm2-135m", profile: str = "quick", seed: int = 0, *,
    device: str | torch.device | None = "auto", root: str | None = None, **overrides,
) -> EmotionVectors:
    """Emotion vectors of ``backbone`` (cached artifact keyed by backbone identity, split, sample sizes, seed).

    Args:
        backbone: a backbone or anything :func:`emolib.model.load_backbone` accepts (put on ``device``).
        profile: a profile name or :class:`~emolib.profiles.VectorSettings`.
        seed: sampling seed.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        **overrides: fields of :class:`~emolib.profiles.VectorSettings` (``n_per_emotion``, ``split``, ...).
    """
    settings = profiles.settings("vectors", profile, **overrides)
    bb = load_backbone(backbone, device=device)
    inputs = {"backbone": bb.identity, "split": settings.split, "n_per_emotion": settings.n_per_emotion,
              "max_length": settings.max_length, "seed": seed, "pooling": "mean-real-nonspecial-skip-first-causal",
              "site": "layer-output", "version": version("emotion_vectors")}  # fmt: skip
    art = artifact("emotion_vectors", inputs, root)
    names = {"vectors", "layer_norms", "scale", "counts", "rows"}

    def load(path: Path) -> dict[str, np.ndarray]:
        arrays = load_arrays(path / "vectors.npz")
        if set(arrays) != names or arrays["vectors"].shape[1:] != (len(EMOTIONS), bb.hidden_size):
            raise ValueError(f"{path / 'vectors.npz'} holds {sorted(arrays)} with vectors "
                             f"{arrays.get('vectors', np.empty(0)).shape}, expected [layers, 27, {bb.hidden_size}]")
        return arrays

    arrays = art.reuse(load)  # a broken file is set aside and recomputed
    if arrays is None:
        try:
            comments, membership = sample_comments(settings.split, settings.n_per_emotion, seed)
        except BaseException:
            art.release()  # reuse() took the lock
            raise
        with art.writing(n_comments=len(comments)) as tmp:  # computed inside: a failure releases the lock
            logger.info("emotion vectors of %s: %d comments", bb.name, len(comments))
            pooled, norms = pooled_residuals(bb, comments["text"].tolist(), settings.max_length, settings.batch_size)
            counts = membership.sum(0)  # [27]
            means = np.einsum("nld,ne->led", pooled.astype(np.float64), membership) / counts[None, :, None]
            vectors = (means - pooled.mean(0, dtype=np.float64)[:, None, :]).astype(np.float32)  # [L, 27, d]
            save_arrays(tmp / "vectors.npz", {"vectors": vectors, "layer_norms": np.median(norms, axis=1),
                                              "scale": pooled.std(0, dtype=np.float64).astype(np.float32),
                                              "counts": counts, "rows": comments["row"].to_numpy()})
        arrays = load(art.path)
    return EmotionVectors(arrays["vectors"], arrays["layer_norms"], arrays["scale"], arrays["counts"], bb.name, EMOTIONS,
                          {**inputs, "n_comments": int(len(arrays["rows"])), "artifact": str(art.path)})


def headline_layer(ev: EmotionVectors | int) -> int:
    """The layer fixed in advance for headline numbers: two thirds of the depth, ``(2 * n_layers) // 3`` (0-based;
    Sofroniew et al. 2026 read theirs about two thirds of the way through the model).

    Example:
        >>> headline_layer(18), headline_layer(30)
        (12, 20)
    """
    n_layers = ev if isinstance(ev, int) else ev.n_layers
    return min((2 * n_layers) // 3, n_layers - 1)


def with_reference(pcs: pd.DataFrame) -> pd.DataFrame:
    """``pcs`` (:func:`pc_correlations`) with Sofroniew et al.'s r beside the matching (PC, scale) rows
    (``sofroniew_r``; NaN elsewhere).

    Example:
        >>> row = pd.DataFrame({"pc": ["PC1"], "human_scale": ["valence"], "r": [0.5]})
        >>> float(with_reference(row)["sofroniew_r"].iloc[0])
        0.81
    """
    keys = zip(pcs["pc"], pcs["human_scale"])
    return pcs.assign(sofroniew_r=[SOFRONIEW_R.get(k, np.nan) for k in keys])


def against_baselines(ev: EmotionVectors, baselines: pd.DataFrame, layers: Sequence[int], target: pd.Series,
                      standardize: bool = True) -> pd.DataFrame:
    """Kendall tau-b of the emotion-vector RDMs at ``layers`` and of each baseline RDM (``[351 pairs]`` columns in
    paper order, e.g. :func:`emolib.paper.confounds.baseline_rdms`: label co-occurrence, TF-IDF, input embeddings)
    with ``target`` (a human RDM): ``rdm, kind, tau``.
    """
    rdms = vector_rdms(ev, standardize=standardize)[[f"layer {k}" for k in layers]]
    rdms.columns = [f"emotion vectors, {c}" for c in rdms.columns]
    both = pd.concat([rdms, baselines.set_axis(rdms.index)], axis=1)
    table = compare_rdms(both, pd.DataFrame({"target": np.asarray(target)}), "kendall")
    kinds = ["emotion vectors"] * rdms.shape[1] + ["baseline"] * baselines.shape[1]
    tau = dict(zip(table["rdm"], table["r"]))
    return pd.DataFrame({"rdm": both.columns, "kind": kinds, "tau": [float(tau[c]) for c in both.columns]})


def human_means() -> pd.DataFrame:
    """Human valence and arousal means (1-9 ratings) of the 27 emotions, ``EMOTIONS`` order."""
    return rating_means()[list(SCALES)].loc[list(EMOTIONS)]


def _anchor_index(anchors: dict[int, tuple[str, str]], n_pcs: int) -> list[tuple[int, int]]:
    out = []
    for pc in range(1, n_pcs + 1):
        if pc not in anchors:
            raise ValueError(f"no orientation anchor for PC{pc}; give anchors for PCs 1..{n_pcs}")
        a, b = check_emotions(list(anchors[pc]))
        out.append((EMOTIONS.index(a), EMOTIONS.index(b)))
    return out


def _oriented_pca(gram: np.ndarray, idx: np.ndarray, anchors: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """PCA scores of resampled rows from the full Gram matrix, vectorised over resamples.

    Args:
        gram: ``[27, 27]`` ``X X^T`` of the vectors; idx: ``[B, n]`` resampled emotion indices.

    Returns:
        ``(scores [B, n, k], explained variance ratio [B, k])`` for the k anchored PCs.
    """
    n = idx.shape[1]
    g = gram[idx[:, :, None], idx[:, None, :]]  # [B, n, n]
    center = np.eye(n) - 1.0 / n
    gc = center @ g @ center
    evals, evecs = np.linalg.eigh(gc)  # ascending
    evals, evecs = evals[:, ::-1], evecs[:, :, ::-1]
    k = len(anchors)
    lam = np.clip(evals[:, :k], 1e-300, None)
    scores = evecs[:, :, :k] * np.sqrt(lam)[:, None, :]  # [B, n, k] (= Xc w_k)
    for c, (a, b) in enumerate(anchors):  # (x_a - x_b) . w_c  with w_c = Xc^T u_c / sqrt(lam_c)
        diff = gram[idx, a] - gram[idx, b]  # [B, n] = X_idx (x_a - x_b)
        proj = np.einsum("bn,bn->b", diff - diff.mean(1, keepdims=True), evecs[:, :, c])
        scores[:, :, c] *= np.where(proj < 0, -1.0, 1.0)[:, None]
    total = np.clip(np.trace(gc, axis1=1, axis2=2), 1e-300, None)
    return scores, evals[:, :k] / total[:, None]


def pca_scores(ev: EmotionVectors, layer: int, anchors: dict[int, tuple[str, str]] = ANCHORS,
               standardize: bool = True) -> pd.DataFrame:
    """Oriented PC1/PC2 scores of the 27 emotions at ``layer``: index ``emotion``, columns ``PC1, PC2``.

    ``frame.attrs["explained"]`` holds the explained-variance ratios.
    """
    x = ev.layer(layer, standardize)
    scores, explained = _oriented_pca(x @ x.T, np.arange(27)[None], _anchor_index(anchors, len(anchors)))
    frame = pd.DataFrame(scores[0], index=pd.Index(EMOTIONS, name="emotion"),
                         columns=[f"PC{k + 1}" for k in range(len(anchors))])
    frame.attrs["explained"] = explained[0].tolist()
    return frame


def pc_direction(ev: EmotionVectors, layer: int, pc: int = 1, anchors: dict[int, tuple[str, str]] = ANCHORS,
                 standardize: bool = True) -> torch.Tensor:
    """Unit ``[d]`` residual-space direction of oriented PC ``pc`` at ``layer`` (PC1: the valence axis).

    The direction is the raw-space pattern that goes with the PC scores, ``sum_e score_e (v_e - mean v)``
    (for standardised PCA this is ``sd * w``, the change of the activations along the component).
    """
    if pc not in anchors:
        raise ValueError(f"no orientation anchor for PC{pc}; valid choices: {sorted(anchors)}")
    scores = pca_scores(ev, layer, {k: anchors[k] for k in range(1, pc + 1)}, standardize)[f"PC{pc}"].to_numpy()
    x = ev.layer(layer)
    w = (x - x.mean(0)).T @ scores  # [d]
    return torch.tensor(w / np.linalg.norm(w), dtype=torch.float32)


def contrast_direction(ev: EmotionVectors, layer: int, positive: Sequence[str] = ("joy",),
                       negative: Sequence[str] = ("sadness",)) -> torch.Tensor:
    """``mean(vectors[positive]) - mean(vectors[negative])`` at ``layer`` as a ``[d]`` tensor (not normalised)."""
    pos = [EMOTIONS.index(e) for e in check_emotions(positive)]
    neg = [EMOTIONS.index(e) for e in check_emotions(negative)]
    x = ev.layer(layer)
    return torch.tensor(x[pos].mean(0) - x[neg].mean(0), dtype=torch.float32)


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis (NaN where either side is constant)."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def pc_correlations(
    ev: EmotionVectors, layer: int | None = None, n_boot: int = 2000, seed: int = 0, level: float = 0.95,
    anchors: dict[int, tuple[str, str]] = ANCHORS, standardize: bool = True, refit: bool = True,
) -> pd.DataFrame:
    """Pearson r of oriented PC1/PC2 scores with human valence and arousal, bootstrap CI over emotions.

    Args:
        ev: emotion vectors.
        layer: one layer, or ``None`` for every layer.
        n_boot: bootstrap resamples of the 27 emotions.
        seed: bootstrap seed (the same resamples are used at every layer).
        refit: refit and re-orient the PCA in each resample (default; the CI includes PCA instability,
            e.g. PC1/PC2 swaps); ``False`` keeps the full-sample scores and resamples only the correlation.

    Returns:
        ``layer, pc, human_scale, r, ci_low, ci_high`` (percentile CI).
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if layer is not None:
        ev.layer(layer)  # validates
    layers = range(ev.n_layers) if layer is None else [int(layer)]
    human = human_means().to_numpy()  # [27, 2]
    anchor_idx = _anchor_index(anchors, len(anchors))
    boot = np.random.default_rng(seed).integers(0, 27, size=(n_boot, 27))
    rows = []
    for k in layers:
        x = ev.layer(k, standardize)
        gram = x @ x.T
        point, _ = _oriented_pca(gram, np.arange(27)[None], anchor_idx)  # [1, 27, P]
        scores = _oriented_pca(gram, boot, anchor_idx)[0] if refit else point[0][boot]  # [B, 27, P]
        for p in range(len(anchor_idx)):
            for s, scale in enumerate(SCALES):
                r = float(_pearson_rows(point[0, :, p], human[:, s]))
                dist = _pearson_rows(scores[:, :, p], human[boot, s])
                lo, hi = np.nanpercentile(dist, [50 - 50 * level, 50 + 50 * level])
                rows.append((k, f"PC{p + 1}", scale, r, float(lo), float(hi)))
    return pd.DataFrame(rows, columns=["layer", "pc", "human_scale", "r", "ci_low", "ci_high"])


def vector_rdms(ev: EmotionVectors, metric: str = "correlation", order: Sequence[str] = PAPER_ORDER,
                standardize: bool = True) -> pd.DataFrame:
    """Emotion-vector RDMs per layer: 351 pairs (``order``'s pair order) x columns ``layer k`` (0-based).

    ``metric``: ``"correlation"`` (1 - Pearson r of the two vectors) or ``"euclidean"``.
    """
    valid = ("correlation", "euclidean")
    if metric not in valid:
        raise ValueError(f"unknown metric {metric!r}; valid choices: {', '.join(valid)}")
    i, j = pair_indices(27)
    out = {}
    for k in range(ev.n_layers):
        x = ev.layer(k, standardize)
        if metric == "correlation":
            d = 1 - np.corrcoef(x)[i, j]
        else:
            d = np.linalg.norm(x[i] - x[j], axis=1)
        out[f"layer {k}"] = reorder_pairs(d, EMOTIONS, order)
    return pd.DataFrame(out).rename_axis("pair")


def vector_rsa(
    ev: EmotionVectors, metric: str = "correlation", method: str = "kendall", n_perm: int = 2000, seed: int = 0,
    standardize: bool = True,
) -> pd.DataFrame:
    """RSA of each layer's emotion-vector RDM with the human similarity-judgment RDM.

    r is :func:`emolib.rsa.compare_rdms` (Kendall tau-b by default, as the paper); ``p_perm`` is a
    one-sided Mantel permutation p: the emotion labels of the model RDM are permuted (the same
    ``n_perm`` permutations at every layer), p = (1 + #perm r >= r) / (1 + n_perm).

    Returns:
        ``layer, metric, method, r, p, p_perm, null_low, null_high`` (null 2.5/97.5 percentiles), ``p_max`` and
        ``r_subjects``: Kendall tau-b with each subject's similarity RDM, averaged over subjects (the noise ceiling's
        scale; ``r`` is against the subjects' mean RDM, a less noisy target).
    """
    if n_perm < 1:
        raise ValueError(f"n_perm must be >= 1, got {n_perm}")
    rdms = vector_rdms(ev, metric, PAPER_ORDER, standardize)
    target = pd.DataFrame({"similarity": similarity_rdm()})
    observed = compare_rdms(rdms, target, method)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(27) for _ in range(n_perm)]
    i, j = pair_indices(27)
    # pair-vector index of (perm[i], perm[j]) for each permutation: [n_perm, 351]
    lookup = np.zeros((27, 27), dtype=np.int64)
    lookup[i, j] = np.arange(n_pairs(27))
    lookup[j, i] = lookup[i, j]
    index = np.stack([lookup[p[i], p[j]] for p in perms])
    rows, nulls = [], []
    for k, column in enumerate(rdms.columns):
        v = rdms[column].to_numpy()
        null = compare_rdms(pd.DataFrame(v[index].T), target, method)["r"].to_numpy()  # [n_perm]
        nulls.append(null)
        r = float(observed.loc[observed["rdm"] == column, "r"].iloc[0])
        p = float(observed.loc[observed["rdm"] == column, "p"].iloc[0])
        lo, hi = np.percentile(null, [2.5, 97.5])
        rows.append((k, metric, method, r, p, float((1 + np.sum(null >= r)) / (1 + n_perm)), float(lo), float(hi)))
    table = pd.DataFrame(rows, columns=["layer", "metric", "method", "r", "p", "p_perm", "null_low", "null_high"])
    null_max = np.nanmax(np.stack(nulls), axis=0)  # [n_perm]: the best layer of each permutation
    table["p_max"] = [(1 + np.sum(null_max >= r)) / (1 + n_perm) for r in table["r"]]
    from emolib.human import subject_mean_tau

    table["r_subjects"] = subject_mean_tau(rdms.to_numpy())
    return table


def pc_layer_selection(ev: EmotionVectors, n_perm: int = 2000, seed: int = 0,
                       anchors: dict[int, tuple[str, str]] = ANCHORS, standardize: bool = True) -> pd.DataFrame:
    """The best layer of each (PC, human scale) and a p corrected for choosing it.

    The human ratings are permuted across the 27 emotions (the same permutations at every layer) and the
    largest r over layers of each permutation forms the null: ``p_max = (1 + #{max_layers r_perm >= r_best})
    / (1 + n_perm)``, one-sided (the PCs are oriented by fixed anchors, so r > 0 is the claim).

    Returns:
        ``pc, human_scale, best_layer, r, p_max``.
    """
    if n_perm < 1:
        raise ValueError(f"n_perm must be >= 1, got {n_perm}")
    human = human_means().to_numpy()  # [27, 2]
    anchor_idx = _anchor_index(anchors, len(anchors))
    scores = np.stack([_oriented_pca(ev.layer(k, standardize) @ ev.layer(k, standardize).T, np.arange(27)[None],
                                     anchor_idx)[0][0] for k in range(ev.n_layers)])  # [L, 27, PCs]
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(27) for _ in range(n_perm)])  # [n_perm, 27]
    rows = []
    for p in range(len(anchor_idx)):
        for s, scale in enumerate(SCALES):
            r = _pearson_rows(scores[:, :, p], human[None, :, s])  # [L]
            null = _pearson_rows(scores[:, None, :, p], human[perms, s][None])  # [L, n_perm]
            best = int(np.nanargmax(r))
            null_max = np.nanmax(null, axis=0)  # [n_perm]
            rows.append((f"PC{p + 1}", scale, best, float(r[best]), float((1 + np.sum(null_max >= r[best])) / (1 + n_perm))))
    return pd.DataFrame(rows, columns=["pc", "human_scale", "best_layer", "r", "p_max"])
