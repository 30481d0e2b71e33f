"""batches: fixed-shape micro-batches cover every row once, hold one width each, and are a function of the rows."""

from __future__ import annotations

import numpy as np
import pytest

from emolib.paper.batches import bucket_width, plan_micro_batches


def test_bucket_widths_are_steps_that_hold_the_row():
    for n in range(1, 600):
        w = bucket_width(n)
        assert w >= n and w - n < (8 if n <= 64 else 32 if n <= 256 else 128)
    with pytest.raises(ValueError, match="at least one token"):
        bucket_width(0)


def test_every_row_once_and_every_micro_batch_full_and_of_one_width():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, 203).tolist()
    extra = rng.integers(0, 2, 203).tolist()
    plan = plan_micro_batches(lengths, rows=16, extra=extra)
    real = [i for b in plan for i in b.real]
    assert sorted(real) == list(range(203))
    for b in plan:
        assert len(b.members) == 16 and set(b.members[b.n_real:]) <= {b.members[0]}
        assert {bucket_width(lengths[i]) for i in b.members} == {b.width}
        assert len({extra[i] for i in b.members}) == 1


def test_a_rows_micro_batch_shape_does_not_depend_on_the_other_rows():
    lengths = [5, 30, 12, 7]
    alone = plan_micro_batches([12], rows=4)[0]
    together = next(b for b in plan_micro_batches(lengths, rows=4) if 2 in b.real)
    assert (alone.width, len(alone.members)) == (together.width, len(together.members))


def test_bad_rows():
    with pytest.raises(ValueError, match="rows per micro-batch"):
        plan_micro_batches([3], rows=0)
    with pytest.raises(ValueError, match="extra keys"):
        plan_micro_batches([3, 4], rows=2, extra=[0])
