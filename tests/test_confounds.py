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
    assert rdms["-PMI"][row] == pytest.approx(-np.log((both + 1) * n / ((na + 1) * (nb + 1))))
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
