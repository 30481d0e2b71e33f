"""Loaders for the data released with Li et al. (thunlp/Model_Emotion), shipped in ``data/model_emotion``.

Human raw ratings come back tidy with one boolean column per inclusion criterion of the method
notes and an ``included`` column; the derived tables and released RoBERTa results come back
labelled by emotion (alphabetical or the paper's order, as stated per function).

Example:
    >>> from emolib import released
    >>> ratings = released.affective_ratings()
    >>> ratings.query("included")["subject"].nunique()
    30
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from emolib.data import data_path
from emolib.emotions import (
    ATTRIBUTES,
    EMOTIONS,
    PAPER_ORDER,
    PAPER_SEEDS,
    check_emotions,
    new_attribute_name,
    order_index,
)

__all__ = [
    "APPRAISAL_ITEMS",
    "affective_ratings",
    "face_ratings",
    "appraisal_ratings",
    "appraisal_per_emotion",
    "appraisal_event_na",
    "appraisal_not_applicable_share",
    "similarity_ratings",
    "inclusion_summary",
    "attribute_distances",
    "attribute_scores",
    "similarity_distances",
    "reorder_files",
    "emotion_agreements",
    "ReleasedActivations",
    "activations",
    "r_doubles",
    "prompt_accuracy",
    "masking_accuracy",
    "masking_frames",
    "human_rdms",
    "OUTLIER_PROMPTS",
]

_ME = "model_emotion"
_RAW = (_ME, "raw_data", "emotional_featuers")  # sic: the original folder name

#: The 38 appraisal items: questionnaire column number -> short name (method notes, section 7.3).
APPRAISAL_ITEMS: dict[int, str] = {
    4: "expectedness", 5: "pleasantness", 6: "goal consistency", 7: "fairness",
    8: "caused by agent", 9: "intentional action", 10: "caused by self",
    11: "involved close others", 12: "control", 13: "altering", 14: "morality",
    15: "self esteem", 16: "suddenness", 17: "familiarity", 18: "future", 19: "distant past",
    20: "already occurred", 21: "certainty", 22: "repetition", 23: "coping",
    24: "mental states", 25: "others knowledge", 26: "bodily disease", 27: "other people",
    28: "self relevance", 29: "freedom", 30: "pressure", 31: "consequences", 32: "danger",
    33: "self involvement", 34: "remembering", 35: "self consistency",
    36: "relationship influence", 37: "agent vs. situation", 38: "attention",
    39: "psychological change", 40: "safety", 41: "knowledge change",
}  # fmt: skip

_FACE_ITEMS = {"Happy": "happy-face", "Anger": "anger-face", "Sad": "sad-face",
               "Fear": "fear-face", "Surprise": "surprise-face", "Disgust": "disgust-face"}  # fmt: skip


def _qualtrics_base_flags(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "finished": raw["Finished"].astype(str).str.lower() == "true",
            "english": raw["UserLanguage"] == "EN",
            "consent": raw["Consent"] == "I agree",
        }
    )


def _tidy_item_ratings(raw: pd.DataFrame, flags: pd.DataFrame, subject_col: str, items: dict[str, str]) -> pd.DataFrame:
    """Wide Qualtrics ``{e}_{Item}_1`` columns -> long (subject, emotion, attribute, rating, flags...)."""
    rows = []
    pattern = re.compile(r"^(\d+)_(\w+?)\s*_1$")
    for col in raw.columns:
        match = pattern.match(col)
        if not match or match.group(2) not in items:
            continue
        number = int(match.group(1))
        if number > len(EMOTIONS):
            continue  # item 28 is the attention check
        rows.append(
            pd.DataFrame(
                {
                    "subject": raw[subject_col].str.strip(),
                    "emotion": EMOTIONS[number - 1],
                    "attribute": items[match.group(2)],
                    "rating": pd.to_numeric(raw[col]),
                }
            ).join(flags)
        )
    long = pd.concat(rows, ignore_index=True)
    long["attribute"] = pd.Categorical(long["attribute"], categories=list(dict.fromkeys(items.values())))
    long["emotion"] = pd.Categorical(long["emotion"], categories=EMOTIONS)
    return long.sort_values(["subject", "emotion", "attribute"], kind="stable").reset_index(drop=True)


@lru_cache(maxsize=1)
def affective_ratings() -> pd.DataFrame:
    """Arousal and valence ratings (1-9), long format, with inclusion flags.

    Inclusion (method notes 7.1): finished, English, consent, and the attention check
    (item 28) answered 9 for both scales. Columns: ``subject, emotion, attribute, rating,
    finished, english, consent, attention_check, included``.
    """
    raw = pd.read_csv(data_path(*_RAW, "affective_features", "rawdata.csv"))
    flags = _qualtrics_base_flags(raw)
    flags["attention_check"] = (raw["28_Arousal_1"] == 9) & (raw["28_Valence_1"] == 9)
    flags["included"] = flags.all(axis=1)
    return _tidy_item_ratings(raw, flags, "Prolific ID ", {"Arousal": "arousal", "Valence": "valence"})


@lru_cache(maxsize=1)
def face_ratings() -> pd.DataFrame:
    """Consistency (1-9) of each emotion with six prototypical facial expressions, long, with flags.

    Inclusion (method notes 7.2): as for :func:`affective_ratings`, with all six item-28 checks = 9.
    """
    raw = pd.read_csv(data_path(*_RAW, "physical_features", "rawdata.csv"))
    flags = _qualtrics_base_flags(raw)
    checks = [c for c in raw.columns if c.startswith("28_")]
    flags["attention_check"] = (raw[checks] == 9).all(axis=1)
    flags["included"] = flags.all(axis=1)
    return _tidy_item_ratings(raw, flags, "Prolific ID ", _FACE_ITEMS)


@lru_cache(maxsize=1)
def appraisal_ratings() -> pd.DataFrame:
    """The 38 appraisal items (1-9, ``NaN`` = not applicable, raw -99), one row per respondent.

    Columns: ``subject, emotion``, the 38 item names of :data:`APPRAISAL_ITEMS`, then the flags
    ``finished, english, consent, attention_check, event_given, included``.

    ``included`` applies all five criteria of the method notes (7.3): finished, English,
    consent, both attention checks (item 42 = 4, item 43 = -99) and a specific event given
    (``Specific Event`` not "n/a", column ``event_given``). That keeps 299 respondents (11 per
    emotion, 12 for confusion and curiosity), the 299 approved rows of ``subjects.csv``; the
    appraisal component scores computed from exactly these 299 reproduce the released
    ``dist_emotional_PCs.csv`` to ~1e-14, while keeping the one anger respondent who wrote
    "n/a" (300) does not (``tests/test_human.py``).
    """
    raw = pd.read_csv(
        data_path(*_RAW, "appraisal_features", "rawdata.csv"), header=0, skiprows=[1, 2], keep_default_na=False
    )
    flags = _qualtrics_base_flags(raw)
    flags["finished"] = raw["Finished"].astype(str).str.lower() != "false"
    flags["attention_check"] = (pd.to_numeric(raw["42_Item_1"]) == 4) & (pd.to_numeric(raw["43_Item_1"]) == -99)
    flags["event_given"] = raw["Specific Event"] != "n/a"
    flags["included"] = flags[["finished", "english", "consent", "attention_check", "event_given"]].all(axis=1)
    items = pd.DataFrame(
        {name: pd.to_numeric(raw[f"{col}_Item_1"]).replace(-99, np.nan) for col, name in APPRAISAL_ITEMS.items()}
    )
    emotion = raw["EMOTION"].str.strip().str.lower()
    check_emotions(emotion.unique())
    frame = pd.concat([pd.DataFrame({"subject": raw["PROLIFIC_PID"].str.strip(), "emotion": emotion}), items, flags], axis=1)
    frame["emotion"] = pd.Categorical(frame["emotion"], categories=EMOTIONS)
    return frame


_APPRAISAL_CHECKS = ["finished", "english", "consent", "attention_check"]


def appraisal_per_emotion() -> pd.Series:
    """Included appraisal respondents per emotion (``value_counts`` order: most respondents first).

    Example:
        >>> counts = appraisal_per_emotion()
        >>> int(counts.sum()), int(counts.min()), int(counts.max())
        (299, 11, 12)
    """
    ratings = appraisal_ratings()
    return ratings.loc[ratings["included"], "emotion"].value_counts()


def appraisal_event_na() -> pd.DataFrame:
    """Appraisal respondents who passed every other check but gave "n/a" as the specific event.

    These rows (of :func:`appraisal_ratings`) are what the ``event_given`` criterion alone excludes.

    Example:
        >>> appraisal_event_na()[["emotion", "event_given", "included"]].astype(str).values.tolist()
        [['anger', 'False', 'False']]
    """
    ratings = appraisal_ratings()
    checks = ratings[_APPRAISAL_CHECKS].all(axis=1)
    return ratings[checks & ~ratings["event_given"]]


def appraisal_not_applicable_share() -> float:
    """Share of the item cells of the included appraisal respondents answered "not applicable" (-99).

    Example:
        >>> round(appraisal_not_applicable_share(), 4)
        0.0486
    """
    ratings = appraisal_ratings()
    return float(ratings.loc[ratings["included"], list(APPRAISAL_ITEMS.values())].isna().to_numpy().mean())


@lru_cache(maxsize=1)
def _similarity_sheet() -> pd.DataFrame:
    return pd.read_excel(data_path(_ME, "raw_data", "subjective_comparison", "data.xlsx"))


def similarity_ratings() -> pd.DataFrame:
    """Pairwise similarity-judgment distances (10 - rating) of the 61 approved subjects.

    Returns:
        DataFrame ``[61 subjects, 378 pairs]`` (NaN = missing). Columns are a MultiIndex
        (item_1, item_2) over the 28 GoEmotions categories in ``nchoosek`` order, which equals
        the paper's lower-triangle pair order with ``neutral`` as the 28th item.
    """
    sheet = _similarity_sheet()
    raw = sheet.filter(regex=r"^raw_").T
    raw.index = [f"subject_{k + 1}" for k in range(len(raw))]
    raw.columns = pd.MultiIndex.from_arrays([sheet["EmoPair_2"], sheet["EmoPair_1"]], names=["item_1", "item_2"])
    return raw.astype(float)


def inclusion_summary() -> pd.DataFrame:
    """Participants per human experiment: responses, kept by the inclusion criteria, and notes."""
    rows = []
    for name, frame in (("Affective (arousal, valence)", affective_ratings()), ("Facial expressions", face_ratings())):
        per_subject = frame.groupby("subject", observed=True)["included"].first()
        rows.append((name, len(per_subject), int(per_subject.sum())))
    appraisal = appraisal_ratings()
    rows.append(("Appraisal (38 items)", len(appraisal), int(appraisal["included"].sum())))
    folder = data_path(_ME, "raw_data", "subjective_comparison")
    n_files = len(list(folder.glob("*_PRaM_*.csv")))
    rows.append(("Similarity judgment (378 pairs)", n_files, len(similarity_ratings())))
    return pd.DataFrame(rows, columns=["experiment", "responses", "included"])


# ----------------------------------------------------------------------------- the authors' derived files


def attribute_distances() -> pd.DataFrame:
    """The released 14 attribute RDMs (``dist_emotional_PCs.csv``): 351 pairs (paper order) x 14."""
    frame = pd.read_csv(data_path(_ME, "preprocessed", "emotional_features", "dist_emotional_PCs.csv"))
    return frame[list(ATTRIBUTES)]


def attribute_scores() -> pd.DataFrame:
    """The released min-max rescaled attribute scores, indexed by emotion (paper order)."""
    frame = pd.read_csv(data_path(_ME, "preprocessed", "emotional_features", "score_emotional_PCs.csv"))
    frame.index = pd.Index(PAPER_ORDER, name="emotion")
    return frame[list(ATTRIBUTES)]


def similarity_distances(individual: bool = False) -> pd.DataFrame:
    """The released similarity-judgment RDM: mean (351 x 1, ``distance``) or per subject (61 x 351)."""
    folder = (_ME, "preprocessed", "subjective_comparison")
    if individual:
        return pd.read_csv(data_path(*folder, "ind_dist_subjective_comparison.csv"))
    frame = pd.read_csv(data_path(*folder, "avg_dist_subjective_comparison.csv"))
    return frame.set_axis(["distance"], axis=1)


def reorder_files() -> dict[str, np.ndarray | list[str]]:
    """The paper's ordering files: ``reordered_emotions`` (names), ``reorder_emotions`` and
    ``reorder_distance`` (1-based index vectors)."""
    folder = (_ME, "preprocessed")
    read = lambda name: data_path(*folder, name).read_text().split()  # noqa: E731
    return {
        "reordered_emotions": read("reordered_emotions.csv"),
        "reorder_emotions": np.array([int(x) for x in ",".join(read("reorder_emotions.csv")).split(",") if x]),
        "reorder_distance": np.array([int(x) for x in read("reorder_distance.csv")]),
    }


def emotion_agreements() -> pd.DataFrame:
    """GoEmotions annotation agreement per emotion (``count, interrater_r, kappa``) and the
    original's mean prompt accuracy (``accuracy``), indexed by emotion."""
    frame = pd.read_csv(data_path(_ME, "emotion_agreements.csv")).dropna(how="all").dropna(axis=1, how="all")
    frame.columns = ["emotion", "count", "interrater_r", "kappa", "accuracy"]
    return frame.set_index("emotion").loc[list(EMOTIONS)]


# ------------------------------------------------------------------------------ released RoBERTa results


@dataclass(frozen=True)
class ReleasedActivations:
    """Released post-GELU FFN activations of prompt-tuned roberta-base at the ``<mask>`` read-out.

    Attributes:
        values: ``[emotions, seeds, 36864]`` (layer-major units: ``layer * 3072 + unit``).
        emotions: the emotion of each row, in the order requested.
        seeds: the 12 seeds.
    """

    values: np.ndarray
    emotions: tuple[str, ...]
    seeds: tuple[int, ...]
    n_layers: int = 12

    @property
    def units_per_layer(self) -> int:
        return self.values.shape[-1] // self.n_layers


def r_doubles(values: np.ndarray) -> np.ndarray:
    """float32 -> the float64 parsed from each value's shortest decimal text (what R read from the CSVs).

    Example:
        >>> float(r_doubles(np.float32([0.1]))[0])
        0.1
    """
    return np.asarray(np.asarray(values, dtype=np.float32).astype(str), dtype=np.float64)


def activations(order: tuple[str, ...] = PAPER_ORDER, as_r_doubles: bool = False) -> ReleasedActivations:
    """Load ``roberta_released/activations.npz`` (the 12 seeds; the ``all`` sum run is dropped).

    Args:
        order: emotion order of the result (default the paper's reordered order).
        as_r_doubles: return float64 values parsed from the shortest decimal text of each float32,
            i.e. exactly the doubles R read from the original CSVs (slower); else float32.
    """
    with np.load(data_path(_ME, "roberta_released", "activations.npz")) as npz:
        values, names, runs = npz["activations"], [str(e) for e in npz["emotions"]], [str(r) for r in npz["runs"]]
    seed_runs = [runs.index(str(s)) for s in PAPER_SEEDS]
    values = values[order_index(names, check_emotions(order))][:, seed_runs]  # [27, 12, 36864]
    if as_r_doubles:
        values = r_doubles(values)
    return ReleasedActivations(values=values, emotions=tuple(order), seeds=PAPER_SEEDS)


def prompt_accuracy() -> pd.DataFrame:
    """Released dev accuracy of the 324 prompts: ``emotion, seed, accuracy``."""
    frame = pd.read_csv(data_path(_ME, "roberta_released", "accuracy.csv"))
    return frame.rename(columns={"sentiment": "emotion", "random_seed": "seed"})[["emotion", "seed", "accuracy"]]


_MASK_KEY = re.compile(r"^(?P<attr>.+?)_(?P<kind>top|random)(?P<k>\d+)$")


def masking_accuracy(kind: str = "attribute_specific") -> pd.DataFrame:
    """Released masked dev accuracies, tidy.

    Args:
        kind: ``"attribute_specific"`` (top-k units of each attribute) or ``"random"``
            (k random units; the attribute label only numbers the draw).

    Returns:
        DataFrame ``emotion, seed, attribute, k, accuracy, best, position``: ``attribute`` in the
        standard names, ``best`` the prompt's unmasked accuracy, ``position`` the key's order in
        its JSON file (the original R reader maps values by position).
    """
    valid = ("attribute_specific", "random")
    if kind not in valid:
        raise ValueError(f"unknown masking kind {kind!r}; valid choices: {', '.join(valid)}")
    folder = data_path(_ME, "roberta_released", "masking", kind)
    rows = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"corrupt masking file {path}: {err}") from err
        emotion, seed, best = record["sentiment"], int(record["seed"]), float(record["best"])
        position = 0
        for key, value in record.items():
            match = _MASK_KEY.match(key)
            if match is None:
                continue
            rows.append((emotion, seed, new_attribute_name(match["attr"]), int(match["k"]), float(value), best, position))
            position += 1
    frame = pd.DataFrame(rows, columns=["emotion", "seed", "attribute", "k", "accuracy", "best", "position"])
    frame["attribute"] = pd.Categorical(frame["attribute"], categories=ATTRIBUTES)
    return frame.sort_values(["emotion", "seed", "attribute", "k"]).reset_index(drop=True)


def masking_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The released masking results as ``(masked, unmasked)`` in :mod:`emolib.paper.manipulation`'s format.

    Random masks keep their attribute label (it only numbers the draw: ``draw`` is the label's
    position in ``ATTRIBUTES``); the unmasked accuracy is the released prompt accuracy.

    Example:
        >>> masked, unmasked = masking_frames()
        >>> sorted(masked["condition"].unique()), len(unmasked)
        (['random', 'selective'], 324)
    """
    parts = []
    for kind, condition in (("attribute_specific", "selective"), ("random", "random")):
        frame = masking_accuracy(kind)
        frame = frame.assign(condition=condition, attribute=frame["attribute"].astype(str))
        frame["draw"] = frame["attribute"].map(ATTRIBUTES.index) if condition == "random" else 0
        parts.append(frame[["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"]])
    return pd.concat(parts, ignore_index=True), prompt_accuracy()


#: Released prompts whose activation statistics are extreme (method notes 6 and 12.18).
OUTLIER_PROMPTS: tuple[tuple[str, int], ...] = (("relief", 13), ("disgust", 42), ("fear", 42))


def human_rdms() -> pd.DataFrame:
    """The released human RDMs side by side: ``similarity`` (the mean similarity-judgment RDM) and the
    14 attribute RDMs, ``[351 pairs, 15]`` in the paper's pair order."""
    return pd.concat([similarity_distances().rename(columns={"distance": "similarity"}), attribute_distances()],
                     axis=1)
