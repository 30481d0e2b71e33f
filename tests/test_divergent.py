"""Divergent templates: the character's state against the adjective's own sentiment."""

import numpy as np
import pandas as pd

from emolib.emollm import divergent
from test_families import _synthetic


def test_divergent_frame_labels_the_character_state():
    frame = divergent.divergent_frame()
    opposite = frame[frame["kind"] == "opposite"]
    assert (opposite["y"] == 1 - opposite["in_first"].astype(int)).all()  # the character feels the reverse
    matched = frame[frame["kind"] == "matched"]
    assert (matched["y"] == matched["in_first"].astype(int)).all()
    words = {"not", "no", "nothing", "never", "didn't", "doesn't", "don't", "wasn't"}
    assert not any(words & set(t.lower().replace(",", "").split()) for t in frame["template"].unique())


def test_a_probe_that_follows_the_adjective_fails_the_opposite_templates():
    train = _synthetic(n_adj=60, compose=True)
    rows = [{"template_id": 1000 + negation, "template": kind, "negation": negation, "kind": kind,
             "in_first": bool(a % 2), "lemma_family": a, "adjective": f"w{a}"}
            for kind, negation in (("opposite", True), ("matched", False)) for a in range(20)]
    frame = pd.DataFrame(rows)
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=0.1, size=(len(frame), 3, 6)).astype(np.float32)
    X[:, 1, 0] += frame["in_first"].to_numpy() * 2.0 - 1  # the adjective's valence only, never the character's
    table = divergent.divergent_accuracy(train, {"frame": frame, "residual": X}, layer=1, n_boot=200)
    kinds = table[table["template"] == "all"].set_index("kind")
    assert kinds.loc["matched", "accuracy"] > 0.9 and kinds.loc["opposite", "accuracy"] < 0.1
    assert kinds.loc["opposite", "follows_adjective"] > 0.9
