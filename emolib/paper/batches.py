"""Fixed-shape micro-batches: what a row computes depends on that row alone, never on its batch-mates.

A matrix product or an attention kernel may round a row differently when the batch around it has
another number of rows or another padded width (on this project's CPU, bf16 logits of one comment
moved by one bf16 step, 0.125, when other prompts' comments joined its micro-batch; fp32 by about
1e-5). Adam training amplifies such last-bit differences: a prompt trained inside a grid of 81 came out
different from the same prompt trained alone. So every forward pass of the prompt bank, its evaluation,
the masked evaluation and the activation read-out has a shape fixed by each row's own length:

- a row's **width** is its own token count rounded up to a step of :func:`bucket_width`;
- a micro-batch holds rows of one width only and always exactly ``rows`` rows; the last one of a width
  is filled up with copies of its first row (**filler rows**, whose outputs are discarded).

Rows of a width are ordered by length and then by their position in the input, so the plan is a
function of the rows alone; which rows share a micro-batch does not change what any row computes.

Example:
    >>> bucket_width(5), bucket_width(17), bucket_width(65), bucket_width(300)
    (8, 24, 96, 384)
    >>> [(b.width, b.members, b.n_real) for b in plan_micro_batches([3, 12, 5, 9], rows=2)]
    [(8, [0, 2], 2), (16, [3, 1], 2)]
    >>> [(b.width, b.members) for b in plan_micro_batches([3, 12, 5], rows=2)]
    [(8, [0, 2]), (16, [1, 1])]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["bucket_width", "MicroBatch", "plan_micro_batches"]


def bucket_width(n_tokens: int) -> int:
    """The padded width of a row of ``n_tokens``: a multiple of 8 up to 64, of 32 up to 256, then of 128.

    Raises:
        ValueError: for a row without tokens.
    """
    if n_tokens < 1:
        raise ValueError(f"a row needs at least one token, got {n_tokens}")
    step = 8 if n_tokens <= 64 else 32 if n_tokens <= 256 else 128
    return -(-n_tokens // step) * step


@dataclass(frozen=True)
class MicroBatch:
    """One forward pass: ``members`` (positions into the planned rows; fillers repeat the first) of one shape.

    ``key``: the shape class (:func:`bucket_width` of the rows' length, plus any extra key); ``n_real``:
    how many leading members are real rows (the rest are fillers whose outputs are dropped).
    """

    key: tuple
    members: list[int]
    n_real: int

    @property
    def width(self) -> int:
        return self.key[0]

    @property
    def real(self) -> list[int]:
        return self.members[: self.n_real]


def plan_micro_batches(lengths: Sequence[int], rows: int, extra: Sequence[Hashable] | None = None,
                       fill: bool = True) -> list[MicroBatch]:
    """Fixed-shape micro-batches over rows of the given token ``lengths`` (see the module docstring).

    Args:
        lengths: token count of each row.
        rows: rows per micro-batch (every micro-batch has exactly this many with ``fill``).
        extra: per row, a further part of its shape class (e.g. which code path scores it).
        fill: pad each width's last micro-batch with filler rows to ``rows`` (off: fewer rows, which is
            only batch-invariant where the kernels do not depend on the number of rows).

    Returns:
        Micro-batches ordered by shape class, rows ordered by length then position.
    """
    if rows < 1:
        raise ValueError(f"rows per micro-batch must be positive, got {rows}")
    extra = list(extra) if extra is not None else [()] * len(lengths)
    if len(extra) != len(lengths):
        raise ValueError(f"{len(lengths)} lengths but {len(extra)} extra keys")
    groups: dict[tuple, list[int]] = {}
    for i, n in enumerate(lengths):
        key = (bucket_width(int(n)),) + (tuple(extra[i]) if isinstance(extra[i], tuple) else (extra[i],))
        groups.setdefault(key, []).append(i)
    out = []
    for key in sorted(groups, key=lambda key: (key[0], repr(key[1:]))):
        order = sorted(groups[key], key=lambda i: (lengths[i], i))
        for start in range(0, len(order), rows):
            members = order[start: start + rows]
            n_real = len(members)
            if fill:
                members = members + [members[0]] * (rows - n_real)
            out.append(MicroBatch(key, members, n_real))
    return out
