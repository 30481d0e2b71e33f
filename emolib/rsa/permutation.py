"""Label-permutation (Mantel) null for the searchlight: exact Kendall tau-b against relabelled attribute RDMs.

The paper tests each unit's tau-b as if the 351 emotion pairs were independent; each emotion enters 26
pairs, so that test is anti-conservative (:func:`false_positive_rates`). :func:`permutation_searchlight`
permutes the 27 emotion labels of the attribute RDMs (one shared set, :func:`emotion_permutations`; the
unit RDMs stay fixed) and reports per test the one-sided permutation p, the max-statistic FWER p (per
attribute and over all attributes) and Benjamini-Hochberg q on the permutation p.

Exact and fast: a relabelling keeps the ties of every RDM, so the tau-b denominator of each (unit,
attribute) is fixed and only Kendall's S changes, and ``tau_pi >= tau_obs`` iff ``S_pi >= S_obs``
(integers). All S of a block of units against all permutations of all attributes are one matrix
product of pair-of-pair signs, ``[units, K] @ [K, permutations x attributes]``, K = 351 * 350 / 2 =
61,425: int8 -1/0/+1 in, int32 sums out (``torch._int_mm``; exact). Where int8 is not available the
product runs in fp32 (exact: integer sums below 2**24). bf16 is not used: on the CPU its product is
rounded to bf16 (8 significant bits), exact only for |S| <= 256. Units and permutations are chunked;
only the exceedance counts and the per-permutation maxima are kept.

Example:
    >>> import numpy as np
    >>> from emolib.rsa import unit_rdms
    >>> from emolib.rsa.permutation import permutation_searchlight
    >>> rdms = unit_rdms(np.random.default_rng(0).random((27, 2, 4)))  # [351 pairs, 4 units]
    >>> result = permutation_searchlight(rdms, rdms[:, :1], n_permutations=99, device="cpu")
    >>> result.perm_p.shape, float(result.perm_p[0, 0])               # unit 0 is the attribute itself
    ((4, 1), 0.01)
"""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import stats

from emolib.device import resolve_device
from emolib.emotions import pair_indices
from emolib.rsa.rankcorr import single_threaded_ops, sqrt_like_r, kendall_tau_b, tie_statistics
from emolib.stats import bh_q

__all__ = [
    "from_counts",
    "KERNELS", "PermutationResult", "emotion_permutations", "pair_permutation", "permutation_searchlight",
    "false_positive_rates",
]  # fmt: skip

logger = logging.getLogger(__name__)

KERNELS = ("auto", "int8", "fp32")
_PAD = 64  # K, units and columns are zero-padded to multiples of this (int8 GEMMs need multiples of 8)
_CPU_UNITS, _CUDA_UNITS = 2048, 8192  # default units per block
_CPU_BUDGET, _CUDA_BUDGET = 1.5 * 2**30, 16 * 2**30  # bytes for one permutation chunk (signs + outputs)
_FP32_EXACT = 2**24  # fp32 sums of -1/0/+1 are exact integers up to this many terms


@dataclass(frozen=True)
class PermutationResult:
    """Observed tau-b and label-permutation significance of every unit (rows) against every attribute.

    Attributes:
        tau: ``[U, A]`` observed tau-b (as :func:`emolib.rsa.rankcorr.kendall_tau_b`).
        perm_p: ``[U, A]`` one-sided (greater) permutation p, ``(1 + #{pi: tau_pi >= tau}) / (1 + P)``.
        fwer_p: ``[U, A]`` max-statistic FWER p per attribute (null: max over units of tau_pi).
        fwer_p_all: ``[U, A]`` max-statistic FWER p over all units and attributes.
        perm_fdr_q: ``[U, A]`` Benjamini-Hochberg q of ``perm_p`` over all tests.
        null_max: ``[P, A]`` per permutation and attribute, the largest tau_pi over units.
        n_exceed: ``[U, A]`` #{pi: S_pi >= S_obs} (merges runs with other seeds).
        null_count: ``[P]`` per permutation, the units past the paper's criterion (q = p N / rank(p) <
            ``count_alpha`` for any attribute, asymptotic one-sided p as R's ``cor.test``); ``obs_count`` the
            same count for the observed labels; ``count_p`` = ``(1 + #{null_count >= obs_count}) / (1 + P)``.
        n_permutations, seed: the permutations (:func:`emotion_permutations`).
        attributes: attribute names (the DataFrame's columns, else ``"0", "1", ...``).
    Constant RDMs give NaN.
    """

    tau: np.ndarray
    perm_p: np.ndarray
    fwer_p: np.ndarray
    fwer_p_all: np.ndarray
    perm_fdr_q: np.ndarray
    null_max: np.ndarray
    n_exceed: np.ndarray
    n_permutations: int
    seed: int | None
    attributes: tuple[str, ...] = ()
    null_count: np.ndarray | None = None
    obs_count: int | None = None
    count_alpha: float = 0.01

    @property
    def count_p(self) -> float:
        """Permutation p of the paper's unit count (NaN when the counts were not stored)."""
        if self.null_count is None or self.obs_count is None:
            return float("nan")
        return float((1 + np.sum(self.null_count >= self.obs_count)) / (1 + len(self.null_count)))

    @property
    def global_p(self) -> float:
        """Max-statistic p of the largest observed tau over all units and attributes (the global test)."""
        return float(np.nanmin(self.fwer_p_all)) if np.isfinite(self.fwer_p_all).any() else float("nan")

    def frame(self, name: str) -> pd.DataFrame:
        """One ``[U, A]`` field (``"tau"``, ``"perm_p"``, ...) as a DataFrame ``unit x attribute``."""
        fields = ("tau", "perm_p", "fwer_p", "fwer_p_all", "perm_fdr_q", "n_exceed")
        if name not in fields:
            raise ValueError(f"unknown field {name!r}; valid choices: {', '.join(fields)}")
        columns = pd.Index(self.attributes, name="attribute")
        return pd.DataFrame(getattr(self, name), columns=columns).rename_axis("unit")


def _check_count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _n_items(n_pairs: int) -> int:
    n = int(round((1 + math.sqrt(1 + 8 * n_pairs)) / 2))
    if n * (n - 1) // 2 != n_pairs or n < 3:
        raise ValueError(f"{n_pairs} rows is not a number of pairs n(n-1)/2 of n >= 3 items (351 for 27 emotions)")
    return n


def emotion_permutations(n_items: int = 27, n_permutations: int = 1000, seed: int | None = 0) -> np.ndarray:
    """``[P, n_items]`` random relabellings of the items, from ``numpy.random.default_rng(seed)``.

    Example:
        >>> emotion_permutations(4, 2, seed=0).shape
        (2, 4)
    """
    n_items = _check_count(n_items, "n_items", 3)
    n_permutations = _check_count(n_permutations, "n_permutations", 1)
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n_items), (n_permutations, 1)), axis=1)


@functools.lru_cache(maxsize=8)
def _pair_lookup(n_items: int) -> np.ndarray:
    """``[n, n]``: index of the unordered pair (i, j) in the paper's pair vector (-1 on the diagonal)."""
    i, j = pair_indices(n_items)
    lookup = np.full((n_items, n_items), -1, dtype=np.int64)
    lookup[i, j] = lookup[j, i] = np.arange(len(i))
    lookup.setflags(write=False)
    return lookup


def pair_permutation(perm: np.ndarray) -> np.ndarray:
    """For each pair (i, j) of the pair vector, the index of pair (perm[i], perm[j]); works on ``[..., n]``.

    ``rdm[pair_permutation(perm)]`` is the RDM with item i relabelled as item ``perm[i]``.

    Example:
        >>> pair_permutation(np.array([1, 0, 2]))        # pairs (1,0), (2,0), (2,1)
        array([0, 2, 1])
    """
    perm = np.asarray(perm)
    if perm.ndim < 1 or not np.issubdtype(perm.dtype, np.integer) or perm.shape[-1] < 2:
        raise ValueError(f"perm must be integer permutations [..., n >= 2], got {perm.dtype} {perm.shape}")
    n = perm.shape[-1]
    if not (np.sort(perm, axis=-1) == np.arange(n)).all():
        raise ValueError(f"perm must hold permutations of 0..{n - 1}")
    i, j = pair_indices(n)
    return _pair_lookup(n)[perm[..., i], perm[..., j]]


def _dense_ranks(v: np.ndarray) -> np.ndarray:
    """Dense ranks (ties share one) of each column of ``v [n, c]`` as int16 ``[n, c]``: same signs of differences."""
    order = np.argsort(v, axis=0, kind="stable")
    s = np.take_along_axis(v, order, axis=0)
    new_group = np.ones(s.shape, dtype=np.int16)
    new_group[1:] = s[1:] != s[:-1]
    ranks = np.empty_like(new_group)
    np.put_along_axis(ranks, order, np.cumsum(new_group, axis=0, dtype=np.int16) - 1, axis=0)
    return ranks


def _padded(n: int) -> int:
    return -(-n // _PAD) * _PAD


def _pair_signs(ranks: torch.Tensor, k_pad: int, dtype: torch.dtype) -> torch.Tensor:
    """``ranks [c, n]`` -> ``[c_pad, k_pad]`` signs ``sign(r[q] - r[p])`` over p < q (block p), zero-padded."""
    c, n = ranks.shape
    out = torch.zeros((_padded(c), k_pad), dtype=dtype, device=ranks.device)
    offset = 0
    with single_threaded_ops():  # 350 small ops: threads only thrash a shared CPU
        for p in range(n - 1):
            m = n - 1 - p
            out[:c, offset : offset + m] = torch.sign(ranks[:, p + 1 :] - ranks[:, p : p + 1])
            offset += m
    return out


@functools.lru_cache(maxsize=8)
def _int8_works(device: str) -> bool:
    """Whether ``torch._int_mm`` runs on ``device`` with our layout (A row-major, B column-major) and is exact."""
    try:
        g = torch.Generator().manual_seed(0)
        a = torch.randint(-1, 2, (32, 128), generator=g, dtype=torch.int8)
        b = torch.randint(-1, 2, (32, 128), generator=g, dtype=torch.int8)
        out = torch._int_mm(a.to(device), b.to(device).T).cpu()
        return bool(torch.equal(out.to(torch.int64), a.to(torch.int64) @ b.to(torch.int64).T))
    except (RuntimeError, AttributeError, NotImplementedError) as error:  # no int8 GEMM on this device/build
        logger.info("torch._int_mm unavailable on %s (%s); using fp32", device, error)
        return False


def _resolve_kernel(kernel: str, device: torch.device, n_terms: int) -> str:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; valid choices: {', '.join(KERNELS)}")
    if kernel == "auto":
        kernel = "int8" if _int8_works(str(device)) else "fp32"
    elif kernel == "int8" and not _int8_works(str(device)):
        raise ValueError(f"kernel 'int8' is not available on {device}; valid choices here: auto, fp32")
    if kernel == "fp32" and n_terms >= _FP32_EXACT:
        raise ValueError(f"kernel 'fp32' is inexact for {n_terms} pair-of-pair terms (>= 2**24); use 'int8'")
    return kernel


def _product(sx: torch.Tensor, sy: torch.Tensor, kernel: str) -> torch.Tensor:
    """``S [rows of sx, rows of sy] = sx @ sy.T`` as exact int32 (sign matrices ``[*, K]``)."""
    if kernel == "int8":
        return torch._int_mm(sx, sy.T)  # int32 accumulation
    return (sx @ sy.T).to(torch.int32)  # fp32 (TF32 on CUDA: -1/0/1 are exact there too) sums < 2**24


def _as_matrix(v: np.ndarray | pd.DataFrame, name: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    if v.ndim != 2 or 0 in v.shape:
        raise ValueError(f"{name} must be [pairs, columns] with at least one column, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{name} holds NaN or infinite values; remove them first")
    return v


def permutation_searchlight(
    unit_rdms: np.ndarray, attribute_rdms: np.ndarray | pd.DataFrame, n_permutations: int, seed: int | None = 0,
    device: str | torch.device | None = "auto", chunk: int | None = None, *, perm_chunk: int | None = None,
    kernel: str = "auto", count_alpha: float = 0.01,
) -> PermutationResult:
    """Kendall tau-b of every unit RDM with every attribute RDM, and its label-permutation (Mantel) null.

    Args:
        unit_rdms: ``[pairs, U]`` unit RDMs (:func:`emolib.rsa.unit_rdms`), paper pair order.
        attribute_rdms: ``[pairs, A]`` attribute RDMs in the same order (a DataFrame names them).
        n_permutations: P, relabellings of the items drawn by :func:`emotion_permutations` with ``seed``.
        seed: the permutations' seed (``None``: fresh entropy, not reproducible).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        chunk: units per block (``None``: 2048 on the CPU, 8192 on CUDA).
        perm_chunk: permutations per block (``None``: as many as fit a memory budget, 1.5 GiB on the CPU).
        kernel: ``"auto"`` (int8 where ``torch._int_mm`` runs, else fp32), ``"int8"`` or ``"fp32"``; all exact.
        count_alpha: the paper's criterion whose unit count is also counted under every permutation.

    Returns:
        :class:`PermutationResult`.

    Raises:
        ValueError: for bad shapes, non-finite values, ``n_permutations < 1``, bad chunks, or an unknown
            device or kernel.
    """
    n_permutations = _check_count(n_permutations, "n_permutations", 1)
    if chunk is not None:
        chunk = _check_count(chunk, "chunk", 1)
    if perm_chunk is not None:
        perm_chunk = _check_count(perm_chunk, "perm_chunk", 1)
    names = tuple(str(c) for c in attribute_rdms.columns) if isinstance(attribute_rdms, pd.DataFrame) else None
    x, y = _as_matrix(unit_rdms, "unit_rdms"), _as_matrix(attribute_rdms, "attribute_rdms")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"unit_rdms ({x.shape[0]} pairs) and attribute_rdms ({y.shape[0]} pairs) need the same pairs")
    n_items = _n_items(x.shape[0])
    if x.shape[0] > np.iinfo(np.int16).max:
        raise ValueError(f"{x.shape[0]} pairs exceed the int16 ranks of the engine (at most 32767 pairs)")
    dev = resolve_device(device)
    perms = emotion_permutations(n_items, n_permutations, seed)  # [P, items]

    n = x.shape[0]
    n0 = n * (n - 1) / 2
    tx, ty = tie_statistics(x), tie_statistics(y)  # ties are fixed by relabelling
    nx, ny = n0 - tx["t1"] / 2, n0 - ty["t1"] / 2  # untied pairs
    den = np.outer(sqrt_like_r(2 * nx), sqrt_like_r(2 * ny))  # [U, A]: tau = 2S / den, as kendall_tau_b
    valid = (nx > 0)[:, None] & (ny > 0)[None, :]  # [U, A]: neither RDM constant
    with np.errstate(invalid="ignore", divide="ignore"):  # z = tau sqrt(nx ny) / sqrt(Var S), as kendall_tau_b
        var = ((n * (n - 1) * (2 * n + 5) - tx["t5"][:, None] - ty["t5"][None, :]) / 18
               + np.outer(tx["t1"], ty["t1"]) / (2 * n * (n - 1))
               + np.outer(tx["t2"], ty["t2"]) / (9 * n * (n - 1) * (n - 2)))
        z_scale = np.sqrt(np.outer(nx, ny)) / np.sqrt(var)  # [U, A]
    z_scale[~valid] = np.nan
    s_obs, n_exceed, null_max, counts = _permutation_counts(
        x, y, pair_permutation(perms), den, valid, dev, chunk, perm_chunk, kernel, z_scale, count_alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.clip(2 * s_obs / den, -1.0, 1.0)  # [U, A], bit-identical to kendall_tau_b
    tau[~valid] = np.nan
    null_max[:, ~valid.any(0)] = np.nan  # no unit can be compared with a constant attribute
    return from_counts(tau, n_exceed, null_max, n_permutations, seed,
                       names or tuple(str(a) for a in range(y.shape[1])), null_count=counts[1:],
                       obs_count=int(counts[0]), count_alpha=count_alpha)


def from_counts(tau: np.ndarray, n_exceed: np.ndarray, null_max: np.ndarray, n_permutations: int,
                seed: int | None, attributes: tuple[str, ...], null_count: np.ndarray | None = None,
                obs_count: int | None = None, count_alpha: float = 0.01) -> PermutationResult:
    """The :class:`PermutationResult` of observed ``tau`` ``[U, A]``, exceedance counts ``[U, A]`` and the
    per-attribute null maxima ``[P, A]``: the compact form results are stored in (NaN tau: no test)."""
    tau = np.asarray(tau, dtype=np.float64)
    valid = ~np.isnan(tau)
    n_exceed = np.asarray(n_exceed)
    null_max = np.asarray(null_max, dtype=np.float64)
    perm_p = np.where(valid, (1 + n_exceed) / (1 + n_permutations), np.nan)
    null_all = np.max(np.where(np.isnan(null_max), -np.inf, null_max), axis=1)  # [P]
    null_all[np.isinf(null_all)] = np.nan
    fwer_p = np.column_stack([_max_p(tau[:, a], null_max[:, a]) for a in range(tau.shape[1])])
    return PermutationResult(
        tau=tau, perm_p=perm_p, fwer_p=fwer_p, fwer_p_all=_max_p(tau, null_all), perm_fdr_q=bh_q(perm_p),
        null_max=null_max, n_exceed=n_exceed, n_permutations=int(n_permutations), seed=seed,
        attributes=tuple(attributes), null_count=None if null_count is None else np.asarray(null_count, np.int64),
        obs_count=None if obs_count is None else int(obs_count), count_alpha=float(count_alpha),
    )


def paper_count(z: np.ndarray, alpha: float = 0.01) -> int:
    """Units (rows of ``z [U, A]``) with the paper's ``q = p N / rank(p) < alpha`` for any attribute, p the
    one-sided normal p of ``z`` (NaN: no test). Only p < alpha can pass (rank <= N), so only those are ranked.

    Example:
        >>> from emolib.stats import paper_q
        >>> z = np.random.default_rng(1).normal(1.5, 1.5, (500, 3))
        >>> paper_count(z) == int((paper_q(stats.norm.sf(z)) < 0.01).any(axis=1).sum())
        True
    """
    z = np.asarray(z, dtype=np.float64)
    ok = ~np.isnan(z)
    flat = np.flatnonzero(ok.ravel() & (np.where(ok, z, -np.inf).ravel() > stats.norm.isf(alpha)))
    return _count_from_candidates(flat, z.ravel()[flat], int(ok.sum()), z.shape[1], alpha)


def _max_p(tau: np.ndarray, null: np.ndarray) -> np.ndarray:
    """``(1 + #{pi: null[pi] >= tau}) / (1 + P)`` for every entry of ``tau`` (NaN where either is undefined)."""
    out = np.full(tau.shape, np.nan)
    if np.isnan(null).all():
        return out
    ordered = np.sort(null)  # [P], no NaN here (a NaN attribute is NaN for every permutation)
    ok = ~np.isnan(tau)
    exceed = len(ordered) - np.searchsorted(ordered, tau[ok], side="left")
    out[ok] = (1 + exceed) / (1 + len(ordered))
    return out


def _permutation_counts(
    x: np.ndarray, y: np.ndarray, pair_perms: np.ndarray, den: np.ndarray, valid: np.ndarray, device: torch.device,
    chunk: int | None, perm_chunk: int | None, kernel: str, z_scale: np.ndarray | None = None,
    count_alpha: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The engine: observed S ``[U, A]``, #{pi: S_pi >= S_obs} ``[U, A]``, max over units of tau_pi ``[P, A]``
    and the paper's unit count (:func:`paper_count` of ``z = tau * z_scale``) for the observed labels and
    every permutation, ``[1 + P]``.

    ``pair_perms [P, pairs]`` relabel the attribute RDMs; ``den [U, A]`` (tau = 2S / den) and ``valid [U, A]``
    come from the (fixed) ties. Loops: permutation chunks (their attribute signs ``[Pc * A, K]`` built once),
    then unit blocks (signs ``[Ub, K]``); one exact integer product ``[Ub, Pc * A]`` each.
    """
    n, n_units = x.shape
    n_attr, n_perm = y.shape[1], pair_perms.shape[0]
    n_terms = n * (n - 1) // 2
    k_pad = _padded(n_terms)
    kernel = _resolve_kernel(kernel, device, n_terms)
    dtype = torch.int8 if kernel == "int8" else torch.float32
    item = 1 if kernel == "int8" else 4
    ub = chunk or (_CUDA_UNITS if device.type == "cuda" else _CPU_UNITS)
    ub = min(ub, n_units)
    if perm_chunk is None:
        budget = _CPU_BUDGET if device.type == "cpu" else min(_CUDA_BUDGET, 0.4 * torch.cuda.mem_get_info(device)[0])
        per_column = k_pad * item + _padded(ub) * 22  # attribute signs + S (int32), tau (float64), compares
        perm_chunk = max(1, int(budget // (per_column * n_attr)))
    pc = min(perm_chunk, n_perm)
    logger.info("permutation searchlight: %d units x %d attributes x %d permutations (K = %d) on %s, %s kernel, "
                "%d units x %d permutations per product", n_units, n_attr, n_perm, n_terms, device, kernel, ub, pc)
    start = time.perf_counter()

    den = torch.as_tensor(den, dtype=torch.float64, device=device)  # [U, A]
    valid = torch.as_tensor(valid, device=device)  # [U, A]
    rx = torch.as_tensor(np.ascontiguousarray(_dense_ranks(x).T), device=device)  # [U, n] int16
    ry = torch.as_tensor(_dense_ranks(y), device=device)  # [n, A] int16
    pp = torch.as_tensor(pair_perms, device=device)  # [P, n]

    s_obs = torch.empty((n_units, n_attr), dtype=torch.int32, device=device)
    n_exceed = torch.zeros((n_units, n_attr), dtype=torch.int64, device=device)
    counts = np.zeros(1 + n_perm, dtype=np.int64)  # the paper's unit count: observed, then each permutation
    scale = torch.as_tensor(np.nan_to_num(z_scale, nan=0.0) if z_scale is not None else np.zeros((n_units, n_attr)),
                            dtype=torch.float64, device=device)  # [U, A]
    z_crit = float(stats.norm.isf(count_alpha))  # only p < alpha (z > z_crit) can pass the paper's q
    n_tests = int(valid.sum())
    null_max = torch.full((n_perm, n_attr), -torch.inf, dtype=torch.float64, device=device)
    sy_obs = _pair_signs(ry.T.contiguous(), k_pad, dtype)  # [A_pad, K_pad]
    def passing(tau: torch.Tensor, u0: int, u1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(permutation, unit, z) of the tests of ``tau [Ub, Pc, A]`` with p < count_alpha."""
        z = tau.clamp(-1.0, 1.0) * scale[u0:u1, None, :]  # [Ub, Pc, A]; invalid tests have scale 0
        u, q, a = torch.nonzero(z > z_crit, as_tuple=True)
        return q.cpu().numpy(), (u + u0).cpu().numpy() * n_attr + a.cpu().numpy(), z[u, q, a].cpu().numpy()

    for p0 in range(0, n_perm, pc):
        p1 = min(p0 + pc, n_perm)
        ry_perm = ry[pp[p0:p1]].permute(0, 2, 1).reshape((p1 - p0) * n_attr, n)  # [Pc * A, n], permutation-major
        sy = _pair_signs(ry_perm, k_pad, dtype)  # [(Pc * A)_pad, K_pad]
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for u0 in range(0, n_units, ub):
            u1 = min(u0 + ub, n_units)
            sx = _pair_signs(rx[u0:u1], k_pad, dtype)  # [Ub_pad, K_pad]
            if p0 == 0:
                s_obs[u0:u1] = _product(sx, sy_obs, kernel)[: u1 - u0, :n_attr]
                if z_scale is not None:
                    tau_obs = s_obs[u0:u1, None, :].to(torch.float64).mul_(2).div_(den[u0:u1, None, :])
                    q, flat, z = passing(tau_obs, u0, u1)
                    found.append((q - 1, flat, z))  # permutation -1: the observed labels
            s = _product(sx, sy, kernel)[: u1 - u0, : (p1 - p0) * n_attr].view(u1 - u0, p1 - p0, n_attr)
            n_exceed[u0:u1] += (s >= s_obs[u0:u1, None, :]).sum(1)
            tau = s.to(torch.float64).mul_(2).div_(den[u0:u1, None, :])  # [Ub, Pc, A]: 2S / den, as kendall_tau_b
            if z_scale is not None:
                found.append(passing(tau, u0, u1))
            tau.masked_fill_(~valid[u0:u1, None, :], -torch.inf)
            null_max[p0:p1] = torch.maximum(null_max[p0:p1], tau.amax(0).clamp_(-1.0, 1.0))  # [Pc, A]
            del s, tau, sx
            logger.debug("units %d-%d, permutations %d-%d: %.1f s", u0, u1, p0, p1, time.perf_counter() - start)
        del sy
        found = [f for f in found if len(f)]
        if z_scale is not None and found:
            perm = np.concatenate([f[0] for f in found])
            flat = np.concatenate([f[1] for f in found])
            zs = np.concatenate([f[2] for f in found])
            order = np.argsort(perm, kind="stable")
            perm, flat, zs = perm[order], flat[order], zs[order]
            bounds = np.searchsorted(perm, np.arange(-1, p1 - p0 + 1))
            for q in range(-1, p1 - p0):
                lo, hi = bounds[q + 1], bounds[q + 2]
                if q == -1 and p0 > 0:
                    continue
                counts[0 if q == -1 else 1 + p0 + q] = _count_from_candidates(flat[lo:hi], zs[lo:hi], n_tests,
                                                                               n_attr, count_alpha)
    logger.info("permutation searchlight done in %.1f s", time.perf_counter() - start)
    return s_obs.cpu().numpy().astype(np.int64), n_exceed.cpu().numpy(), null_max.cpu().numpy(), counts


def _count_from_candidates(flat: np.ndarray, z: np.ndarray, n_tests: int, n_attr: int, alpha: float) -> int:
    """The paper's unit count from the tests with p < alpha (flat index unit * A + attribute, their z)."""
    if flat.size == 0:
        return 0
    p = stats.norm.sf(z)
    passed = p * n_tests / stats.rankdata(p) < alpha
    return int(np.unique(flat[passed] // n_attr).size)


def _rdms_of_points(points: np.ndarray) -> np.ndarray:
    """Euclidean RDMs ``[pairs, m]`` of ``points [m, items, dims]`` in the paper's pair order."""
    i, j = pair_indices(points.shape[1])
    return np.sqrt(((points[:, i] - points[:, j]) ** 2).sum(-1)).T


def _wilson(k: np.ndarray | int, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    z = stats.norm.ppf(0.5 + level / 2)
    rate = np.asarray(k) / n
    centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2))
    return centre - half, centre + half


def false_positive_rates(
    n_sims: int, n_permutations: int, alphas: tuple[float, ...] = (0.01, 0.05), dims: tuple[int, ...] = (1, 3),
    n_items: int = 27, seed: int = 0, device: str | torch.device | None = "auto",
) -> pd.DataFrame:
    """Rejection rates under the null of the paper's asymptotic tau-b test and of the permutation test.

    For each dimensionality d: one fixed random "attribute" (``n_items`` standard normal points in d
    dimensions, Euclidean RDM; 1-D: absolute differences) and ``n_sims`` independent random "units" drawn
    the same way. Both tests are one-sided (greater); a test rejects when p <= alpha.

    Returns:
        DataFrame ``dims, alpha, test, rate, ci_low, ci_high, n_sims`` (``test``: ``"paper"`` or
        ``"permutation"``; Wilson 95 % interval).

    Example:
        >>> table = false_positive_rates(20, 19, alphas=(0.05,), dims=(1,), n_items=8, device="cpu")
        >>> table["test"].tolist()
        ['paper', 'permutation']
    """
    n_sims = _check_count(n_sims, "n_sims", 1)
    if not alphas or not all(0 < a < 1 for a in alphas):
        raise ValueError(f"alphas must be levels in (0, 1), got {alphas!r}")
    if not dims or not all(isinstance(d, (int, np.integer)) and d >= 1 for d in dims):
        raise ValueError(f"dims must be positive integers, got {dims!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for d in dims:
        attribute = _rdms_of_points(rng.standard_normal((1, n_items, d)))  # [pairs, 1]
        units = _rdms_of_points(rng.standard_normal((n_sims, n_items, d)))  # [pairs, n_sims]
        _, p_paper = kendall_tau_b(units, attribute, "greater", device=device)
        p_perm = permutation_searchlight(units, attribute, n_permutations, seed=seed, device=device).perm_p
        for alpha in alphas:
            for test, p in (("paper", p_paper[:, 0]), ("permutation", p_perm[:, 0])):
                k = int((p <= alpha).sum())
                low, high = _wilson(k, n_sims)
                rows.append((int(d), float(alpha), test, k / n_sims, float(low), float(high), n_sims))
    return pd.DataFrame(rows, columns=["dims", "alpha", "test", "rate", "ci_low", "ci_high", "n_sims"])
