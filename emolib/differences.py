"""Every deliberate difference between emobook and the originals, with the code that implements it.

The book's "Differences from the originals" page renders :data:`DIFFERENCES`; :func:`check_references`
(run by the page and by the tests) verifies that each entry's ``where`` names an existing object of
emolib and its ``chapter`` an existing chapter, so the list cannot silently drift from the code.

Example:
    >>> from emolib.differences import DIFFERENCES, check_references
    >>> check_references()
    >>> sorted({d["area"] for d in DIFFERENCES})[:2]
    ['Emotion inference with soft prompts', 'Human emotion knowledge']
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["DIFFERENCES", "check_references", "profile_changes", "profile_sentence"]


def _d(area: str, what: str, original: str, emobook: str, where: str, chapter: str) -> dict[str, str]:
    return {"area": area, "what": what, "original": original, "emobook": emobook, "where": where, "chapter": chapter}


def _changes(profile: str) -> str:
    """The profile's departures, read from the settings when the list is rendered (never typed by hand)."""
    return "; ".join(profile_changes(profile)) + "."


_HUMAN = "Human emotion knowledge"
_NEURONS = "Neurons that track attributes"
_MASKING = "Silencing attribute neurons"
_PROMPTS = "Emotion inference with soft prompts"
_BACKBONE = "The paper on any backbone"
_VALENCE = "Valence and arousal (Emo_LLM)"

#: One entry per difference: area, what, original, emobook, where (dotted path), chapter (file stem).
DIFFERENCES: list[dict[str, str]] = [
    _d(_HUMAN, "Appraisal inclusion.", "The text says 300 participants.",
       "The stated criteria keep 299, which reproduce the released appraisal distances (to ~1e-14) and the "
       "authors' subject list.", "emolib.released.appraisal_ratings", "human_space"),
    _d(_HUMAN, "R's numerics.", "R scripts writing tables with data.table::fwrite (15 significant digits).",
       "The same arithmetic in numpy, with fwrite's rounding emulated so that recomputed tables equal the "
       "released ones exactly.", "emolib.rcompat.fwrite_round_trip", "human_space"),
    _d(_HUMAN, "Random streams.", "set.seed(6) in R for the bootstrap and parallel analysis.",
       "numpy's seeded generator; intervals differ from any R run by Monte-Carlo error only.",
       "emolib.human.space.bootstrap_taus", "human_space"),
    _d(_HUMAN, "Bootstrap ties.", "Float noise in resampled mean RDMs breaks ties at random.",
       "Resampled means are rounded to 9 decimals before Kendall's tau so exact ties stay ties.",
       "emolib.human.space.bootstrap_taus", "human_space"),
    _d(_HUMAN, "ICC intervals.", "psych::ICC bounds are 90 % two-sided intervals labelled as 95 %.",
       "Both the psych bounds and proper 95 % intervals are reported.", "emolib.human.icc", "human_space"),
    _d(_HUMAN, "FDR over the human weights.",
       "q over a larger, unreleased set of RDM x attribute cells, with p N / rank(p).",
       "q over the 14 human cells, Benjamini-Hochberg beside the paper's q.", "emolib.stats.bh_q", "human_space"),
    _d(_NEURONS, "The searchlight engine.", "516,096 cor.test calls in R.",
       "Exact tie-corrected Kendall tau-b from integer sign products in vectorised torch (CPU or GPU), equal "
       "to scipy/R; R's parsing, long-double means and the CSV round trip are emulated where they decide ties.",
       "emolib.rsa.rankcorr.kendall_tau_b", "neurons_released"),
    _d(_NEURONS, "FDR.", "p N / rank(p) without the monotone step (can exceed 1).",
       "Reported as the paper's q, with Benjamini-Hochberg beside it.", "emolib.rsa.searchlight.SearchlightResult", "neurons_released"),
    _d(_NEURONS, "A permutation test.",
       "Kendall tau-b's asymptotic p as if the 351 emotion pairs were independent (each emotion enters 26 pairs); "
       "anti-conservative (about 9 % rejections at alpha = .01 on random data).",
       "The same tau with a label-permutation (Mantel) p shared by all tests, the permutation FDR and the "
       "max-statistic FWER; the paper's q is kept and shown beside them.",
       "emolib.rsa.permutation.permutation_searchlight", "neurons_released"),
    _d(_NEURONS, "Outlier prompts.", "No robustness handling; three released prompts dominate many unit RDMs.",
       "The outliers are diagnosed and the searchlight is shown without them.", "emolib.rsa.rdms.prompt_influence",
       "neurons_released"),
    _d(_NEURONS, "Whole-layer RSA.", "Units only.", "Added: RDMs of whole layers and of the whole model.",
       "emolib.rsa.rdms.model_rdms", "neurons_released"),
    _d(_MASKING, "Random baseline.",
       "One unseeded random mask per attribute label and k, shared by all 324 prompts; some draws are catastrophic.",
       "The paper's pairing and a pooled baseline (mean over the random masks of the same k) side by side.",
       "emolib.paper.manipulation.paired_differences", "silencing_released"),
    _d(_MASKING, "FDR.", "p N / rank(p).", "Reported with Benjamini-Hochberg beside it.",
       "emolib.paper.manipulation.paired_tests", "silencing_released"),
    _d(_MASKING, "Human weights.", "Read from an unreleased file.",
       "Recomputed from the released RDMs with a seeded bootstrap.", "emolib.human.space.attribute_weights",
       "silencing_released"),
    _d(_BACKBONE, "Masked evaluation.",
       "The model rebuilt for every prompt and mask, comments padded to 256 tokens, the LM head at every "
       "position, mean of per-batch accuracies (batch 100).",
       "One model, masks as a batch dimension, dynamic padding, the two verbalizer rows at the read-out only; "
       "exact accuracy by default, the original's batch-100 mean as an option.",
       "emolib.paper.masked_eval.masked_accuracy", "backbone_silencing"),
    _d(_BACKBONE, "Mask sizes.", "Counts of RoBERTa's 36,864 units (500 ... 6000).",
       "The same fractions of any backbone's units.", "emolib.profiles.PAPER_K", "backbone_silencing"),
    _d(_BACKBONE, "A null-prompt control.", "None.",
       "The whole pipeline also runs on untrained prompts (the shared initialisation moved as far as training "
       "moved it, in random directions); a claim holds in the verdict only if it beats this control.",
       "emolib.paper.control.null_control", "backbone_silencing"),
    _d(_BACKBONE, "Masking tests.", "Paired t-tests and a Fisher-z t-test of the per-emotion correlations.",
       "Beside them: a sign-flip permutation test over prompts and a permutation of the human weights across the "
       "attributes, which assume neither normality nor independent attributes.",
       "emolib.paper.masking_tests.weight_permutation_test", "backbone_silencing"),
    _d(_BACKBONE, "Random controls.", "One unseeded draw per attribute label.",
       "Several seeded draws per k (pooled baseline); the paper profile adds one draw per label.",
       "emolib.paper.units.random_masks", "backbone_silencing"),
    _d(_BACKBONE, "Causal LMs.", "RoBERTa only: a prepended mask token is the read-out.",
       "Any supported family; for causal LMs the prompt comes first and the read-out is the last position "
       "(next-token verbalizer).", "emolib.paper.layouts.PromptScorer", "backbone_neurons"),
    _d(_PROMPTS, "One job, not 324 processes.", "One training process per emotion x seed, batch 1.",
       "All prompts trained together as a bank; each prompt's update equals training it alone (tested).",
       "emolib.paper.train.train_bank", "prompt_tuning"),
    _d(_PROMPTS, "Padding and the LM head.", "Comments padded to 256 tokens; the LM head at every position.",
       "Dynamic padding; only the two verbalizer rows at the read-out (pads are masked: same logits).",
       "emolib.paper.layouts.PromptScorer", "prompt_tuning"),
    _d(_PROMPTS, "Position ids.", "0..T-1 over mask, prompt, text and pads (RoBERTa's padding row used).",
       "The model's own convention over real tokens; the original's quirk as an option.",
       "emolib.profiles.PromptSettings", "prompt_tuning"),
    _d(_PROMPTS, "A test split.", "Only the dev sample (selection, reported accuracy and masking).",
       "Dev as the original, plus a test sample drawn with the paper's sampling.", "emolib.paper.prompts.train_prompts",
       "prompt_tuning"),
    _d(_PROMPTS, "The standard profile.", "RoBERTa-base, 100-token prompts in front of the comment.",
       "A causal LM that learns within hours of a CPU, on Gemma 3 270M (a 4-bit Q4_K_M GGUF dequantised to float32): "
       "{standard}", "emolib.profiles.PromptSettings", "prompt_tuning"),
    _d(_PROMPTS, "Quick profile.", "12 seeds, full tasks, 100-token prompts, 256 tokens.",
       "For CPU minutes: {quick}", "emolib.profiles.PromptSettings", "prompt_tuning"),
    _d(_VALENCE, "Residual-stream features.", "Value vectors only.",
       "Beside the value vectors, the residual stream after each layer (the block's output), read through the "
       "same hook as the emotion vectors and the site steering adds to, so a probe direction of layer l can be "
       "steered at layer l.", "emolib.model.hooks.record", "valence_arousal"),
    _d(_VALENCE, "Families as the unit.", "One unseeded split; E1 holds out single adjectives, E2 single templates; no "
       "intervals.",
       "Every lemma family (E1) and template family (E2) held out once; family-bootstrap intervals and sign-flip tests "
       "over families; the layer chosen by an inner cross-validation on the training families.",
       "emolib.emollm.families.family_cv", "valence_arousal"),
    _d(_VALENCE, "Baselines.", "None.",
       "A baseline additive in the adjective and the template (no oracle, no interaction) for the claim, the oracle "
       "told the negation flag beside it, and a label-shuffling control; E3 only as a memorisation check.",
       "emolib.emollm.composition.probe_inference", "valence_arousal"),
    _d(_VALENCE, "Divergent templates.", "Not in Emo_LLM.",
       "Four template pairs in which the character feels the opposite of (or the same as) the adjective without a "
       "negation word, scored against the character's state.", "emolib.emollm.divergent.divergent_accuracy",
       "valence_arousal"),
    _d(_VALENCE, "Emotion vectors.", "Not in Emo_LLM.",
       "Mean residual activation per emotion over GoEmotions comments minus the overall mean; PCs against human "
       "valence and arousal with bootstrap CIs; RSA against the similarity judgments.",
       "emolib.emollm.vectors.pc_correlations", "valence_arousal"),
    _d(_VALENCE, "Steering.", "Probe weights added to cached attention values in all layers; no control; little "
       "signal reported.",
       "A unit direction added to the residual stream of one layer, scaled to its typical size; the valence "
       "log-odds shift against 200 random directions, emotion contrasts that are not valence and the direction with "
       "the read-out words' unembedding projected out, on held-out prompts, with a dose-response slope and a "
       "behavioural read-out from greedy continuations.",
       "emolib.emollm.steering_run.steering_with_controls", "valence_arousal"),
]



def profile_changes(profile: str) -> list[str]:
    """How ``profile`` departs from the paper's protocol, one phrase per setting, read from :mod:`emolib.profiles`.

    Example:
        >>> profile_changes("paper")
        []
        >>> profile_changes("standard")[:2]
        ['3 seeds instead of 12', '8 prompt tokens instead of 100']
    """
    from emolib import profiles
    from emolib.paper.units import resolve_k

    ours, paper = profiles.settings("prompts", profile), profiles.settings("prompts", "paper")
    out = []
    if ours.seeds != paper.seeds:
        out.append(f"{len(ours.seeds)} seed{'s' if len(ours.seeds) > 1 else ''} instead of {len(paper.seeds)}")
    if ours.n_tokens != paper.n_tokens:
        out.append(f"{ours.n_tokens} prompt tokens instead of {paper.n_tokens}")
    if ours.prompt_position != paper.prompt_position:
        out.append(f"the prompt {ours.prompt_position} the comment (its tokens can read the text)")
    if ours.init != paper.init:
        out.append(f'the prompt initialised from the text "{ours.init.strip()}", the same for every emotion')
    if ours.verbalizer != paper.verbalizer:
        out.append(f"the verbalizer {ours.verbalizer[0]}/{ours.verbalizer[1]} instead of "
                   f"{paper.verbalizer[0]}/{paper.verbalizer[1]}")
    if (ours.lr, ours.batch_size, ours.epochs) != (paper.lr, paper.batch_size, paper.epochs):
        out.append(f"lr {ours.lr:g}, batch {ours.batch_size}, {ours.epochs} epochs (paper: {paper.lr:g}, "
                   f"{paper.batch_size}, {paper.epochs})")
    if ours.train_size is not None:
        out.append(f"tasks subsampled to {ours.train_size}/{ours.dev_size}/{ours.test_size} train/dev/test "
                   "examples per emotion (label-stratified, seeded)")
    if ours.max_length != paper.max_length:
        out.append(f"comments cut at {ours.max_length} tokens instead of {paper.max_length}")
    if ours.accuracy_batch != paper.accuracy_batch:
        out.append("plain accuracy instead of the mean of per-batch accuracies over batches of 256")
    if ours.dropout != paper.dropout:
        out.append("no dropout" if not ours.dropout else "dropout")
    if ours.precision == "bf16":
        out.append("bf16 training")
    masking, paper_masking = profiles.settings("masking", profile), profiles.settings("masking", "paper")
    if masking.seeds is not None or masking.dev_size is not None or masking.k_values != paper_masking.k_values:
        seeds = masking.seeds or ours.seeds
        ks = ", ".join(f"{resolve_k(k, profiles.PAPER_UNITS):,}" for k in masking.k_values)
        out.append(f"a masked evaluation of seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} on "
                   f"{masking.dev_size or ours.dev_size or 'all'} dev examples at k = {ks} with "
                   f"{masking.n_draws} random draws per k")
    return out


def profile_sentence(profile: str) -> str:
    """The run's profile against the paper's protocol in one sentence, for a chapter's Differences box.

    Example:
        >>> print(profile_sentence("paper"))
        This build ran the `paper` profile: the original protocol.
    """
    changes = profile_changes(profile)
    if not changes:
        return f"This build ran the `{profile}` profile: the original protocol."
    return (f"This build ran the `{profile}` profile, which departs from the paper's protocol in: " + "; ".join(changes)
            + ". The `paper` profile restores the original settings (meant for a GPU).")


def check_references(root: Path | None = None) -> None:
    """Raise ValueError if an entry names a missing emolib object or chapter."""
    root = root or Path(__file__).resolve().parent.parent
    for entry in DIFFERENCES:
        module_name, _, attr = entry["where"].rpartition(".")
        try:
            module = importlib.import_module(entry["where"])
        except ModuleNotFoundError:
            module = importlib.import_module(module_name)
            if not hasattr(module, attr):
                raise ValueError(f"difference {entry['what']!r} names {entry['where']!r}, which does not exist") from None
        book = root / "book"
        if book.is_dir() and not (book / f"{entry['chapter']}.md").is_file():
            raise ValueError(f"difference {entry['what']!r} names chapter {entry['chapter']!r}, which does not exist")


for _entry in DIFFERENCES:
    if "{standard}" in _entry["emobook"] or "{quick}" in _entry["emobook"]:
        _entry["emobook"] = _entry["emobook"].format(standard=_changes("standard"), quick=_changes("quick"))
