"""Findings boxes, the paper's numbers beside ours, wording that follows the numbers, and tidy pages."""

import matplotlib

matplotlib.use("Agg")

import nbformat
import numpy as np
import pandas as pd
import pytest

from emolib import book, data, findings, wording
from emolib.plots import masking as plots_masking


def test_paper_numbers_name_a_source_for_every_value():
    table = data.paper_numbers()
    assert table["source"].str.len().gt(0).all()
    assert table["paper"].notna().all()
    assert set(table["chapter"]) <= {"data", "human_space", "neurons_released", "silencing_released"}


def test_compare_sets_ours_beside_the_paper_and_rejects_unknown_keys():
    table = findings.compare({"included_appraisal": 299, "searchlight_tests": 516_096})
    assert table["difference"].tolist() == [-1.0, 0.0]
    with pytest.raises(ValueError, match="unknown paper number"):
        findings.compare({"rho_k4000": -0.5})  # a result value the method notes leave out: not in the table


def test_data_findings_reproduce_the_stated_counts_except_the_appraisal_participant():
    facts, table = findings.data_findings(data.task_table(seed=1, split="dev"))
    assert facts["n_compared"] == len(table) and facts["n_match"] == len(table) - 1
    assert 0.5 <= facts["chance_low"] <= facts["chance"] <= facts["chance_high"] < 0.6
    assert "appraisal" in facts["verdict"]


def test_wording_changes_with_the_numbers():
    assert wording.format_p(0.0) == "p < 0.0001" and wording.format_p(0.2) == "p = 0.200"
    assert "disguised" in wording.confound_sentence(0.569, 0.544)
    assert "reading valence" in wording.confound_sentence(0.95, 0.6)
    assert wording.transfer_sentence(0.9, 0.8, 0.95, "p = 0.001", 50, "holds").endswith("**holds**.")
    assert "keeps the adjective's own sign" in wording.transfer_sentence(0.3, 0.2, 0.4, "p = 1", 50, "does not hold")
    assert "does not show that negation is composed" in wording.uncomposed_sentence(0.98, 0.99)
    assert "smallest value" in wording.random_floor_sentence("x", 1 / 21, 20)
    assert "no more" in wording.random_floor_sentence("x", 0.5, 20)
    assert wording.count_sentence(14, 14, "attributes are reliable", "are not") == "All 14 attributes are reliable."


def test_valence_findings_read_the_claim_and_the_confound_from_the_numbers():
    from emolib.emollm import composition
    from test_families import _synthetic

    data = {"valence": _synthetic(n_adj=40)}
    inference = composition.probe_inference(data, n_splits=4, inner_splits=2, n_boot=100, n_perm=199)
    comparison = pd.DataFrame([{"scale": "valence", "features": "residual", "layer": 3, "faithful E1": 0.9,
                                "centred E1": 0.71, "oracle E1": 0.70, "random-label E1": 0.5,
                                "centred - oracle": 0.01}])
    divergent = pd.DataFrame({"kind": ["matched", "opposite"], "template": "all", "accuracy": [0.9, 0.1],
                              "follows_adjective": [0.9, 0.9], "follows_contrast_cue": [0.5, 0.5]})
    crosstab = pd.DataFrame({"negative": [10, 14], "positive": [24, 24], "none": [3, 4]}, index=["high", "low"])
    facts = findings.valence_findings(inference, divergent, comparison, crosstab, {"accuracy": 0.569},
                                      {"all arousal prompts": 0.544, "arousal words not in the valence lists": 0.5})
    assert (facts["positive_low"], facts["positive_high"]) == (24, 24)
    assert "not a disguised valence set" in facts["confound_sentence"]
    assert facts["verdict"] == "holds" and facts["transfer_sentence"].endswith("**holds**.")  # negation flips here
    assert facts["layer"] == 1 and "follows the adjective" in facts["divergent_sentence"]
    assert facts["p_text"].startswith("p <= 5.0e-03 (the floor of 199 sign flips)")


def test_profile_reach_states_the_floor_of_each_permutation_p():
    reach = findings.profile_reach("quick")
    assert reach.loc["steering", "smallest p"].startswith("1/201")
    assert "12" in reach.loc["prompt accuracy", "setting"]


def test_tidy_executed_drops_stderr_and_shows_the_parameters_used(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'quick'\nbackbone = 'gpt2'  # a backbone, e.g. 'gpt2' = x\nseed = 1",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nprofile = \"smoke\"\nbackbone = \"tiny-llama\"\n",
                                  metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning"),
                                                nbformat.v4.new_output("stream", name="stdout", text="kept")])])
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    book.tidy_executed(path)
    cells = nbformat.read(path, as_version=4).cells
    assert len(cells) == 2 and cells[0].metadata["tags"] == ["parameters"]  # the injected cell is gone, no note
    assert cells[0].source == 'profile = "smoke"\nbackbone = "tiny-llama"  # a backbone, e.g. \'gpt2\' = x\nseed = 1'
    assert [o["text"] for o in cells[1].outputs] == ["kept"]


def _summary() -> pd.DataFrame:
    rows = [{"emotion": e, "condition": c, "k": 10, "mean": m, "se": 0.01}
            for e in ("joy", "grief") for c, m in (("w/o", 0.8), ("random", 0.6), ("attribute-specific", 0.3))]
    return pd.DataFrame(rows)


def test_accuracy_bars_start_at_zero_with_a_chance_line():
    fig = plots_masking.accuracy_bars(_summary(), 10, chance=0.52)  # the sample's computed chance, drawn at its value
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0.0
    assert any(np.allclose(line.get_ydata(), 0.52) for line in ax.get_lines())
    assert not plots_masking.accuracy_bars(_summary(), 10).axes[0].get_lines()  # no chance given: no line


def test_a_single_baseline_is_not_titled_paper_and_stars_can_be_left_out():
    table = pd.DataFrame([{"emotion": e, "k": 10, "diff": -0.1, "ci_low": -0.2, "ci_high": 0.0, "q": 0.001}
                          for e in ("joy", "grief")])
    fig = plots_masking.emotion_drop(table, 10, stars=False, baseline="pooled")
    ax = fig.axes[0]
    assert "*" not in "".join(t.get_text() for t in ax.texts)
    assert "not read" in ax.get_title()
    assert ax.get_legend_handles_labels()[1] == ["pooled baseline"]
    assert plots_masking._label("") == "random baseline"


def test_the_partial_global_sentence_sets_the_null_prompts_beside_and_is_empty_without_a_test():
    text = wording.partial_global_sentence(0.008, 0.033)
    assert "p = 0.008" in text and "p = 0.033 with null prompts" in text
    assert "null prompts)" not in wording.partial_global_sentence(0.008, float("nan"))
    assert wording.partial_global_sentence(float("nan"), 0.03) == ""


def _steering_tests(effect: float, control: float, projected: float, vs_projected: tuple[float, float, float]):
    """A held_out_tests frame: one valence direction, one contrast and its projected version at its alpha."""
    base = {"layer": 12, "alpha": 0.5, "ci_low": 0.0, "ci_high": 0.0, "random_mean": 0.0, "random_low": -1.0,
            "random_high": 1.0, "n_random": 200, "n_prompts": 8}
    rows = [base | {"direction": "emotion PC1", "role": "valence", "alpha_of": "emotion PC1", "effect": effect,
                    "z": effect, "p_random": 1 / 201 if effect > 1 else 0.3,
                    "p_controls": 1 / 3 if effect > control else 1.0,
                    "n_controls": 2, "control_max": max(control, projected), "vs_contrasts": effect - control,
                    "vs_contrasts_low": effect - control - 0.1, "vs_contrasts_high": effect - control + 0.1,
                    "vs_projected": vs_projected[0], "vs_projected_low": vs_projected[1],
                    "vs_projected_high": vs_projected[2]},
            base | {"direction": "sadness - fear", "role": "contrast", "alpha_of": "emotion PC1", "effect": control,
                    "z": control, "p_random": 0.4},
            base | {"direction": "emotion PC1 (projected)", "role": "projected", "alpha_of": "emotion PC1",
                    "effect": projected, "z": projected, "p_random": 0.2}]
    return pd.DataFrame(rows)


def test_steering_findings_read_the_controls_honestly():
    above = findings.steering_findings(_steering_tests(2.0, 0.3, 1.9, (0.1, -0.2, 0.4)), 200)
    assert "more than all 200 random directions" in above["sentence"] and above["p_random"] == pytest.approx(1 / 201)
    assert "more than all 1 emotion contrasts of similar valence" in above["control_sentence"]
    assert "the smallest value 1 controls allow" in above["control_sentence"]
    assert "makes no detectable difference" in above["control_sentence"]
    below = findings.steering_findings(_steering_tests(0.5, 0.8, 0.1, (0.4, 0.2, 0.6)), 200)
    assert "no more than random directions" in below["sentence"]
    assert "1 of its 1 emotion contrasts" in below["control_sentence"] and "not specific" in below["control_sentence"]
    assert "lowers the shift by 0.40 [0.20, 0.60]" in below["control_sentence"]
    assert below["summary"].startswith(below["sentence"])


def test_steering_findings_read_the_slope_and_the_behaviour():
    tests = _steering_tests(2.0, 0.3, 1.9, (0.1, -0.2, 0.4))
    slopes = pd.DataFrame([{"direction": "emotion PC1", "slope": 4.0, "ci_low": 3.0, "ci_high": 5.0, "random_low": -2.0,
                            "random_high": 2.0, "p_random": 1 / 201, "n_random": 200}])
    slopes.attrs["alphas"] = [-0.5, -0.25, 0.25, 0.5]
    row = {"direction": "emotion PC1", "draw": 0, "role": "valence", "alpha": 0.5, "difference": 0.1, "ci_low": -0.2,
           "ci_high": 0.4, "hits_minus": 3, "hits_plus": 4, "distinct_minus": 0.9, "distinct_plus": 0.8}
    behaviour = pd.DataFrame([row, row | {"direction": "random", "role": "random", "difference": 0.5}])
    facts = findings.steering_findings(tests, 200, slopes, behaviour)
    assert "+4.00 [+3.00, +5.00]" in facts["slope_sentence"] and "-0.5, -0.25, 0.25, 0.5" in facts["slope_sentence"]
    assert "too few" in facts["behaviour_sentence"]  # 7 adjectives in all
    facts = findings.steering_findings(tests, 200, slopes, behaviour.assign(hits_minus=6, hits_plus=8))
    assert "no reliable shift" in facts["behaviour_sentence"]
    assert "1 of them by at least as much" in facts["behaviour_sentence"]
    silent = findings.steering_findings(tests, 200, slopes, behaviour.assign(hits_minus=0, hits_plus=0))
    assert "no shipped valence adjective" in silent["behaviour_sentence"]
    masked = pd.DataFrame(columns=behaviour.columns)
    masked.attrs["note"] = "tiny-roberta is a masked LM: it fills a masked word but writes no continuation"
    assert "masked LM" in findings.steering_findings(tests, 200, slopes, masked)["behaviour_sentence"]
