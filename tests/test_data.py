import shutil

import numpy as np
import pandas as pd
import pytest

from emolib import data
from emolib.emotions import EMOTIONS, PAPER_ORDER

# Positive counts per emotion in dev, paper order (method notes, section 4.3).
DEV_POSITIVES = [127, 129, 488, 358, 209, 397, 15, 96, 172, 252, 303, 153, 18, 248, 77, 97, 292, 195, 303, 152,
                 90, 163, 13, 143, 21, 35, 68]


def test_shipped_data_matches_its_checksums():
    assert data.verify_checksums() == []


def test_checksum_verification_detects_a_corrupt_and_a_missing_file(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(data.data_dir() / "emo_llm", root / "emo_llm")
    lines = [ln for ln in data.data_path("SHA256SUMS").read_text().splitlines() if ln.split()[1].startswith("emo_llm/")]
    (root / "SHA256SUMS").write_text("\n".join(lines + ["0" * 64 + "  emo_llm/nothing.json"]) + "\n")
    (root / "emo_llm" / "LICENSE").write_text("tampered")
    problems = data.verify_checksums(root)
    assert "checksum mismatch: emo_llm/LICENSE" in problems
    assert "missing: emo_llm/nothing.json" in problems


def test_data_dir_honours_environment_and_errors_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLIB_DATA", str(data.data_dir()))
    assert data.data_path("goemotions", "dev.tsv").is_file()
    with pytest.raises(FileNotFoundError, match="missing data file"):
        data.data_path("goemotions", "nope.tsv")


def test_goemotions_sizes_quote_handling_and_dataset_schema():
    sizes = {s: len(data.goemotions_frame(s)) for s in data.SPLITS}
    assert sizes == {"train": 43410, "dev": 5426, "test": 5427}
    dev = data.goemotions_frame("dev")
    assert not dev["text"].str.contains('""', regex=False).any()  # CSV quoting resolved
    ds = data.load_goemotions("dev")
    assert ds.column_names == ["text", "labels", "id"] and len(ds) == 5426
    assert ds.features["labels"].feature.names == list(EMOTIONS) + ["neutral"]
    assert ds[1]["labels"] == list(dev["labels"].iloc[1])


def test_bad_split_and_emotion_names_are_named():
    with pytest.raises(ValueError, match="unknown split 'validation'; valid choices: train, dev, test"):
        data.goemotions_frame("validation")
    with pytest.raises(ValueError, match="unknown emotion \\['happy'\\]"):
        data.paper_task("happy", 1, "dev")


def test_task_sizes_equal_the_papers_counts():
    sizes = data.task_sizes("dev").loc[list(PAPER_ORDER)]
    assert (sizes // 2).tolist() == DEV_POSITIVES
    assert data.task_sizes("train").sum() == 2 * 36884


def _original_sampling(emotion: str, seed: int, split: str) -> pd.DataFrame:
    """The original RandomSequenceClassificationDataset, written as it was (global legacy seed)."""
    frame = data.goemotions_frame(split)
    label = list(EMOTIONS).index(emotion)
    column = np.array([1 if label in labels else 0 for labels in frame["labels"]])
    np.random.seed(seed)
    pos = [i for i in range(len(frame)) if column[i] == 1]
    neg = np.random.choice(len(frame), len(pos))
    rows = list(pos) + list(neg)
    return pd.DataFrame({"text": frame["text"].to_numpy()[rows], "label": column[rows]})


@pytest.mark.parametrize("emotion,seed,split", [("grief", 1, "dev"), ("joy", 42, "dev"), ("pride", 100, "train")])
def test_paper_task_equals_the_original_sampling(emotion, seed, split):
    ours = data.paper_task(emotion, seed, split)
    ref = _original_sampling(emotion, seed, split)
    pd.testing.assert_frame_equal(ours[["text", "label"]], ref)


def test_paper_task_negatives_include_positives_and_duplicates_and_differ_by_seed():
    a, b = data.paper_task("admiration", 1, "dev"), data.paper_task("admiration", 3, "dev")
    n = len(a) // 2
    assert a["label"].iloc[:n].eq(1).all()
    assert a["label"].iloc[n:].sum() > 0  # "negatives" drawn from all rows keep their true label
    assert not a["row"].iloc[n:].equals(b["row"].iloc[n:])


def test_subsample_is_seeded_stratified_and_ordered():
    task = data.paper_task("admiration", 1, "train")
    sub = data.subsample_task(task, 64, seed=0)
    assert len(sub) == 64
    assert abs(sub["label"].mean() - task["label"].mean()) < 0.05
    assert sub.equals(data.subsample_task(task, 64, seed=0))
    assert not sub.equals(data.subsample_task(task, 64, seed=1))
    assert sub["row"].tolist() == [r for r in task["row"] if r in set(sub["row"])][: len(sub)] or sub.index.is_monotonic_increasing
    assert len(data.subsample_task(task, None, seed=0)) == len(task)
    with pytest.raises(ValueError, match="at least 2"):
        data.subsample_task(task, 1, seed=0)


def test_emo_llm_lists_rebuild_the_headline_versions():
    val = data.load_adjectives("valence", "e12b48d")
    assert list(val) == ["valence_bad", "valence_good"]
    assert sum(map(len, val.values())) == 190 and len(set(val["valence_bad"]) | set(val["valence_good"])) == 189
    assert val["valence_bad"][7:9] == ["gloomy", "dismal"] and val["valence_bad"][99] == "startled"
    aro = data.load_adjectives("arousal", "e12b48d")
    assert [len(v) for v in aro.values()] == [44, 57]
    assert aro["high_arousal_adjectives"][55] == "indignant"
    head = data.load_adjectives("valence")
    assert sum(map(len, head.values())) == 180
    assert [len(data.load_templates(v)) for v in ("03292024", "03302024", "0330b2024")] == [14, 30, 254]
    with pytest.raises(ValueError, match="valid choices: valence, arousal, heavy_light"):
        data.load_adjectives("dominance")


def _raw_rows(split: str) -> list[list[str]]:
    """The GoEmotions TSV read with the csv module (no pandas; CSV quoting resolved): text, label ids, id."""
    import csv

    with open(data.data_path("goemotions", f"{split}.tsv"), newline="") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_split_summary_and_label_counts_equal_a_plain_python_count():
    summary, counts = data.split_summary(), data.label_counts()
    assert list(summary.index) == list(data.SPLITS) and list(counts.columns) == list(data.SPLITS)
    assert list(counts.index) == list(EMOTIONS)
    neutral = str(len(EMOTIONS))  # label id 27
    for split in data.SPLITS:
        rows = _raw_rows(split)
        labels = [row[1].split(",") for row in rows]
        assert summary.loc[split, "comments"] == len(rows)
        multi = sum(len(l) > 1 for l in labels) / len(rows)
        assert summary.loc[split, "with more than one label"] == pytest.approx(multi)
        assert summary.loc[split, "neutral only"] == pytest.approx(sum(l == [neutral] for l in labels) / len(rows))
        assert summary.loc[split, "mean words"] == pytest.approx(sum(len(r[0].split()) for r in rows) / len(rows))
        for k, emotion in enumerate(EMOTIONS):
            assert counts.loc[emotion, split] == sum(str(k) in l for l in labels)
    assert (2 * counts).equals(pd.DataFrame({s: data.task_sizes(s) for s in data.SPLITS}))


def test_task_table_equals_the_tasks_one_by_one():
    table = data.task_table(seed=3, split="test")
    assert list(table.index) == list(PAPER_ORDER)
    assert list(table.columns) == ["train", "dev", "test", "test positive rate (seed 3)",
                                   "test duplicate rows (seed 3)"]
    for emotion in ("grief", "admiration", "joy"):
        task = data.paper_task(emotion, 3, "test")
        assert table.loc[emotion, "test"] == len(task) == data.task_sizes("test")[emotion]
        assert table.loc[emotion, "test positive rate (seed 3)"] == task["label"].mean()
        assert table.loc[emotion, "test duplicate rows (seed 3)"] == len(task) - task["row"].nunique()
    assert (table["test positive rate (seed 3)"] >= 0.5).all()  # negatives drawn from all rows include positives
    assert not table.equals(data.task_table(seed=1, split="test"))
    with pytest.raises(ValueError, match="unknown split"):
        data.task_table(split="validation")


def test_word_set_summary_and_template_counts():
    table = data.word_set_summary()
    assert table[["set", "version"]].values.tolist() == [["valence", "head"], ["valence", "e12b48d"],
                                                         ["arousal", "head"], ["arousal", "e12b48d"]]
    for _, row in table.iterrows():
        lists = data.load_adjectives(row["set"], row["version"])
        assert row["entries"] == sum(len(v) for v in lists.values())
        assert row["unique"] == len({w for v in lists.values() for w in v})
        assert all(row[name] == len(words) for name, words in lists.items())
    e12 = table.set_index(["set", "version"]).loc[("valence", "e12b48d")]
    assert (e12["entries"], e12["unique"]) == (190, 189) and np.isnan(e12["low_arousal_adjectives"])
    assert data.template_counts() == {"03292024": 14, "03302024": 30, "0330b2024": 254}
