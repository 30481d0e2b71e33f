"""Held-out tests of steering directions: the alpha chosen on one half of the prompts, effects and dose-response
slopes measured on the other, against random draws and control directions.

Example:
    >>> a, b = split_prompts(6, seed=0)
    >>> len(a), len(b)
    (3, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from emolib.emollm.steering import _t_interval

__all__ = ["split_prompts", "choose_alphas", "best_alpha", "held_out_tests", "dose_slopes", "held_out_table"]

def split_prompts(n_prompts: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Seeded split of prompt indices ``0..n_prompts-1`` into half A (``n_prompts // 2``, choosing alpha) and half B
    (held out), each sorted.

    Example:
        >>> a, b = split_prompts(6, seed=0)
        >>> len(a), len(b), sorted(a + b) == list(range(6)), split_prompts(6, seed=0) == (a, b)
        (3, 3, True, True)
    """
    if n_prompts < 2:
        raise ValueError(f"the split needs at least 2 prompts, got {n_prompts}")
    order = np.random.default_rng(seed).permutation(np.arange(n_prompts))
    return sorted(order[: n_prompts // 2].tolist()), sorted(order[n_prompts // 2 :].tolist())


def _select_alpha(shifts: pd.DataFrame, name: str, half_a: Sequence[int], n_select: int | None = None) -> float:
    """The nonzero alpha where ``name``'s mean shift on ``half_a`` lies furthest above the random draws (draw <
    ``n_select``), in the draws' sds; the largest mean shift with fewer than 2 draws at some alpha."""
    in_a = shifts["prompt"].isin(list(half_a)) & (shifts["alpha"] > 0)  # directions are oriented in advance
    mine = shifts[in_a & (shifts["direction"] == name)]
    if mine.empty:
        raise ValueError(f"no positive-alpha shifts of direction {name!r} on the selection half")
    means = mine.groupby("alpha")["shift"].mean()
    rand = shifts[in_a & (shifts["direction"] == "random")]
    if n_select is not None:
        rand = rand[rand["draw"] < n_select]
    per_draw = rand.groupby(["alpha", "draw"])["shift"].mean()
    grouped = per_draw.groupby("alpha")
    if len(per_draw) and set(means.index) <= set(grouped.size().index) and (grouped.size() >= 2).all():
        sd = grouped.std()
        means = (means - grouped.mean()) / sd.where(sd > 0, np.inf)
    return float(means.idxmax())


def choose_alphas(shifts: pd.DataFrame, names: Sequence[str], half_a: Sequence[int],
                  n_select: int | None = None) -> dict[str, float]:
    """Each direction's alpha chosen on the prompts ``half_a``: the positive alpha (the directions are oriented towards
    positive valence in advance) where its mean shift lies furthest above the random draws (``draw < n_select``; all
    draws if ``None``), in random-draw sds.

    Example:
        >>> rows = [("d", 0, 0, a, p, a * (3 - a)) for a in (1.0, 2.0) for p in range(4)]
        >>> rows += [("random", k, 0, a, p, 0.1 * k * a) for k in range(3) for a in (1.0, 2.0) for p in range(4)]
        >>> shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
        >>> choose_alphas(shifts, ["d"], [0, 1])
        {'d': 1.0}
    """
    return {name: _select_alpha(shifts, name, half_a, n_select) for name in names}


def best_alpha(shifts: pd.DataFrame, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Each named direction's best alpha, chosen on one half of the prompts and scored on the other.

    The prompts are split in two halves (seeded). On half A, the best alpha is the nonzero alpha where
    the direction's mean shift (directions are oriented toward positive valence) lies furthest above the
    random draws, in random-draw sds (the largest mean shift if there are fewer than 2 draws). On half B,
    the direction's mean shift at that alpha (t CI over prompts) is compared with the random draws at the same alpha:
    ``random_mean``, ``random_low/high`` (percentile band of per-draw means), ``z`` (standardised by
    the draws' sd) and ``p_random`` = (1 + #draws >= effect) / (1 + n_draws).
    """
    prompts = np.sort(shifts["prompt"].unique())
    if len(prompts) < 2:
        raise ValueError(f"best_alpha needs at least 2 prompts, got {len(prompts)}")
    half_a, half_b = split_prompts(len(prompts), seed)
    half_a, half_b = prompts[half_a].tolist(), prompts[half_b].tolist()
    names = [n for n in shifts["direction"].unique() if n != "random"]
    alphas = choose_alphas(shifts, names, half_a)
    return held_out_tests(shifts, alphas, half_b, level=level)[
        ["direction", "layer", "alpha", "effect", "ci_low", "ci_high", "random_mean", "random_low", "random_high", "z",
         "p_random", "n_prompts"]]


def _per_prompt(shifts: pd.DataFrame, name: str, alpha: float) -> pd.Series:
    """Shifts of named direction ``name`` at ``alpha``, indexed by prompt."""
    rows = shifts[(shifts["direction"] == name) & (shifts["alpha"] == alpha)]
    return rows.groupby("prompt")["shift"].mean()


def _against_draws(value: float, draws: np.ndarray, level: float) -> dict[str, float]:
    """``value`` beside random draws: their mean, percentile band, z and
    ``p_random = (1 + #draws >= value) / (1 + n)``."""
    lo, hi = np.percentile(draws, [50 - 50 * level, 50 + 50 * level]) if len(draws) else (np.nan, np.nan)
    sd = np.std(draws, ddof=1) if len(draws) > 1 else np.nan
    return {"random_mean": float(np.mean(draws)) if len(draws) else np.nan, "random_low": float(lo),
            "random_high": float(hi), "z": float((value - np.mean(draws)) / sd) if sd and np.isfinite(sd) else np.nan,
            "p_random": float((1 + np.sum(draws >= value)) / (1 + len(draws))), "n_random": int(len(draws))}


def _paired(a: pd.Series, b: pd.Series, level: float) -> tuple[float, float, float]:
    """Mean of ``a - b`` over their shared prompts, t CI."""
    both = pd.concat([a, b], axis=1, join="inner").to_numpy()
    return _t_interval(both[:, 0] - both[:, 1], level) if len(both) else (np.nan, np.nan, np.nan)


_TEST_COLUMNS = ["direction", "role", "alpha_of", "layer", "alpha", "effect", "ci_low", "ci_high", "random_mean",
                 "random_low", "random_high", "z", "p_random", "n_random", "n_prompts", "p_controls", "n_controls",
                 "control_max", "vs_contrasts", "vs_contrasts_low", "vs_contrasts_high", "vs_projected",
                 "vs_projected_low", "vs_projected_high"]


def held_out_tests(
    shifts: pd.DataFrame, alphas: Mapping[str, float], half_b: Sequence[int],
    controls: Mapping[str, Sequence[str]] | None = None, roles: Mapping[str, str] | None = None, level: float = 0.95,
) -> pd.DataFrame:
    """Held-out test of each direction at its chosen alpha, against all random draws and its control directions.

    On the prompts ``half_b``, for each ``name, alpha`` of ``alphas`` (a row with ``role`` from ``roles``,
    default ``"valence"``; ``alpha_of`` = itself), and then for each of its ``controls[name]`` at the same alpha
    (rows with ``alpha_of = name``):

    - ``effect, ci_low, ci_high``: mean shift over the prompts, t CI;
    - ``random_mean, random_low, random_high`` (percentile band of the per-draw mean shifts), ``z`` (distance
      from the random mean in draw sds), ``p_random = (1 + #draws >= effect) / (1 + n_random)``;
    - on the direction's own row: ``p_controls = (1 + #contrasts with effect >= its effect) / (1 + n_controls)`` over
      its controls of role ``"contrast"`` (its projected version is not a rival: it asks which path the effect
      takes), ``control_max`` (the largest contrast effect), ``vs_contrasts`` (its shift minus the mean shift of its
      controls of role ``"contrast"``, per prompt; t CI) and ``vs_projected`` (minus its control of role
      ``"projected"``).

    Example:
        >>> rows = [(n, 0, 0, 1.0, p, s + 0.1 * p) for n, s in (("d", 1.0), ("c", 0.2)) for p in range(4)]
        >>> rows += [("random", k, 0, 1.0, p, 0.01 * k) for k in range(9) for p in range(4)]
        >>> shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
        >>> t = held_out_tests(shifts, {"d": 1.0}, [2, 3], {"d": ["c"]}, {"c": "contrast"})
        >>> t[["direction", "alpha_of", "p_random", "p_controls", "vs_contrasts"]].round(2).values.tolist()
        [['d', 'd', 0.1, 0.5, 0.8], ['c', 'd', 0.1, nan, nan]]
    """
    controls, roles = dict(controls or {}), dict(roles or {})
    held = shifts[shifts["prompt"].isin(list(half_b))]
    rand = held[held["direction"] == "random"]
    layer = int(shifts["layer"].iloc[0]) if len(shifts) else -1

    def row(name: str, alpha: float, of: str) -> tuple[dict, pd.Series]:
        x = _per_prompt(held, name, alpha)
        if x.empty:
            raise ValueError(f"no held-out shifts of direction {name!r} at alpha {alpha:g}")
        effect, lo, hi = _t_interval(x.to_numpy(), level)
        draws = rand[rand["alpha"] == alpha].groupby("draw")["shift"].mean().to_numpy()
        return ({"direction": name, "role": roles.get(name, "valence"), "alpha_of": of, "layer": layer,
                 "alpha": float(alpha), "effect": effect, "ci_low": lo, "ci_high": hi,
                 **_against_draws(effect, draws, level), "n_prompts": len(x)}, x)

    rows = []
    for name, alpha in alphas.items():
        own, x = row(name, alpha, name)
        mine = [row(c, alpha, name) for c in controls.get(name, [])]
        rivals = [r for r, _ in mine if r["role"] != "projected"]
        if rivals:
            effects = np.array([r["effect"] for r in rivals])
            own |= {"p_controls": float((1 + np.sum(effects >= own["effect"])) / (1 + len(effects))),
                    "n_controls": len(effects), "control_max": float(effects.max())}
        if mine:
            contrast = [s for r, s in mine if r["role"] == "contrast"]
            if contrast:
                mean = pd.concat(contrast, axis=1, join="inner").mean(axis=1)
                own |= dict(zip(["vs_contrasts", "vs_contrasts_low", "vs_contrasts_high"], _paired(x, mean, level)))
            projected = [s for r, s in mine if r["role"] == "projected"]
            if projected:
                own |= dict(zip(["vs_projected", "vs_projected_low", "vs_projected_high"],
                                _paired(x, projected[0], level)))
        rows += [own] + [r for r, _ in mine]
    return pd.DataFrame(rows).reindex(columns=_TEST_COLUMNS)


def dose_slopes(
    shifts: pd.DataFrame, half_b: Sequence[int] | None = None, slope_range: float = 0.5,
    roles: Mapping[str, str] | None = None, level: float = 0.95,
) -> pd.DataFrame:
    """Dose-response slope of each named direction on the prompts ``half_b`` (all if ``None``), against random draws.

    The slope is the least-squares fit of ``shift = slope * alpha`` through the origin (the shift at alpha 0
    is 0 by definition) over the alphas with ``0 < |alpha| <= slope_range``: per prompt,
    ``sum(alpha * shift) / sum(alpha ** 2)``. Keeping to small alphas measures the near-linear response
    (further out the read-out saturates or the model leaves its text distribution).

    Returns:
        One row per named direction: ``direction, role, layer, slope`` (mean of the per-prompt slopes = the slope of
        the mean shift), ``ci_low, ci_high`` (t over prompts), ``random_mean, random_low, random_high`` (band of
        the random draws' slopes), ``z``, ``p_random`` = (1 + #draw slopes >= slope) / (1 + n_random),
        ``n_random``, ``n_prompts``; ``attrs["alphas"]``: the alphas fitted.

    Example:
        >>> rows = [(n, 0, 0, a, p, k * a + 0.01 * p) for n, k in (("d", 2.0), ("random", 0.0))
        ...         for a in (-0.5, 0.5, 1.0) for p in range(3)]
        >>> shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
        >>> table = dose_slopes(shifts)
        >>> round(float(table.loc[0, "slope"]), 6), table.attrs["alphas"]
        (2.0, [-0.5, 0.5])
    """
    if not slope_range > 0:
        raise ValueError(f"slope_range must be > 0, got {slope_range!r}")
    roles = dict(roles or {})
    held = shifts if half_b is None else shifts[shifts["prompt"].isin(list(half_b))]
    fit = held[(held["alpha"] != 0) & (held["alpha"].abs() <= slope_range + 1e-12)]
    if fit.empty:
        raise ValueError(f"no nonzero alpha with |alpha| <= {slope_range:g}; valid alphas: "
                         f"{sorted(shifts['alpha'].unique().tolist())}")
    fit = fit.assign(xy=fit["alpha"] * fit["shift"], xx=fit["alpha"] ** 2)
    sums = fit.groupby(["direction", "draw", "prompt"])[["xy", "xx"]].sum()
    per_prompt = (sums["xy"] / sums["xx"]).rename("slope").reset_index()  # one slope per (direction, draw, prompt)
    draws = per_prompt[per_prompt["direction"] == "random"].groupby("draw")["slope"].mean().to_numpy()
    layer = int(shifts["layer"].iloc[0])
    rows = []
    for name in [n for n in dict.fromkeys(per_prompt["direction"]) if n != "random"]:
        x = per_prompt[per_prompt["direction"] == name]["slope"].to_numpy()
        slope, lo, hi = _t_interval(x, level)
        rows.append({"direction": name, "role": roles.get(name, "valence"), "layer": layer, "slope": slope,
                     "ci_low": lo, "ci_high": hi, **_against_draws(slope, draws, level), "n_prompts": len(x)})
    table = pd.DataFrame(rows)
    table.attrs["alphas"] = sorted(fit["alpha"].unique().tolist())
    return table


def held_out_table(tests: pd.DataFrame) -> pd.DataFrame:
    """:func:`held_out_tests` as a narrow table: each estimate with its interval in one cell.

    Example:
        >>> row = {"direction": "v", "alpha_of": "v", "alpha": 0.5, "effect": 2.0, "ci_low": 1.0, "ci_high": 3.0,
        ...        "random_low": -1.0, "random_high": 1.0, "z": 3.0, "p_random": 0.005, "p_controls": 0.2,
        ...        "vs_contrasts": 1.5, "vs_contrasts_low": 0.5, "vs_contrasts_high": 2.5, "vs_projected": 0.1,
        ...        "vs_projected_low": -0.2, "vs_projected_high": 0.4}
        >>> held_out_table(pd.DataFrame([row])).iloc[0]["effect [95% CI]"]
        '+2.00 [+1.00, +3.00]'
    """
    def cells(mid: str, low: str, high: str) -> list[str]:
        return ["" if not np.isfinite(m) else f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]"
                for m, lo, hi in tests[[mid, low, high]].to_numpy(float)]

    table = tests[["direction", "alpha_of", "alpha"]].copy()
    table["effect [95% CI]"] = cells("effect", "ci_low", "ci_high")
    table["random 95%"] = [f"{lo:+.2f} to {hi:+.2f}" for lo, hi in tests[["random_low", "random_high"]].to_numpy()]
    table[["z", "p_random", "p_controls"]] = tests[["z", "p_random", "p_controls"]].round(3)
    table["minus contrasts"] = cells("vs_contrasts", "vs_contrasts_low", "vs_contrasts_high")
    table["minus projected"] = cells("vs_projected", "vs_projected_low", "vs_projected_high")
    return table
