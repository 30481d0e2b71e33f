"""Divergent templates: the character's state against the adjective's own valence and a contrast-word cue."""

import numpy as np
import pandas as pd
import pytest

from emolib.emollm import divergent
from test_families import _synthetic


def test_divergent_frame_crosses_the_state_with_the_contrast_word():
    frame = divergent.divergent_frame()
    opposite = frame[frame["kind"] == "opposite"]
    assert (opposite["y"] == 1 - opposite["in_first"].astype(int)).all()  # the character feels the reverse
    matched = frame[frame["kind"] == "matched"]
    assert (matched["y"] == matched["in_first"].astype(int)).all()
    words = {"not", "no", "nothing", "never", "didn't", "doesn't", "don't", "wasn't"}
    assert not any(words & set(t.lower().replace(",", "").split()) for t in frame["template"].unique())
    cells = frame.drop_duplicates("template").groupby(["kind", "cue"]).size()
    assert (cells == len(divergent.DIVERGENT_TEMPLATES)).all() and len(cells) == 4  # 2 x 2 in every frame
    contrast = frame.drop_duplicates("template")
    has_cue = contrast["template"].str.contains(r"\b(?:but|except)\b")
    assert (has_cue == (contrast["cue"] == "contrast")).all()


def _divergent(pattern: str) -> dict:
    """Divergent prompts whose features follow ``pattern``: "adjective" (its own valence) or "cue" (flipped after a
    contrast word)."""
    rows = [{"template_id": 1000 + 2 * (kind == "opposite") + (cue == "contrast"), "template": f"{kind}/{cue}",
             "negation": kind == "opposite", "kind": kind, "cue": cue, "in_first": bool(a % 2), "lemma_family": a,
             "adjective": f"w{a}"}
            for kind in ("opposite", "matched") for cue in ("contrast", "plain") for a in range(20)]
    frame = pd.DataFrame(rows)
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=0.1, size=(len(frame), 3, 6)).astype(np.float32)
    code = frame["in_first"].to_numpy() != ((frame["cue"] == "contrast").to_numpy() if pattern == "cue" else False)
    X[:, 1, 0] += code * 2.0 - 1
    return {"frame": frame, "residual": X}


@pytest.mark.parametrize(("pattern", "reading"), [("adjective", "adjective"), ("cue", "contrast cue")])
def test_the_readings_name_what_the_probe_follows(pattern, reading):
    train = _synthetic(n_adj=60, compose=True)
    table = divergent.divergent_accuracy(train, _divergent(pattern), layer=1, n_boot=200)
    found = divergent.readings(table)
    assert found[reading] > 0.95 and found["character"] < 0.6
    assert max(found, key=found.get) == reading
