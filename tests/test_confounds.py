"""confounds: model-free RDMs of the 27 emotions from the GoEmotions labels and texts, against slow references."""

from __future__ import annotations

import numpy as np
import pytest

from emolib.emotions import PAPER_ORDER
from emolib.paper import confounds


def test_cooccurrence_equals_a_loop_over_comments():
    x = confounds.label_matrix("dev")
    assert x.shape[1] == 27 and (x.sum(1) >= 1).all()
    rdms = confounds.cooccurrence_rdms("dev")
    n = len(x)
    a, b = PAPER_ORDER.index("joy"), PAPER_ORDER.index("love")
    both = sum(1 for row in x if row[a] and row[b])
    na, nb = x[:, a].sum(), x[:, b].sum()
    from emolib.emotions import pair_indices

    i, j = pair_indices(27)
    row = int(np.flatnonzero(((i == a) & (j == b)) | ((i == b) & (j == a)))[0])
    assert both > 0 and rdms["-PMI"][row] == pytest.approx(-np.log(both * n / (na * nb)))
    assert rdms["1 - Jaccard"][row] == pytest.approx(1 - both / (na + nb - both))


def test_share_of_multi_label_comments():
    x = confounds.label_matrix("dev")
    assert confounds.multi_label_share("dev") == pytest.approx(float((x.sum(1) >= 2).mean()))
    assert 0.05 < confounds.multi_label_share("dev") < 0.5


def test_lexical_and_embedding_rdms_are_distances_of_every_pair():
    lexical = confounds.lexical_rdm("dev", max_per_emotion=30)
    assert len(lexical) == 351 and (lexical >= -1e-12).all() and (lexical <= 1 + 1e-12).all()
    from emolib.model import tiny_backbone

    embedding = confounds.embedding_rdm(tiny_backbone("llama"), "dev", max_per_emotion=10)
    assert len(embedding) == 351 and embedding.std() > 0


def test_the_label_matrix_matches_the_raw_file_and_never_shared_pairs_tie_at_the_far_end():
    import csv

    from emolib.data import data_path

    with open(data_path("goemotions", "dev.tsv"), newline="") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t")]
    labelled = [sorted({int(v) for v in r[1].split(",")} - {27}) for r in rows]
    labelled = [ls for ls in labelled if ls]
    x = confounds.label_matrix("dev")
    assert len(x) == len(labelled)
    from emolib.emotions import EMOTIONS

    joy = PAPER_ORDER.index("joy")
    assert x[:, joy].sum() == sum(EMOTIONS.index("joy") in ls for ls in labelled)
    rdms = confounds.cooccurrence_rdms("dev")
    never = rdms["1 - Jaccard"] == 1.0
    assert never.any() and (rdms.loc[never, "-PMI"] == rdms["-PMI"].max()).all()
