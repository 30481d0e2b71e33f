"""Data shipped in ``data/``: GoEmotions, the paper's binary emotion tasks, Emo_LLM word sets.

Human ratings and the released RoBERTa files of Li et al. are loaded by :mod:`emolib.released`.
Nothing here touches the network unless a user passes a hub id to :func:`load_goemotions`.

Example:
    >>> from emolib import data
    >>> task = data.paper_task("grief", seed=1, split="dev")
    >>> len(task), int(task["label"].iloc[0])
    (26, 1)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from emolib.emotions import EMOTIONS, NEUTRAL, PAPER_ORDER, check_emotions

__all__ = [
    "SPLITS",
    "data_dir",
    "data_path",
    "verify_checksums",
    "goemotions_frame",
    "load_goemotions",
    "emotion_indicator",
    "split_summary",
    "label_counts",
    "paper_task",
    "subsample_task",
    "task_sizes",
    "task_table",
    "load_adjectives",
    "load_templates",
    "word_set_summary",
    "template_counts",
]

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "dev", "test")
GOEMOTIONS_LABELS: tuple[str, ...] = EMOTIONS + (NEUTRAL,)
_HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}

# ---------------------------------------------------------------------------------------------- files


def data_dir() -> Path:
    """The folder holding emobook's data: ``$EMOLIB_DATA``, else the repository's ``data/``.

    A wheel built from the repository carries the same files as the package ``emobook_data``.
    """
    env = os.environ.get("EMOLIB_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent / "data")
    try:
        import importlib.util

        spec = importlib.util.find_spec("emobook_data")
        if spec is not None and spec.submodule_search_locations:
            candidates.extend(Path(p) for p in spec.submodule_search_locations)
    except (ImportError, ValueError):  # pragma: no cover - broken installs
        pass
    for candidate in candidates:
        if (candidate / "SHA256SUMS").is_file():
            return candidate
    raise FileNotFoundError(
        "emobook's data folder was not found (looked in: "
        + ", ".join(str(c) for c in candidates)
        + "); set EMOLIB_DATA to the repository's data/ folder"
    )


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, with a clear error if it is missing.

    Example:
        >>> data_path("goemotions", "labels.txt").name
        'labels.txt'
    """
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"missing data file {path}; the data/ folder is incomplete")
    return path


def verify_checksums(root: Path | None = None) -> list[str]:
    """Check every file listed in ``data/SHA256SUMS``; return the problems found (empty if none)."""
    root = root or data_dir()
    problems = []
    for line in (root / "SHA256SUMS").read_text().splitlines():
        if not line.strip():
            continue
        digest, name = line.split(maxsplit=1)
        path = root / name.lstrip("*")
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"checksum mismatch: {name}")
    return problems


# ------------------------------------------------------------------------------------------ GoEmotions


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")
    return split


@lru_cache(maxsize=8)
def _read_goemotions_tsv(split: str) -> pd.DataFrame:
    path = data_path("goemotions", f"{split}.tsv")
    frame = pd.read_csv(
        path, sep="\t", header=None, names=["text", "classes", "id"], dtype=str, keep_default_na=False
    )
    frame["labels"] = [tuple(int(x) for x in s.split(",")) for s in frame["classes"]]
    return frame[["text", "labels", "id"]]


def goemotions_frame(split: str = "dev") -> pd.DataFrame:
    """GoEmotions ("simplified") as a DataFrame: ``text``, ``labels`` (tuple of label ids), ``id``.

    Rows are in file order, which the paper's sampling depends on. Label ids index
    ``EMOTIONS + ("neutral",)``.
    """
    return _read_goemotions_tsv(_check_split(split)).copy()


def load_goemotions(split: str = "dev", source: str | None = None):
    """GoEmotions as a :class:`datasets.Dataset` with the hub's "simplified" schema.

    Args:
        split: ``"train"``, ``"dev"`` or ``"test"`` (``dev`` is the hub's ``validation``).
        source: ``None`` for the shipped files, or a hub id such as
            ``"google-research-datasets/go_emotions"`` for online users.

    Returns:
        A ``datasets.Dataset`` with columns ``text``, ``labels`` (sequence of ``ClassLabel``), ``id``.
    """
    import datasets

    _check_split(split)
    if source is not None:
        return datasets.load_dataset(source, "simplified", split=_HUB_SPLITS[split])
    frame = _read_goemotions_tsv(split)
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "labels": datasets.Sequence(datasets.ClassLabel(names=list(GOEMOTIONS_LABELS))),
            "id": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(
        {"text": frame["text"].tolist(), "labels": [list(x) for x in frame["labels"]], "id": frame["id"].tolist()},
        features=features,
    )


def emotion_indicator(split: str, emotion: str) -> np.ndarray:
    """Boolean vector over the split's rows: does the row carry ``emotion``? (the original 0/1 column)"""
    (emotion,) = check_emotions([emotion])
    label = GOEMOTIONS_LABELS.index(emotion)
    return np.array([label in labels for labels in _read_goemotions_tsv(_check_split(split))["labels"]])


def split_summary() -> pd.DataFrame:
    """Per GoEmotions split: comments, share with more than one label, share ``neutral`` only, mean words.

    Words are whitespace-separated tokens of the comment text.

    Example:
        >>> summary = split_summary()
        >>> list(summary.index), int(summary.loc["dev", "comments"])
        (['train', 'dev', 'test'], 5426)
    """
    neutral = (GOEMOTIONS_LABELS.index(NEUTRAL),)
    rows = {}
    for split in SPLITS:
        frame = _read_goemotions_tsv(split)
        rows[split] = {
            "comments": len(frame),
            "with more than one label": (frame["labels"].map(len) > 1).mean(),
            "neutral only": (frame["labels"] == neutral).mean(),
            "mean words": frame["text"].str.split().map(len).mean(),
        }
    return pd.DataFrame(rows).T


def label_counts() -> pd.DataFrame:
    """Comments carrying each emotion label: 27 emotions (alphabetical) x the splits.

    Example:
        >>> label_counts().loc["grief", "dev"]
        np.int64(13)
    """
    return pd.DataFrame({split: [int(emotion_indicator(split, e).sum()) for e in EMOTIONS] for split in SPLITS},
                        index=list(EMOTIONS))


def paper_task(emotion: str, seed: int, split: str = "train") -> pd.DataFrame:
    """The paper's binary task for ``emotion`` exactly as ``RandomSequenceClassificationDataset``.

    Positives (rows labelled ``emotion``) in file order, followed by as many rows drawn uniformly
    *with replacement from the whole split* after ``np.random.seed(seed)``; every row keeps its true
    label, so some "negatives" are positives. Equivalent to the legacy global seed without touching it.

    Returns:
        DataFrame with ``text``, ``label`` (0/1) and ``row`` (index into the split's file).
    """
    frame = _read_goemotions_tsv(_check_split(split))
    is_pos = emotion_indicator(split, emotion)
    positives = np.flatnonzero(is_pos)
    negatives = np.random.RandomState(seed).choice(len(frame), len(positives))
    rows = np.concatenate([positives, negatives])
    return pd.DataFrame(
        {"text": frame["text"].to_numpy()[rows], "label": is_pos[rows].astype(np.int64), "row": rows}
    )


def subsample_task(task: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """A seeded, label-stratified subsample of ``size`` rows of a task (all rows if ``size`` is None or larger).

    Row order of the kept rows is preserved, so the result is a sub-sequence of the paper task.
    """
    if size is None or size >= len(task):
        return task.reset_index(drop=True)
    if size < 2:
        raise ValueError(f"subsample size must be at least 2, got {size}")
    rng = np.random.default_rng(seed)
    keep = []
    labels = task["label"].to_numpy()
    n_pos = int(round(size * labels.mean()))
    n_pos = min(max(n_pos, 1), int(labels.sum()), size - 1)
    for value, n in ((1, n_pos), (0, size - n_pos)):
        idx = np.flatnonzero(labels == value)
        keep.append(rng.choice(idx, size=min(n, len(idx)), replace=False))
    return task.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def task_sizes(split: str = "train") -> pd.Series:
    """Size (2 x positives) of the paper's task per emotion for a split, alphabetical order."""
    return pd.Series(
        {e: 2 * int(emotion_indicator(split, e).sum()) for e in EMOTIONS}, name=f"{split}_task_size"
    )


def task_table(seed: int = 1, split: str = "dev") -> pd.DataFrame:
    """The paper's task per emotion (rows in ``PAPER_ORDER``): its size in every split, and for one
    seed and split the positive rate and the number of duplicate rows (a row drawn more than once).

    Columns: ``train, dev, test`` (2 x positives), ``"<split> positive rate (seed <seed>)"`` and
    ``"<split> duplicate rows (seed <seed>)"``.

    Example:
        >>> table = task_table()
        >>> int(table.loc["grief", "dev"]), round(float(table.loc["grief", "dev positive rate (seed 1)"]), 3)
        (26, 0.5)
    """
    _check_split(split)
    table = pd.DataFrame({s: task_sizes(s) for s in SPLITS}).loc[list(PAPER_ORDER)]
    tasks = {e: paper_task(e, seed=seed, split=split) for e in PAPER_ORDER}
    table[f"{split} positive rate (seed {seed})"] = [tasks[e]["label"].mean() for e in PAPER_ORDER]
    table[f"{split} duplicate rows (seed {seed})"] = [tasks[e]["row"].duplicated().sum() for e in PAPER_ORDER]
    return table


# ------------------------------------------------------------------------------------- Emo_LLM word sets

_ADJECTIVE_FILES = {
    "valence": "happy_sad_adjectives.json",
    "arousal": "low_high_arousal_adjectives.json",
    "heavy_light": "heavy_light_adjectives.json",
}

# The lists of commit e12b48d used for Emo_LLM's headline runs: insertions into the HEAD lists
# at 0-based positions of the final list (method notes, section 1.1).
_E12B48D_INSERTIONS = {
    "valence_bad": [
        (7, "gloomy"), (8, "dismal"), (19, "doleful"), (22, "wounded"), (30, "weighed down"),
        (32, "besieged"), (51, "let down"), (61, "vulnerable"), (86, "guarded"), (99, "startled"),
    ],
    "high_arousal_adjectives": [(17, "feverish"), (31, "amped"), (55, "indignant")],
}  # fmt: skip


def load_adjectives(kind: str = "valence", version: str = "head") -> dict[str, list[str]]:
    """Emo_LLM adjective lists, key order preserved (it fixes the labels).

    Args:
        kind: ``"valence"``, ``"arousal"`` or ``"heavy_light"``.
        version: ``"head"`` (the shipped files) or ``"e12b48d"`` (the lists of the headline runs:
            190 valence entries, 101 arousal entries).

    Example:
        >>> {k: len(v) for k, v in load_adjectives("valence", "e12b48d").items()}
        {'valence_bad': 100, 'valence_good': 90}
    """
    if kind not in _ADJECTIVE_FILES:
        raise ValueError(f"unknown adjective set {kind!r}; valid choices: {', '.join(_ADJECTIVE_FILES)}")
    if version not in ("head", "e12b48d"):
        raise ValueError(f"unknown adjective version {version!r}; valid choices: head, e12b48d")
    lists = json.loads(data_path("emo_llm", _ADJECTIVE_FILES[kind]).read_text())
    if version == "e12b48d":
        if kind == "heavy_light":
            raise ValueError("the e12b48d version exists for 'valence' and 'arousal' only")
        if kind == "arousal":
            lists["low_arousal_adjectives"] = lists["low_arousal_adjectives"][:44]
        for key, inserts in _E12B48D_INSERTIONS.items():
            if key in lists:
                for position, word in inserts:
                    lists[key].insert(position, word)
    return lists


_TEMPLATE_VERSIONS = ("03292024", "03302024", "0330b2024")


def load_templates(version: str = "0330b2024") -> list[dict]:
    """Emo_LLM prompt templates (``prompt_template`` with one ``{}``, ``note``, ``negation``)."""
    valid = _TEMPLATE_VERSIONS
    if version not in valid:
        raise ValueError(f"unknown template set {version!r}; valid choices: {', '.join(valid)}")
    return json.loads(data_path("emo_llm", f"prompt_templates_{version}.json").read_text())


def word_set_summary() -> pd.DataFrame:
    """The Emo_LLM valence and arousal word sets of both versions: entries per list, in all, and unique.

    Returns:
        One row per (``set``, ``version``): ``set, version``, one column per list (NaN where a set
        lacks it), ``entries`` (all lists) and ``unique`` (distinct words over the lists).

    Example:
        >>> word_set_summary().set_index(["set", "version"]).loc[("valence", "e12b48d"), "entries"]
        np.int64(190)
    """
    rows = []
    for kind in ("valence", "arousal"):
        for version in ("head", "e12b48d"):
            lists = load_adjectives(kind, version)
            rows.append({"set": kind, "version": version, **{k: len(v) for k, v in lists.items()},
                         "entries": sum(map(len, lists.values())),
                         "unique": len(set().union(*map(set, lists.values())))})
    return pd.DataFrame(rows)


def template_counts() -> dict[str, int]:
    """Number of Emo_LLM prompt templates in each template file (:func:`load_templates` version -> count).

    Example:
        >>> template_counts()
        {'03292024': 14, '03302024': 30, '0330b2024': 254}
    """
    return {version: len(load_templates(version)) for version in _TEMPLATE_VERSIONS}


def paper_numbers() -> pd.DataFrame:
    """The original's published or stated numbers that the book sets beside its own (``data/paper_numbers.csv``).

    Every row names its source: a section of the method notes of Li et al. (2023) or a released file. Result
    values the method notes leave out (searchlight counts, rho per k) are not in the table.

    Returns:
        Indexed by ``key``; columns ``quantity``, ``paper`` (float), ``source``, ``chapter``.

    Example:
        >>> int(paper_numbers().loc["searchlight_tests", "paper"])
        516096
    """
    table = pd.read_csv(data_path("paper_numbers.csv"), dtype={"paper": float}).set_index("key")
    if table.index.duplicated().any():
        raise ValueError(f"duplicate keys in paper_numbers.csv: {sorted(table.index[table.index.duplicated()])}")
    return table


__all__ += ["paper_numbers"]
