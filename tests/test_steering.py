"""Tests of emolib.steering: the steering hook, typical norm, read-out, dose-response, examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emolib.emollm import behaviour as B
from emolib.emollm import steering as S
from emolib.emollm import steering_controls as SC
from emolib.emollm import steering_run as SR
from emolib.emollm import steering_stats as SS
from emolib.model.hooks import record, reuse_prefix
from emolib.model import tiny_backbone

PROMPTS = ["the movie was", "my day was", "the food here is", "the weather today is", "the party was", "this song is"]


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def bb(request):
    return tiny_backbone(request.param)


def _direction(bb, seed=1):
    return torch.randn(bb.hidden_size, generator=torch.Generator().manual_seed(seed))


def _logits(bb, text="the movie was so"):
    ids = bb.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return bb.model(**ids).logits


def test_steer_changes_inside_and_restores(bb):
    before = _logits(bb)
    for layer in range(bb.n_layers):
        with S.steer(bb, _direction(bb), layer, alpha=1.0) as added:
            inside = _logits(bb)
        assert added == pytest.approx(S.typical_norm(bb, layer))
        assert not torch.allclose(inside, before)
        assert torch.equal(_logits(bb), before)
    with S.steer(bb, _direction(bb), 0, alpha=0.0):
        assert torch.equal(_logits(bb), before)


def test_steer_restores_after_error(bb):
    before = _logits(bb)
    with pytest.raises(RuntimeError, match="boom"):
        with S.steer(bb, _direction(bb), 0, alpha=3.0):
            raise RuntimeError("boom")
    assert torch.equal(_logits(bb), before)


def test_steer_adds_exactly(bb):
    d = _direction(bb)
    ids = bb.tokenizer("the movie was", return_tensors="pt")
    with torch.no_grad(), record(bb, "residual", [0]) as store:
        bb.model(**ids)
    clean = store[0].clone()
    with torch.no_grad(), S.steer(bb, d, 0, alpha=0.5, scale=2.0), record(bb, "residual", [0]) as store:
        bb.model(**ids)
    # the capture hook was registered after the steering hook, so it sees the steered output
    torch.testing.assert_close(store[0] - clean, (d / d.norm() * 1.0).expand_as(clean), atol=1e-5, rtol=0)


def test_steer_bad_input(bb):
    with pytest.raises(ValueError, match="layer"):
        with S.steer(bb, _direction(bb), bb.n_layers, 1.0):
            pass
    with pytest.raises(ValueError, match="hidden size"):
        with S.steer(bb, torch.ones(bb.hidden_size + 1), 0, 1.0):
            pass
    with pytest.raises(ValueError, match="non-zero"):
        with S.steer(bb, torch.zeros(bb.hidden_size), 0, 1.0):
            pass


def test_typical_norm_is_the_median_token_norm_around_the_mean(bb):
    texts = PROMPTS[:3]
    norms = []
    for t in texts:
        ids = bb.tokenizer(t, return_tensors="pt", return_special_tokens_mask=True)
        special = ids.pop("special_tokens_mask").bool()[0]
        with torch.no_grad(), record(bb, "residual", [1]) as store:
            bb.model(**ids)
        norms.append(store[1][0, ~special])  # [n, d]
    tokens = torch.cat(norms)
    assert S.typical_norm(bb, 1, texts, centred=False) == pytest.approx(float(tokens.norm(dim=-1).median()), rel=1e-6)
    centred = (tokens - tokens.mean(0)).norm(dim=-1).median()
    assert S.typical_norm(bb, 1, texts) == pytest.approx(float(centred), rel=1e-5)


def test_readout_matches_unbatched_and_words(bb):
    batched = S.valence_readout(bb, PROMPTS, batch_size=4)
    single = np.array([S.valence_readout(bb, [p])[0] for p in PROMPTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    ids = bb.tokenizer("the movie was", return_tensors="pt")
    with torch.no_grad():
        logp = bb.model(**ids).logits[0, -1].log_softmax(-1)
    pos, neg = bb.verbalizer_ids([" good", " great", " happy"]), bb.verbalizer_ids([" bad", " terrible", " sad"])
    assert batched[0] == pytest.approx(float(logp[pos].logsumexp(0) - logp[neg].logsumexp(0)), abs=1e-5)
    with pytest.raises(ValueError, match="single tokens"):
        S.valence_readout(bb, PROMPTS, positive=[" good zzzqqq"])



@pytest.mark.parametrize("family", ["roberta", "bert"])
def test_a_masked_lm_is_read_at_the_mask_and_writes_no_continuations(family):
    bb = tiny_backbone(family)
    out = S.valence_readout(bb, PROMPTS[:3])
    text = PROMPTS[0] + " " + bb.tokenizer.mask_token
    enc = bb.tokenizer(text, return_tensors="pt")
    at = int((enc["input_ids"][0] == bb.mask_token_id).nonzero()[0, 0])
    with torch.no_grad():
        logp = bb.model(**enc).logits[0, at].log_softmax(-1)
    pos = [bb.token_id(w.strip()) if family == "bert" else bb.token_id(w) for w in S.POSITIVE_WORDS]
    neg = [bb.token_id(w.strip()) if family == "bert" else bb.token_id(w) for w in S.NEGATIVE_WORDS]
    assert out[0] == pytest.approx(float(logp[pos].logsumexp(0) - logp[neg].logsumexp(0)), abs=1e-5)
    examples = B.generate_examples(bb, torch.ones(bb.hidden_size), 0, [1.0])
    assert examples.empty and "masked LM" in examples.attrs["note"]


def test_readout_shifts_match_steer_loop(bb):
    d = _direction(bb)
    shifts = S.readout_shifts(bb, {"d": d}, 1, [-1.0, 0.0, 2.0], PROMPTS, n_random=2, seed=0, batch_size=5)
    base = S.valence_readout(bb, PROMPTS)
    with S.steer(bb, d, 1, 2.0):
        moved = S.valence_readout(bb, PROMPTS)
    mine = shifts[(shifts.direction == "d") & (shifts.alpha == 2.0)].sort_values("prompt")
    np.testing.assert_allclose(mine["shift"], moved - base, atol=1e-5)
    assert (shifts[shifts.alpha == 0]["shift"] == 0).all()
    rand = S.random_directions(bb.hidden_size, 2, seed=0)[1]
    with S.steer(bb, rand, 1, -1.0):
        moved = S.valence_readout(bb, PROMPTS)
    r = shifts[(shifts.direction == "random") & (shifts.draw == 1) & (shifts.alpha == -1.0)].sort_values("prompt")
    np.testing.assert_allclose(r["shift"], moved - base, atol=1e-5)


def test_dose_response_table(bb):
    d = _direction(bb)
    dr = S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=0)
    assert list(dr.columns) == ["direction", "layer", "alpha", "effect", "ci_low", "ci_high"]
    assert set(dr.direction) == {"d", "random"} and len(dr) == 6
    assert (dr.ci_low <= dr.effect + 1e-12).all() and (dr.effect <= dr.ci_high + 1e-12).all()
    pd.testing.assert_frame_equal(dr, S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=0))
    other = S.dose_response(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, seed=1)
    assert not np.allclose(dr[dr.direction == "random"].effect, other[other.direction == "random"].effect)
    with pytest.raises(ValueError, match="reserved"):
        S.dose_response(bb, {"random": d}, 1, [1.0], PROMPTS)
    with pytest.raises(ValueError, match="alphas"):
        S.dose_response(bb, {"d": d}, 1, [], PROMPTS)


def test_summarise_shifts_statistics():
    rng = np.random.default_rng(0)
    rows = [("d", 0, 2, 1.0, p, 1 + rng.normal()) for p in range(10)]
    rows += [("random", k, 2, 1.0, p, 0.1 * k) for k in range(5) for p in range(10)]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    table = S.summarise_shifts(shifts).set_index("direction")
    x = shifts[shifts.direction == "d"]["shift"]
    half = 2.2621571627409915 * x.std() / np.sqrt(10)  # t(0.975, 9)
    assert table.loc["d", "ci_high"] - table.loc["d", "effect"] == pytest.approx(half)
    assert table.loc["random", "effect"] == pytest.approx(0.2)
    assert table.loc["random", "ci_low"] == pytest.approx(np.percentile([0, 0.1, 0.2, 0.3, 0.4], 2.5))
    best = SS.best_alpha(shifts).iloc[0]
    assert best.alpha == 1.0 and best.p_random == pytest.approx(1 / 6)


def test_generate_examples(bb):
    d = _direction(bb)
    before = _logits(bb)
    ex = B.generate_examples(bb, d, 1, [0.0, 4.0], PROMPTS[:2], max_new_tokens=3)
    assert list(ex.columns) == ["prompt", "alpha", "continuation"] and len(ex) == 4
    assert torch.equal(_logits(bb), before)
    again = B.generate_examples(bb, d, 1, [0.0], PROMPTS[:2], max_new_tokens=3)
    assert again.continuation.tolist() == ex[ex.alpha == 0].continuation.tolist()
    with pytest.raises(ValueError, match="max_new_tokens"):
        B.generate_examples(bb, d, 1, [0.0], PROMPTS[:1], max_new_tokens=0)


def test_best_alpha_prefers_distance_from_random():
    """alpha 2 has the larger shift, but random draws swing as much there; alpha 1 stands out."""
    rng = np.random.default_rng(1)
    rows = []
    for p in range(8):
        rows += [("d", 0, 0, 1.0, p, 1.0 + 0.01 * rng.normal()), ("d", 0, 0, 2.0, p, 3.0 + 0.01 * rng.normal())]
        for k in range(6):
            rows += [("random", k, 0, 1.0, p, 0.01 * (k - 2.5)), ("random", k, 0, 2.0, p, 2.0 * (k - 2.5))]
    shifts = pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])
    best = SS.best_alpha(shifts, seed=0).iloc[0]
    assert best.alpha == 1.0 and best.z > 10 and best.p_random == pytest.approx(1 / 7)
    assert best.n_prompts == 4
    with pytest.raises(ValueError, match="2 prompts"):
        SS.best_alpha(shifts[shifts.prompt == 0])


# --- steering with controls: projection, contrasts, held-out tests, slopes, behaviour ---------------------------------


def _readout_logits(bb, text="the movie was"):
    """Logits of the six read-out words at the next token: [6]."""
    ids = bb.tokenizer(text, return_tensors="pt")
    words = [bb.token_id(w) for w in S.POSITIVE_WORDS + S.NEGATIVE_WORDS]
    with torch.no_grad():
        return bb.model(**ids).logits[0, -1, words].double()


def test_projection_is_orthogonal_to_every_readout_row_and_idempotent(bb):
    d = _direction(bb, seed=3)
    v = SC.project_out_readout(bb, d)
    W = bb.model.get_output_embeddings().weight.detach()
    words = [bb.token_id(w) for w in S.POSITIVE_WORDS + S.NEGATIVE_WORDS]
    assert torch.allclose(W[words] @ v, torch.zeros(6), atol=1e-4 * float(d.norm()))
    assert float((SC.readout_rows(bb).float() @ v).abs().max()) < 1e-4 * float(d.norm())
    torch.testing.assert_close(SC.project_out_readout(bb, v), v, atol=1e-5, rtol=0)
    # what is removed lies in the rows' span: a read-out row difference plus d projects to the same vector
    torch.testing.assert_close(SC.project_out_readout(bb, d + 5 * (W[words[0]] - W[words[3]])), v, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="nothing is left"):
        SC.project_out_readout(bb, W[words[0]] - W[words[3]])
    with pytest.raises(ValueError, match="finite"):
        SC.project_out_readout(bb, torch.ones(bb.hidden_size + 1))


def test_projection_removes_the_direct_readout_path_through_the_final_norm():
    """At the last layer a vector reaches the logits only through the final norm: orthogonal to the norm-weighted
    rows, it can at most rescale the six read-out logits together (RMS norm); the raw rows alone do not suffice."""
    bb = tiny_backbone("llama", seed=5)
    norm = SC._final_norm(bb)
    with torch.no_grad():
        norm.weight.copy_(torch.rand(bb.hidden_size, generator=torch.Generator().manual_seed(0)) * 2 + 0.1)
    last = bb.n_layers - 1
    before = _readout_logits(bb)
    d = _direction(bb, seed=4)
    ratios = {}
    for through in (True, False):
        with S.steer(bb, SC.project_out_readout(bb, d, through_norm=through), last, alpha=2.0):
            ratios[through] = _readout_logits(bb) / before  # [6]
    assert float(ratios[True].std()) < 1e-4 * float(ratios[True].abs().mean())
    assert float(ratios[False].std()) > 1e-2 * float(ratios[False].abs().mean())


def test_projection_collapses_the_shift_of_a_readout_direction(bb):
    W = bb.model.get_output_embeddings().weight.detach()
    pos, neg = [bb.token_id(w) for w in S.POSITIVE_WORDS], [bb.token_id(w) for w in S.NEGATIVE_WORDS]
    readout = W[pos].mean(0) - W[neg].mean(0)
    d = readout / readout.norm() + 0.05 * _direction(bb, seed=6) / _direction(bb, seed=6).norm()
    projected = SC.project_out_readout(bb, d)
    shifts = S.readout_shifts(bb, {"d": d, "projected": projected}, bb.n_layers - 1, [1.0], PROMPTS, n_random=0)
    size = shifts.groupby("direction")["shift"].apply(lambda x: float(x.abs().mean()))
    assert size["d"] > 0.05 and size["projected"] < 0.2 * size["d"]


class _Vectors:
    """Stands in for EmotionVectors: ``layer(l)`` gives [27, d]."""

    def __init__(self, d=8):
        self.x = np.random.default_rng(0).normal(size=(27, d))

    def layer(self, layer):
        return self.x


def test_contrast_controls_are_emotion_differences_of_similar_valence():
    from emolib.emotions import EMOTIONS

    ev = _Vectors()
    controls = SC.contrast_controls(ev, 0)
    assert list(controls) == [f"{a} - {b}" for a, b in SC.CONTROL_CONTRASTS]
    a, b = SC.CONTROL_CONTRASTS[0]
    np.testing.assert_allclose(controls[f"{a} - {b}"].numpy(), ev.x[EMOTIONS.index(a)] - ev.x[EMOTIONS.index(b)],
                               rtol=1e-6)
    table = SC.contrast_table()
    assert (table["valence difference"].abs() < 0.3).all() and (table["valence difference"] > 0).all()
    with pytest.raises(ValueError, match="joy - sadness"):
        SC.contrast_controls(ev, 0, [("joy", "sadness")])


def _synthetic_shifts(n_draws=200, prompts=8, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, slope in (("v", 3.0), ("c", 0.5), ("v (projected)", 2.0)):
        for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
            rows += [(name, 0, 7, a, p, slope * a + 0.3 * a * rng.normal()) for p in range(prompts)]
    for k in range(n_draws):
        s = rng.normal(0, 0.5)
        for a in (-1.0, -0.5, 0.0, 0.5, 1.0):
            rows += [("random", k, 7, a, p, s * a + 0.1 * a * rng.normal()) for p in range(prompts)]
    return pd.DataFrame(rows, columns=["direction", "draw", "layer", "alpha", "prompt", "shift"])


def test_held_out_tests_floor_controls_and_paired_differences():
    shifts = _synthetic_shifts()
    roles = {"c": "contrast", "v (projected)": "projected"}
    half_a, half_b = SS.split_prompts(8, seed=0)
    alphas = SS.choose_alphas(shifts, ["v"], half_a, n_select=20)
    assert alphas == {"v": 1.0}
    tests = SS.held_out_tests(shifts, alphas, half_b, {"v": ["c", "v (projected)"]}, roles)
    assert tests["direction"].tolist() == ["v", "c", "v (projected)"] and set(tests["alpha_of"]) == {"v"}
    v = tests.iloc[0]
    assert v["p_random"] == pytest.approx(1 / 201) and v["n_random"] == 200 and v["n_prompts"] == 4
    assert v["p_controls"] == pytest.approx(1 / 3) and v["control_max"] == pytest.approx(tests.iloc[2]["effect"])
    held = shifts[shifts.prompt.isin(half_b) & (shifts.alpha == 1.0)].pivot_table(index="prompt", columns="direction",
                                                                                   values="shift", aggfunc="mean")
    assert v["vs_projected"] == pytest.approx((held["v"] - held["v (projected)"]).mean())
    assert v["vs_contrasts"] == pytest.approx((held["v"] - held["c"]).mean())
    per_draw = shifts[(shifts.direction == "random") & shifts.prompt.isin(half_b) & (shifts.alpha == 1.0)]
    per_draw = per_draw.groupby("draw")["shift"].mean().to_numpy()
    c = tests.iloc[1]
    assert c["p_random"] == pytest.approx((1 + np.sum(per_draw >= c["effect"])) / 201)
    assert np.isnan(c["p_controls"])  # only the valence row is compared with its controls


def test_dose_slopes_match_a_slow_least_squares_loop():
    shifts = _synthetic_shifts(n_draws=30)
    half_b = [1, 3, 4, 6]
    table = SS.dose_slopes(shifts, half_b, slope_range=0.5).set_index("direction")
    assert table.attrs["alphas"] == [-0.5, 0.5]
    for name in ("v", "c"):
        slopes = []
        for p in half_b:
            rows = shifts[(shifts.direction == name) & (shifts.prompt == p) & (shifts.alpha.abs() <= 0.5)]
            x, y = rows["alpha"].to_numpy()[:, None], rows["shift"].to_numpy()
            slopes.append(np.linalg.lstsq(x, y, rcond=None)[0][0])  # through the origin (alpha 0 adds nothing)
        mean, lo, hi = S._t_interval(np.array(slopes))
        assert table.loc[name, ["slope", "ci_low", "ci_high"]].tolist() == pytest.approx([mean, lo, hi])
    rand = shifts[(shifts.direction == "random") & shifts.prompt.isin(half_b) & (shifts.alpha.abs() == 0.5)]
    draw_slopes = rand.assign(xy=rand.alpha * rand["shift"]).groupby("draw")["xy"].sum() / (4 * 0.5)
    assert table.loc["v", "p_random"] == pytest.approx(1 / 31)  # above every draw: the floor 1 / (n + 1)
    assert table.loc["c", "p_random"] == pytest.approx((1 + np.sum(draw_slopes >= table.loc["c", "slope"])) / 31)
    assert table.loc["v", "random_low"] == pytest.approx(np.percentile(draw_slopes, 2.5))
    with pytest.raises(ValueError, match="no nonzero alpha"):
        SS.dose_slopes(shifts, half_b, slope_range=0.1)


def test_the_prefix_is_run_once_and_reused(bb):
    batch = bb.encode(PROMPTS)
    calls = []
    handle = bb.sites[0].ffn.register_forward_pre_hook(lambda m, a: calls.append(1))  # inside block 0
    try:
        with torch.no_grad(), reuse_prefix(bb, 1, batch) as state:
            assert state["active"] and len(calls) == 1
            state["rows"] = torch.tensor([2, 0])
            S._forward(bb, {k: v[[2, 0]] for k, v in batch.items()})
            assert len(calls) == 1  # block 0 did not run again
        S._forward(bb, batch)
        assert len(calls) == 2  # restored
    finally:
        handle.remove()
    assert "forward" not in bb.sites[0].block.__dict__


def test_count_valence_words_leaves_out_the_readout_words():
    good, bad = B.behaviour_words()
    for word in S.POSITIVE_WORDS + S.NEGATIVE_WORDS:
        assert word.strip() not in good | bad
    assert not good & bad and len(good) > 50 and len(bad) > 50
    assert B.count_valence_words("So happy, cheerful and CHEERFUL; a bit lonely and sad.", good, bad) == (2, 1)


def test_batched_greedy_continuations_equal_one_at_a_time(bb):
    d = _direction(bb, seed=7)
    prompts = ["the movie was", "my day at work today was", "so"]
    scale = S.typical_norm(bb, 1)
    alphas = [0.0, 2.0, -2.0]
    vectors = torch.stack([d / d.norm() * a * scale for a in alphas])
    batched = B.greedy_continuations(bb, 1, prompts, vectors, max_new_tokens=4)
    for prompt, alpha, text in zip(prompts, alphas, batched):
        single = B.generate_examples(bb, d, 1, [alpha], [prompt], max_new_tokens=4)
        assert text == single["continuation"].iloc[0]


def test_steering_with_controls_is_seeded_held_out_and_complete(bb):
    g = torch.Generator().manual_seed(11)
    valence = {"v": torch.randn(bb.hidden_size, generator=g), "w": torch.randn(bb.hidden_size, generator=g)}
    contrasts = {"c1": torch.randn(bb.hidden_size, generator=g), "c2": torch.randn(bb.hidden_size, generator=g)}
    kwargs = dict(contrasts=contrasts, n_random=12, n_select=4, seed=3, slope_range=1.0, max_new_tokens=3,
                  n_behaviour_random=2)
    run = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **kwargs)
    assert set(run.roles.values()) == {"valence", "projected", "contrast"}
    shifts = run.shifts
    assert shifts.query("direction == 'random'")["draw"].nunique() == 12
    late = shifts[(shifts.direction == "random") & (shifts.draw >= 4)]
    assert set(late["prompt"]) == set(run.half_b) and (late["half"] == "B").all()
    early = shifts[(shifts.direction == "random") & (shifts.draw < 4)]
    assert set(early["prompt"]) == set(range(len(PROMPTS)))
    tests = run.tests
    assert tests.query("role == 'valence'")["direction"].tolist() == ["v", "w"]
    assert (tests["n_random"] == 12).all() and (tests["p_random"] >= 1 / 13 - 1e-12).all()
    assert set(tests.query("alpha_of == 'v' and direction != 'v'")["direction"]) == {"c1", "c2", "v (projected)"}
    assert set(run.slopes["direction"]) == set(run.roles) and (run.slopes["n_random"] == 12).all()
    assert set(run.dose["direction"]) == set(run.roles) | {"random"}
    # the named shifts are those of readout_shifts (the prefix reuse and the word-only logits change nothing)
    plain = S.readout_shifts(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=0)
    mine = shifts[shifts.direction.isin(["v", "w"])][["direction", "alpha", "prompt", "shift"]].reset_index(drop=True)
    np.testing.assert_allclose(mine["shift"], plain[["direction", "alpha", "prompt", "shift"]]["shift"], atol=1e-5)
    # behaviour: v (the first valence direction), its projection, both contrasts and two random draws at -a, +a
    behaviour = run.behaviour
    assert sorted(behaviour["direction"].unique()) == ["c1", "c2", "random", "v", "v (projected)"]
    assert (behaviour["alpha"] == abs(run.alphas["v"])).all() and (behaviour["n_prompts"] == len(run.half_b)).all()
    assert set(run.continuations["prompt"]) == set(run.half_b)
    again = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **kwargs)
    for name in ("shifts", "tests", "slopes", "behaviour", "continuations", "dose"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(run, name))
    other = SR.steering_with_controls(bb, valence, 1, [-1.0, 0.0, 1.0], PROMPTS, **(kwargs | {"seed": 4}))
    assert not np.allclose(other.shifts.query("direction == 'random'")["shift"].to_numpy()[:50],
                           shifts.query("direction == 'random'")["shift"].to_numpy()[:50])
    for block in (site.block for site in bb.sites):
        assert "forward" not in block.__dict__  # the prefix reuse restored every block
    with pytest.raises(ValueError, match="used twice or reserved"):
        SR.steering_with_controls(bb, {"random": valence["v"]}, 1, [1.0], PROMPTS)
    with pytest.raises(ValueError, match="behaviour_for"):
        SR.steering_with_controls(bb, valence, 1, [1.0], PROMPTS, behaviour_for=["nope"])


def test_a_masked_lm_is_steered_with_controls_but_writes_no_continuations():
    bb = tiny_backbone("roberta")
    d = _direction(bb, seed=2)
    base = S.readout_shifts(bb, {"d": d}, 1, [1.0], PROMPTS, n_random=0)
    with S.steer(bb, d, 1, 1.0):
        moved = S.valence_readout(bb, PROMPTS)
    np.testing.assert_allclose(base.query("alpha == 1.0")["shift"], moved - S.valence_readout(bb, PROMPTS), atol=1e-5)
    run = SR.steering_with_controls(bb, {"d": d}, 1, [-1.0, 0.0, 1.0], PROMPTS, n_random=4, n_select=2,
                                   slope_range=1.0)
    assert len(run.tests) == 2 and run.continuations.empty and run.behaviour.empty
    assert "masked LM" in run.behaviour.attrs["note"]
