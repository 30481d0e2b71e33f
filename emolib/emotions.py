"""The 27 GoEmotions emotions, the 14 human attributes, and the paper's pair-vector convention.

Everything in emobook names emotions and attributes with the exact spellings defined here.

An RDM over ``n`` items is stored as its strict lower triangle in column-major order (R's
``m[lower.tri(m)]``): pairs (2,1), (3,1), ..., (n,1), (3,2), ..., (n,n-1) in 1-based terms,
i.e. ``for j in range(n): for i in range(j + 1, n)``. For 27 emotions that is 351 pairs.

Example:
    >>> from emolib import emotions
    >>> emotions.EMOTIONS[:3]
    ('admiration', 'amusement', 'anger')
    >>> emotions.pair_list(3)
    [(1, 0), (2, 0), (2, 1)]
    >>> import numpy as np
    >>> emotions.square_to_pairs(np.arange(9.0).reshape(3, 3))
    array([3., 6., 7.])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "EMOTIONS",
    "PAPER_ORDER",
    "ACTIVATION_ORDER",
    "NEUTRAL",
    "ATTRIBUTES",
    "ATTRIBUTE_GROUPS",
    "OLD_ATTRIBUTE_NAMES",
    "PAPER_SEEDS",
    "check_emotions",
    "check_attributes",
    "new_attribute_name",
    "n_pairs",
    "pair_list",
    "pair_indices",
    "square_to_pairs",
    "pairs_to_square",
    "order_index",
    "reorder_items",
    "pair_reorder_index",
    "reorder_pairs",
]

#: The 27 GoEmotions emotions in alphabetical (GoEmotions label) order; ``neutral`` is excluded.
EMOTIONS: tuple[str, ...] = (
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise",
)  # fmt: skip

#: GoEmotions' 28th label (index 27), dropped by every analysis.
NEUTRAL = "neutral"

#: The paper's reordered emotion order, used by every derived file and the activation analysis.
PAPER_ORDER: tuple[str, ...] = (
    "realization", "surprise", "admiration", "gratitude", "optimism", "approval", "pride",
    "excitement", "joy", "love", "amusement", "caring", "relief", "curiosity", "desire",
    "disgust", "disapproval", "anger", "annoyance", "confusion", "fear", "disappointment",
    "grief", "sadness", "nervousness", "embarrassment", "remorse",
)  # fmt: skip

#: The positive -> ambiguous -> negative loop order of the original ``get_active_neuron.py``.
ACTIVATION_ORDER: tuple[str, ...] = (
    "amusement", "excitement", "joy", "love", "desire", "optimism", "caring", "pride",
    "admiration", "gratitude", "relief", "approval", "realization", "surprise", "curiosity",
    "confusion", "fear", "nervousness", "remorse", "embarrassment", "disappointment", "sadness",
    "grief", "disgust", "anger", "annoyance", "disapproval",
)  # fmt: skip

#: The 14 human-rated emotion attributes, in the standard column order of every file.
ATTRIBUTES: tuple[str, ...] = (
    "arousal", "valence", "happy-face", "anger-face", "sad-face", "fear-face", "surprise-face",
    "disgust-face", "control", "fairness", "self-relativity", "other-relativity",
    "expectedness", "novelty",
)  # fmt: skip

#: The attributes grouped as in the paper's figures.
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "Affective": ATTRIBUTES[:2],
    "Basic emotions (faces)": ATTRIBUTES[2:8],
    "Appraisal": ATTRIBUTES[8:],
}

#: Old attribute names (``gen_mask.py`` and the released masking JSON keys) -> standard names.
OLD_ATTRIBUTE_NAMES: dict[str, str] = {
    "arousal": "arousal",
    "valence": "valence",
    "happy": "happy-face",
    "anger": "anger-face",
    "sad": "sad-face",
    "fear": "fear-face",
    "surprise": "surprise-face",
    "disgust": "disgust-face",
    "control": "control",
    "fairness": "fairness",
    "self-related": "self-relativity",
    "other-related": "other-relativity",
    "expectedness": "expectedness",
    "non-novelty": "novelty",
}

#: The 12 training seeds of the paper, in the order of its released files.
PAPER_SEEDS: tuple[int, ...] = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 42, 100)


def _check_names(names: Iterable[str], valid: Sequence[str], what: str) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in valid]
    if bad:
        raise ValueError(f"unknown {what} {bad!r}; valid choices: {', '.join(valid)}")
    return names


def check_emotions(names: Iterable[str] | str) -> list[str]:
    """Return ``names`` as a list, raising ``ValueError`` naming any unknown emotion.

    Example:
        >>> check_emotions(["joy", "fear"])
        ['joy', 'fear']
    """
    return _check_names(names, EMOTIONS, "emotion")


def check_attributes(names: Iterable[str] | str) -> list[str]:
    """Return ``names`` as a list, raising ``ValueError`` naming any unknown attribute."""
    return _check_names(names, ATTRIBUTES, "attribute")


def new_attribute_name(old: str) -> str:
    """Map an old attribute name of the released files to its standard name.

    Example:
        >>> new_attribute_name("non-novelty")
        'novelty'
    """
    if old in ATTRIBUTES:
        return old
    try:
        return OLD_ATTRIBUTE_NAMES[old]
    except KeyError:
        raise ValueError(
            f"unknown attribute name {old!r}; valid old names: {', '.join(OLD_ATTRIBUTE_NAMES)}"
        ) from None


def n_pairs(n: int) -> int:
    """Number of unordered pairs of ``n`` items: ``n * (n - 1) // 2``."""
    return n * (n - 1) // 2


def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based ``(i, j)`` index arrays of the pairs in the paper's order (``i > j``, column-major).

    Example:
        >>> i, j = pair_indices(4)
        >>> list(zip(i.tolist(), j.tolist()))
        [(1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2)]
    """
    j, i = np.triu_indices(n, 1)  # row-major upper triangle == column-major lower triangle
    return i, j


def pair_list(n: int) -> list[tuple[int, int]]:
    """The pairs of :func:`pair_indices` as a list of ``(i, j)`` tuples (0-based)."""
    i, j = pair_indices(n)
    return list(zip(i.tolist(), j.tolist()))


def _n_items(n_pair_values: int) -> int:
    n = int(round((1 + np.sqrt(1 + 8 * n_pair_values)) / 2))
    if n_pairs(n) != n_pair_values:
        raise ValueError(f"{n_pair_values} is not a number of pairs n*(n-1)/2 of any n")
    return n


def square_to_pairs(matrix: np.ndarray) -> np.ndarray:
    """Square matrix ``[..., n, n]`` -> pair vector ``[..., n*(n-1)/2]`` (lower triangle, column-major)."""
    matrix = np.asarray(matrix)
    n = matrix.shape[-1]
    if matrix.shape[-2] != n:
        raise ValueError(f"expected square matrices, got shape {matrix.shape}")
    i, j = pair_indices(n)
    return matrix[..., i, j]


def pairs_to_square(vector: np.ndarray, diagonal: float = 0.0) -> np.ndarray:
    """Pair vector ``[..., p]`` -> symmetric square matrix ``[..., n, n]``.

    Example:
        >>> pairs_to_square(np.array([1.0, 2.0, 3.0]))
        array([[0., 1., 2.],
               [1., 0., 3.],
               [2., 3., 0.]])
    """
    vector = np.asarray(vector)
    n = _n_items(vector.shape[-1])
    out = np.full(vector.shape[:-1] + (n, n), diagonal, dtype=np.result_type(vector, float))
    i, j = pair_indices(n)
    out[..., i, j] = vector
    out[..., j, i] = vector
    return out


def order_index(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Indices ``idx`` such that ``[source[k] for k in idx] == list(target)``.

    Example:
        >>> order_index(["a", "b", "c"], ["c", "a", "b"])
        array([2, 0, 1])
    """
    position = {name: k for k, name in enumerate(source)}
    missing = [name for name in target if name not in position]
    if missing:
        raise ValueError(f"items {missing!r} are not in the source order {list(source)!r}")
    return np.array([position[name] for name in target], dtype=np.int64)


def reorder_items(
    x: np.ndarray, source: Sequence[str] = EMOTIONS, target: Sequence[str] = PAPER_ORDER, axis: int = 0
) -> np.ndarray:
    """Reorder the item axis of ``x`` from the ``source`` order to the ``target`` order."""
    return np.take(np.asarray(x), order_index(source, target), axis=axis)


def pair_reorder_index(source: Sequence[str], target: Sequence[str]) -> np.ndarray:
    """Indices mapping a pair vector in ``source`` item order to one in ``target`` item order.

    For ``source=EMOTIONS, target=PAPER_ORDER`` this equals the paper's ``reorder_distance.csv``
    minus one: ``v_target = v_source[idx]``. ``target`` may be a subset of ``source`` (its pairs only).
    """
    n = len(source)
    if len(set(target)) != len(target):
        raise ValueError(f"the target order {list(target)!r} repeats an item")
    ro = order_index(source, target)
    lookup = np.empty((n, n), dtype=np.int64)
    si, sj = pair_indices(n)
    lookup[si, sj] = np.arange(n_pairs(n))
    lookup[sj, si] = lookup[si, sj]
    ti, tj = pair_indices(len(target))
    return lookup[ro[ti], ro[tj]]


def reorder_pairs(
    vector: np.ndarray, source: Sequence[str] = EMOTIONS, target: Sequence[str] = PAPER_ORDER
) -> np.ndarray:
    """Reorder a pair vector ``[..., p]`` (or pair-major ``[p, ...]`` if 1-D) between item orders.

    Example:
        >>> v = square_to_pairs(np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]]))
        >>> reorder_pairs(v, ["a", "b", "c"], ["c", "b", "a"])
        array([3, 2, 1])
        >>> reorder_pairs(v, ["a", "b", "c"], ["a", "c"])  # a subset keeps its own pairs
        array([2])
    """
    return np.take(np.asarray(vector), pair_reorder_index(source, target), axis=-1)
