"""Model-free RDMs of the 27 emotions from the task data: what geometry the training comments carry by themselves.

Prompts and emotion vectors are trained on GoEmotions comments, and many comments carry several emotions. A
model that only echoed which emotions share comments, or share words, would already show some human-like
geometry. These RDMs measure that with no model at all:

- :func:`cooccurrence_rdms`: label co-occurrence over the comments that carry at least one of the 27 emotions:
  ``-PMI`` (negative pointwise mutual information; pairs that never share a comment are tied at the largest
  distance, rather than ordered by how common the two emotions are) and ``1 - Jaccard``.

Co-occurrence comes from human annotators, so it carries real emotion semantics as well as how the data were
labelled: removing it from a model's geometry is a conservative control, not a clean one.
- :func:`lexical_rdm`: the TF-IDF profile of each emotion's comments, cosine distance.
- :func:`embedding_rdm`: the mean input embedding (layer 0) of each emotion's comments on a backbone, correlation
  distance.

Example:
    >>> rdms = cooccurrence_rdms()
    >>> list(rdms.columns), len(rdms)
    (['-PMI', '1 - Jaccard'], 351)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from emolib.data import goemotions_frame
from emolib.emotions import EMOTIONS, PAPER_ORDER, pair_indices

__all__ = ["label_matrix", "cooccurrence_rdms", "lexical_rdm", "embedding_rdm", "multi_label_share", "baseline_rdms",
           "baseline_table"]


def label_matrix(split: str = "train", order: Sequence[str] = PAPER_ORDER) -> np.ndarray:
    """``[comments, emotions]`` 0/1 of the comments carrying at least one of the 27 emotions (``neutral`` ignored)."""
    frame = goemotions_frame(split)
    columns = [EMOTIONS.index(e) for e in order]
    matrix = np.zeros((len(frame), len(EMOTIONS)), dtype=np.int64)
    for row, labels in enumerate(frame["labels"]):
        for label in labels:
            if label < len(EMOTIONS):
                matrix[row, label] = 1
    matrix = matrix[:, columns]
    return matrix[matrix.sum(1) > 0]


def multi_label_share(split: str = "train") -> float:
    """The share of emotion-labelled comments that carry two or more of the 27 emotions."""
    matrix = label_matrix(split)
    return float((matrix.sum(1) >= 2).mean())


def cooccurrence_rdms(split: str = "train", order: Sequence[str] = PAPER_ORDER) -> pd.DataFrame:
    """Label co-occurrence RDMs ``[pairs, 2]`` in ``order``'s pair order: ``-PMI`` and ``1 - Jaccard``."""
    x = label_matrix(split, order)
    n = len(x)
    both = x.T @ x  # [E, E] comments with both
    single = np.diag(both).astype(np.float64)
    i, j = pair_indices(len(order))
    shared = both[i, j].astype(np.float64)
    with np.errstate(divide="ignore"):
        distance = -np.log(shared * n / (single[i] * single[j]))  # -PMI; +inf where never shared
    finite = np.isfinite(distance)
    distance[~finite] = distance[finite].max() + 1.0  # never shared: one tie at the far end
    jaccard = shared / (single[i] + single[j] - shared)
    return pd.DataFrame({"-PMI": distance, "1 - Jaccard": 1.0 - jaccard})


def _emotion_texts(split: str, order: Sequence[str], max_per_emotion: int | None, seed: int) -> list[list[str]]:
    frame = goemotions_frame(split)
    rng = np.random.default_rng(seed)
    out = []
    for emotion in order:
        label = EMOTIONS.index(emotion)
        texts = frame.loc[frame["labels"].map(lambda labels: label in labels), "text"].tolist()
        if max_per_emotion is not None and len(texts) > max_per_emotion:
            texts = [texts[i] for i in np.sort(rng.choice(len(texts), max_per_emotion, replace=False))]
        out.append(texts)
    return out


def lexical_rdm(split: str = "train", order: Sequence[str] = PAPER_ORDER, max_per_emotion: int | None = None,
                seed: int = 0) -> pd.Series:
    """The TF-IDF RDM ``[pairs]``: each emotion's comments as one document, cosine distance (scikit-learn)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_distances

    documents = [" ".join(texts) for texts in _emotion_texts(split, order, max_per_emotion, seed)]
    vectors = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(documents)
    distance = cosine_distances(vectors)
    i, j = pair_indices(len(order))
    return pd.Series(distance[i, j], name="TF-IDF")


def embedding_rdm(backbone, split: str = "train", order: Sequence[str] = PAPER_ORDER, max_per_emotion: int = 200,
                  max_length: int = 64, seed: int = 0) -> pd.Series:
    """The input-embedding RDM ``[pairs]`` of a backbone: the mean token embedding (layer 0, special tokens left
    out) of each emotion's comments, correlation distance. What the backbone's vocabulary alone says."""
    import torch

    embed = backbone.model.get_input_embeddings()
    tok = backbone.tokenizer
    means = []
    with torch.no_grad():
        for texts in _emotion_texts(split, order, max_per_emotion, seed):
            ids = tok(texts, add_special_tokens=False, truncation=True, max_length=max_length)["input_ids"]
            flat = torch.tensor([t for row in ids for t in row], dtype=torch.long, device=backbone.device)
            means.append(embed(flat).float().mean(0).cpu().numpy())
    centred = np.stack(means) - np.stack(means).mean(1, keepdims=True)
    unit = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    distance = 1 - unit @ unit.T
    i, j = pair_indices(len(order))
    return pd.Series(distance[i, j], name=f"input embeddings ({backbone.name})")


def baseline_rdms(backbone=None, split: str = "train") -> pd.DataFrame:
    """Every model-free baseline as a column ``[351 pairs]`` (paper order): ``-PMI``, ``1 - Jaccard``, ``TF-IDF`` and,
    with a ``backbone``, its input embeddings."""
    out = cooccurrence_rdms(split)
    out["TF-IDF"] = lexical_rdm(split).to_numpy()
    if backbone is not None:
        emb = embedding_rdm(backbone, split)
        out[emb.name] = emb.to_numpy()
    return out


def baseline_table(baselines: pd.DataFrame, human_rdms: pd.DataFrame, ceiling=None,
                   subjects: np.ndarray | None = None) -> pd.DataFrame:
    """Each baseline against each human RDM (Kendall tau-b): ``baseline, target, tau, tau_subjects, ceiling_low,
    ceiling_high``; on the ``similarity`` rows, ``tau_subjects`` (tau with each subject's RDM, averaged: the scale
    of the noise ceiling, with ``subjects`` ``[subjects, pairs]``) and the ceiling (a
    :class:`~emolib.human.NoiseCeiling` of the similarity judgments).

    Example:
        >>> table = baseline_table(cooccurrence_rdms(), pd.DataFrame({"similarity": cooccurrence_rdms()["-PMI"]}))
        >>> round(float(table.set_index("baseline").loc["-PMI", "tau"]), 6)
        1.0
    """
    from emolib.rsa import compare_rdms

    table = compare_rdms(baselines, human_rdms).rename(columns={"rdm": "baseline", "r": "tau"})
    similarity = table["target"] == "similarity"
    table["tau_subjects"] = np.nan
    if subjects is not None:
        from emolib.human import subject_mean_tau

        per = dict(zip(baselines.columns, subject_mean_tau(baselines.to_numpy(np.float64), subjects)))
        table.loc[similarity, "tau_subjects"] = table.loc[similarity, "baseline"].map(per)
    table["ceiling_low"] = np.where(similarity, getattr(ceiling, "lower", np.nan), np.nan)
    table["ceiling_high"] = np.where(similarity, getattr(ceiling, "upper", np.nan), np.nan)
    return table[["baseline", "target", "tau", "tau_subjects", "ceiling_low", "ceiling_high"]]
