"""The verdict: its tests against slow references, and how often its rule errs, measured by simulation.

Each claim's rule is run on simulated data (at most a few seconds each): under no effect it may say "holds"
at most alpha (plus Monte Carlo error); at a design with power >= .8 it says "holds" under the paper's
effect and "does not hold" under no effect in at least 70 % of simulations, and "does not hold" under the
paper's effect at most 20 %. The rule of the previous verdict (tests over prompts, "does not hold" whenever
the estimate pointed the wrong way) fails these tests; that is shown too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from emolib.paper import mask_inference as mi
from emolib.paper import power as pw
from emolib.paper import verdict
from emolib.paper.claims import Evidence, claim_rows

ALPHA = 0.05
N_SIM = 500


def _mc_ceiling(rate: float, n: int = N_SIM) -> float:
    """A rate's upper tolerance: the nominal rate plus 2.5 Monte Carlo SEs."""
    return rate + 2.5 * np.sqrt(rate * (1 - rate) / n)


# ------------------------------------------------------------------------------------------- pieces


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001, np.nan])
    ok = np.isfinite(p)
    expected = multipletests(p[ok], method="holm")[1]
    np.testing.assert_allclose(verdict.holm(p)[ok], expected)
    assert np.isnan(verdict.holm(p)[~ok]).all()


@pytest.mark.parametrize("p_holm,p_shift,power,expected", [
    (0.01, np.nan, np.nan, "holds"),
    (0.01, 0.01, 0.95, "holds"),  # significance first
    (0.30, 0.01, 0.90, "does not hold"),
    (0.30, 0.01, 0.50, "cannot tell"),  # ruled out, but the design could not have seen the effect
    (0.30, 0.30, 0.95, "cannot tell"),
    (0.30, np.nan, np.nan, "cannot tell"),
])
def test_decide(p_holm, p_shift, power, expected):
    label, reason = verdict.decide(p_holm, p_shift, power)
    assert label == expected
    assert bool(reason) == (label == "cannot tell")


# --------------------------------------------------------------------------------- calibration


# The shipped rule, end to end: simulated runs (prompts x masks, masks of four kinds) through claim_rows and judge.

WEIGHTS = pd.Series(np.linspace(0.05, 0.45, 14), index=[f"a{i}" for i in range(14)])
PAPER = {"delta": -0.03, "rho": -0.47}


@dataclass(frozen=True)
class Design:
    """A simulated masking design: prompts, noise of one prompt under one mask, layer-profile strata, mask spread
    (and its correlation among the 14 attribute masks, as their overlapping units give), uniform-mask spread."""

    n_prompts: int = 27
    residual: float = 0.05
    stratum_sd: float = 0.02
    mask_sd: float = 0.01
    correlation: float = 0.3
    uniform_sd: float = 0.02

    @property
    def effective(self) -> float:
        return 14 / (1 + 13 * self.correlation)

    def components(self) -> dict:
        return {"mask": self.mask_sd**2, "residual": self.residual**2, "n_examples": 40.0}

    def beta(self, rho: float) -> float:
        shared = self.stratum_sd**2 + self.mask_sd**2
        return pw.weights_design(rho, self.components(), WEIGHTS.to_numpy(), self.n_prompts, shared=shared)["beta"]

    def powers(self) -> dict:
        sd_a = np.sqrt(self.stratum_sd**2 + self.mask_sd**2 + self.residual**2 / self.n_prompts)
        sd_b = np.sqrt(self.uniform_sd**2 + self.residual**2 / self.n_prompts)
        return {"masks_random": pw.masks_power(PAPER["delta"], sd_a, sd_b, self.effective, 14, ALPHA / 6, n_sim=1000),
                "weights": pw.weights_power(PAPER["rho"], self.components(), WEIGHTS.to_numpy(), self.n_prompts,
                                            alpha=ALPHA / 6, n_sim=200, n_perm=499,
                                            shared=self.stratum_sd**2 + self.mask_sd**2)}


def _correlated(rng, sd: float, correlation: float, n: int = 14) -> np.ndarray:
    return sd * (np.sqrt(correlation) * rng.standard_normal() + np.sqrt(1 - correlation) * rng.standard_normal(n))


def _evidence(rng, design: Design, delta: float, beta: float, searchlight) -> Evidence:
    """One simulated run: every prompt under 14 attribute masks, 4 layer-matched controls each, 14 sham masks and 14
    uniform random masks; attribute masks share their stratum's layer-profile cost with their controls."""
    z = ((WEIGHTS - WEIGHTS.mean()) / WEIGHTS.std(ddof=0)).to_numpy()
    stratum = design.stratum_sd * rng.standard_normal(14)
    effects, labels = [], []
    attr = stratum + delta + beta * z + _correlated(rng, design.mask_sd, design.correlation)
    effects += list(attr)
    labels += [("selective", a, 0) for a in WEIGHTS.index]
    for d in range(56):
        effects.append(stratum[d % 14] + design.mask_sd * rng.standard_normal())
        labels.append(("matched", WEIGHTS.index[d % 14], d))
    sham_stratum = design.stratum_sd * rng.standard_normal(14)
    effects += list(sham_stratum + _correlated(rng, design.mask_sd, design.correlation))
    labels += [("sham", f"sham-0:{a}", 0) for a in WEIGHTS.index]
    effects += list(design.uniform_sd * rng.standard_normal(14))
    labels += [("random", a, i) for i, a in enumerate(WEIGHTS.index)]
    effects = np.array(effects)  # [M]
    base = rng.normal(0.72, 0.05, (design.n_prompts, 1))
    acc = base + effects[None, :] + design.residual * rng.standard_normal((design.n_prompts, len(effects)))
    prompts = [f"e{p}" for p in range(design.n_prompts)]
    masked = pd.DataFrame([(prompts[p], 1, c, a, 4000, d, acc[p, m]) for p in range(design.n_prompts)
                           for m, (c, a, d) in enumerate(labels)],
                          columns=["emotion", "seed", "condition", "attribute", "k", "draw", "accuracy"])
    accuracy = pd.DataFrame({"emotion": prompts, "seed": 1, "accuracy": base[:, 0]})
    chance = pd.DataFrame({"emotion": prompts, "seed": 1, "chance": 0.52})
    return Evidence(accuracy, chance, searchlight, masked, 40.0, 36_864,
                    {"selective": design.effective, "sham": design.effective}, "test")


@pytest.fixture(scope="module")
def searchlight():
    from emolib import rsa

    rdms = rsa.unit_rdms(np.random.default_rng(0).random((27, 2, 8)))
    return rsa.searchlight(rdms, pd.DataFrame({"a": rdms[:, 0]}), 4, permutations=19)


def _verdicts(design: Design, delta: float, rho: float, searchlight, n_sim: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    beta = design.beta(rho) if rho else 0.0
    powers = design.powers()
    out = []
    for s in range(n_sim):
        rows = claim_rows(_evidence(rng, design, delta, beta, searchlight), WEIGHTS, None, None, 4000,
                          n_perm=499, n_boot=500, seed=s, paper=PAPER, powers=powers)
        table = verdict.judge(rows)
        out.append(table.set_index("claim")["verdict"])
    return pd.DataFrame(out)


def _share(table: pd.DataFrame, claim: str, label: str) -> float:
    return float((table[claim] == label).mean())


STRONG = Design(n_prompts=54, residual=0.03, stratum_sd=0.003, mask_sd=0.004, correlation=0.1, uniform_sd=0.004)
SHIPPED = Design()  # about the shipped Gemma design: 27 prompts, 40 examples, masks that differ


def test_the_rule_errs_at_most_alpha_without_an_effect_and_decides_at_a_design_with_power(searchlight):
    powers = STRONG.powers()
    assert powers["masks_random"] >= 0.8 and powers["weights"] >= 0.8
    null = _verdicts(STRONG, 0.0, 0.0, searchlight, 200, seed=1)
    effect = _verdicts(STRONG, PAPER["delta"], PAPER["rho"], searchlight, 200, seed=2)
    for claim in ("masks_random", "masks_sham", "weights"):
        assert _share(null, claim, "holds") <= _mc_ceiling(ALPHA, 200), claim
    for claim in ("masks_random", "weights"):
        assert _share(null, claim, "does not hold") >= 0.7, claim
        assert _share(effect, claim, "holds") >= 0.7, claim
        assert _share(effect, claim, "does not hold") <= 0.2, claim
    assert _share(null, "masks_sham", "does not hold") == _share(effect, "masks_sham", "does not hold") == 0.0


def test_at_the_shipped_design_the_rule_stays_calibrated_and_cannot_rule_the_effect_out(searchlight):
    powers = SHIPPED.powers()
    assert powers["masks_random"] < 0.8  # (weights: the 14 attributes bind as well)
    null = _verdicts(SHIPPED, 0.0, 0.0, searchlight, 200, seed=3)
    effect = _verdicts(SHIPPED, PAPER["delta"], PAPER["rho"], searchlight, 200, seed=4)
    for claim in ("masks_random", "masks_sham", "weights"):
        assert _share(null, claim, "holds") <= _mc_ceiling(ALPHA, 200), claim
        assert _share(effect, claim, "does not hold") <= 0.2, claim
    assert _share(null, "masks_random", "does not hold") == 0.0  # without power it never rules the effect out


def test_correlated_attribute_masks_would_fool_an_unadjusted_test_but_not_the_rule(searchlight):
    """Attribute masks that share units share their luck: counted as 14 independent masks, their mean looks more
    certain than it is. The sham comparison weighs them by their effective number."""
    rng = np.random.default_rng(5)
    design = Design(correlation=0.6, mask_sd=0.03, stratum_sd=0.0)
    plain, adjusted = [], []
    for _ in range(300):
        ev = _evidence(rng, design, 0.0, 0.0, searchlight)
        table = mi.mask_table(ev.masked)
        a = table[table.condition == "selective"]["accuracy"].to_numpy()
        b = table[table.condition == "sham"]["accuracy"].to_numpy()
        plain.append(mi.welch_test(a, b).p < ALPHA)
        adjusted.append(mi.welch_test(a, b, n_a=design.effective, n_b=design.effective).p < ALPHA)
    assert np.mean(plain) > 0.1
    assert np.mean(adjusted) <= _mc_ceiling(ALPHA, 300)


def _prompt_by_mask(rng, n_prompts: int, n_attr: int, n_random: int, mask_sd: float, effect: float = 0.0):
    """Accuracy [prompts, masks]: prompt effects, a mask effect shared by every prompt, binomial noise (40)."""
    prompt = rng.normal(0.7, 0.08, (n_prompts, 1))
    mask = rng.normal(0, mask_sd, (1, n_attr + n_random))
    mask[:, :n_attr] += effect
    p = np.clip(prompt + mask, 0.01, 0.99)
    return rng.binomial(40, p) / 40


def test_the_previous_rule_over_prompts_rejects_too_often_and_the_mask_unit_test_does_not():
    """The old test: sign flips over the prompts of each prompt's attribute-minus-random mean. With masks
    shared by all prompts, their chance differences are counted 27 times."""
    rng = np.random.default_rng(7)
    old, new = [], []
    for s in range(300):
        y = _prompt_by_mask(rng, 27, 14, 5, mask_sd=0.04)
        per_prompt = y[:, :14].mean(1) - y[:, 14:].mean(1)  # [27]
        signs = rng.choice([-1.0, 1.0], size=(199, 27))
        null = signs @ per_prompt / 27
        old.append((1 + np.sum(null <= per_prompt.mean())) / 200 < ALPHA)
        means = y.mean(0)
        new.append(mi.condition_test(means[:14], means[14:], n_perm=199, seed=s, interval=False).p < ALPHA)
    assert np.mean(old) > 0.15  # the previous verdict's false-positive rate
    assert np.mean(new) <= _mc_ceiling(ALPHA, 300)


def _previous_decide(estimate, low, high, p, paper):
    """The previous verdict's rule for an effect expected below zero (no null control)."""
    if p < ALPHA and estimate < 0:
        return "holds"
    if estimate >= 0 or low > paper:
        return "does not hold"
    return "cannot tell"


def test_the_previous_rule_says_does_not_hold_for_the_papers_own_effect():
    """At the shipped design (1 seed, 40 examples, 5 random masks shared by 27 prompts) and under the paper's own
    effect, the previous rule's interval over prompts is too narrow and excludes the paper's value, or the estimate
    points the wrong way: "does not hold" far more often than the 20 % a valid rule may (the shipped rule's rate at
    this design is measured in test_at_the_shipped_design_...)."""
    rng = np.random.default_rng(8)
    paper, mask_sd = -0.03, 0.055  # the shipped run's five random masks: SD about .055
    old = []
    for _ in range(300):
        y = _prompt_by_mask(rng, 27, 14, 5, mask_sd=mask_sd, effect=paper)
        per_prompt = y[:, :14].mean(1) - y[:, 14:].mean(1)  # [27]
        mean, se = per_prompt.mean(), per_prompt.std(ddof=1) / np.sqrt(27)
        half = stats.t.ppf(0.975, 26) * se
        old.append(_previous_decide(mean, mean - half, mean + half, stats.t.cdf(mean / se, 26), paper - 0.005)
                   == "does not hold")
    assert np.mean(old) > 0.2


def test_the_previous_weights_interval_over_emotions_rejects_too_often():
    """A damage pattern shared by all emotions (the same 14 masks) and unrelated to the weights: a t interval over
    the 27 emotions excludes 0 far more often than 5 %; the attribute permutation does not."""
    rng = np.random.default_rng(9)
    w = np.linspace(0.05, 0.45, 14)
    old, new = [], []
    for s in range(300):
        shared = rng.normal(0, 0.03, 14)
        damage = shared[None, :] + rng.normal(0, 0.03, (27, 14))
        r = np.array([stats.pearsonr(row, w).statistic for row in damage])
        old.append(stats.ttest_1samp(np.arctanh(r), 0, alternative="less").pvalue < ALPHA)
        new.append(mi.weight_test(damage, w, n_perm=199, n_boot=10, seed=s).p < ALPHA)
    assert np.mean(old) > 0.15
    assert np.mean(new) <= _mc_ceiling(ALPHA, 300)


def test_inference_rule_error_rates(searchlight):
    """Emotions as units: held-out accuracy minus the majority share, through claim_rows and judge."""
    rng = np.random.default_rng(10)
    paper, sd, n = 0.10, 0.08, 27
    assert pw.mean_power(paper, sd, n, ALPHA / 6) >= 0.8
    masked_design = Design()

    def decide(excess: float) -> str:
        ev = _evidence(rng, masked_design, 0.0, 0.0, searchlight)
        ev.accuracy["accuracy"] = 0.52 + rng.normal(excess, sd, n)
        rows = claim_rows(ev, WEIGHTS, None, (None, None, paper), 4000, n_perm=99, n_boot=50, paper=PAPER,
                          powers={"masks_random": 0.0, "weights": 0.0})
        return verdict.judge(rows).set_index("claim").loc["inference", "verdict"]

    null = [decide(0.0) for _ in range(150)]
    effect = [decide(paper) for _ in range(150)]
    assert np.mean([v == "holds" for v in null]) <= _mc_ceiling(ALPHA, 150)
    assert np.mean([v == "does not hold" for v in null]) >= 0.7
    assert np.mean([v == "holds" for v in effect]) >= 0.7
    assert np.mean([v == "does not hold" for v in effect]) <= 0.2


def test_count_rules_hold_at_most_alpha_without_an_effect_and_detect_one():
    """The paper's count and the global max-tau test on unit RDMs of random activations (no effect) and with a
    few units that carry an attribute's geometry."""
    from emolib.rsa import unit_rdms
    from emolib.rsa.permutation import permutation_searchlight

    rng = np.random.default_rng(11)
    target = unit_rdms(np.linspace(0, 1, 27)[:, None, None])  # [351, 1]
    held = {"count": [], "global": []}
    for s in range(200):
        rdms = unit_rdms(rng.random((27, 2, 20)))
        result = permutation_searchlight(rdms, target, 99, seed=s, device="cpu")
        held["count"].append(result.count_p < ALPHA)
        held["global"].append(result.global_p < ALPHA)
    for name, values in held.items():
        assert np.mean(values) <= _mc_ceiling(ALPHA, 200), name
    acts = rng.random((27, 2, 20))
    acts[:, :, :3] += 2 * np.linspace(0, 1, 27)[:, None, None]
    result = permutation_searchlight(unit_rdms(acts), target, 99, seed=0, device="cpu")
    assert result.global_p < ALPHA and result.count_p < ALPHA


# ------------------------------------------------------------------------------------------ table


def test_verdict_of_a_smoke_run_has_every_claim_and_the_columns():
    from emolib.paper import control, pipeline

    run = pipeline.run_paper("tiny-llama", "smoke", device="cpu", progress=False,
                             prompt_overrides={"train_size": 4, "dev_size": 4, "test_size": 2, "epochs": 1})
    null = control.null_control(run)
    table = verdict.verdict(run, null)
    assert list(table.columns) == ["claim", "statement", *verdict.COLUMNS[1:]]
    assert set(table["claim"]) == set(verdict.CLAIMS)
    main = table[table["verdict"] != "descriptive"]
    assert set(main["verdict"]) <= set(verdict.VERDICTS)
    assert not ((main["verdict"] == "does not hold") & ~(main["power"] >= verdict.POWER_TARGET)).any()
    assert not ((main["verdict"] == "holds") & ~(main["p_holm"] < ALPHA)).any()
    near_chance = main["reason"].str.startswith("the prompts are near chance")
    assert not ((main["p_holm"] < ALPHA) & (main["verdict"] != "holds") & ~near_chance).any()
    mean = run.frames("dev")[1]["accuracy"].mean()
    assert table.set_index("claim").loc["inference", "value"] == pytest.approx(mean)
    if mean < verdict.CHANCE_FLOOR:
        masking = table[table["claim"].isin(["masks_random", "masks_sham", "weights"])]
        assert (masking["verdict"] == "cannot tell").all() and table.attrs["at_chance"]
    units = table.set_index("claim").loc["units_paper"]
    assert units["null_control"] == int(null.searchlight.with_correction("paper", 0.01).significant.any(axis=1).sum())
    assert isinstance(verdict.for_display(table), pd.DataFrame)


def test_the_cooccurrence_control_is_moot_unless_the_claim_holds():
    rows = pd.DataFrame({"claim": ["units_fwer", "units_paper"], "p": [0.001, 0.4], "p_shift": [np.nan, np.nan],
                         "power": [np.nan, np.nan], "reason": ["", ""], "reason_if_not_held": ["a count", "a count"],
                         "descriptive": [False, False], "survives_cooccurrence": ["yes", "no"]})
    table = verdict.judge(rows).set_index("claim")
    assert table.loc["units_fwer", "verdict"] == "holds" and table.loc["units_fwer", "survives_cooccurrence"] == "yes"
    assert table.loc["units_paper", "verdict"] == "cannot tell"
    assert table.loc["units_paper", "survives_cooccurrence"] == "n/a (cannot tell)"
