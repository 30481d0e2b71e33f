"""Golden results: each expensive stage computed on a small fixed input, stored with the stage's version.

``tests/test_golden.py`` recomputes every stage here and compares with ``tests/golden/stages.json``. A change
of code that changes a stage's results fails that test until :data:`emolib.versions.STAGE_VERSIONS` is bumped
and the golden file regenerated (``python -m emolib.golden --write STAGE``); the bump invalidates every cached
and shipped artifact of that stage (:func:`emolib.versions.stale_message` names them and the command that
recomputes them). Tolerances hold across x86 CPUs: fp32 values to 1e-4 (relative to their scale), bf16
values to a few bf16 steps, counts and dev accuracies exactly.

Example:
    >>> sorted(STAGES)  # doctest: +NORMALIZE_WHITESPACE
    ['activations', 'emotion_vectors', 'masked-eval', 'null-control', 'prompts', 'representations', 'searchlight',
     'searchlight-released']
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from emolib.versions import version

__all__ = ["STAGES", "TOLERANCES", "GOLDEN_FILE", "compute", "compare", "load", "write"]

logger = logging.getLogger(__name__)

#: Where the golden results live (in the repository's tests).
GOLDEN_FILE = Path(__file__).resolve().parents[1] / "tests" / "golden" / "stages.json"
#: Absolute tolerance per value name suffix, as a share of the value's scale (max |value|); "exact" for counts.
TOLERANCES = {"fp32": 1e-4, "bf16": 3e-2, "exact": 0.0}
#: Which version of the pipeline a golden stage follows (null-control: the prompts' and activations' stages).
_VERSION_OF = {"null-control": "prompts"}


def _tiny_prompts(precision: str):
    """A three-prompt grid of the smoke profile on tiny-llama with the standard layout (prompt after the comment)."""
    from emolib.model import load_backbone
    from emolib.paper.prompts import train_prompts

    bb = load_backbone("tiny-llama", device="cpu")
    with tempfile.TemporaryDirectory() as root:
        store = train_prompts(bb, "smoke", emotions=["joy", "grief", "anger"], device="cpu", root=root,
                              progress=False, prompt_position="after", init="Is this comment about it?",
                              precision=precision, epochs=2)
    return bb, store


def _prompts() -> dict[str, list]:
    out = {}
    for precision in ("fp32", "bf16"):
        _, store = _tiny_prompts(precision)
        out[f"prompts_{precision}"] = store.prompts.flatten().tolist()
        out[f"accuracy_exact_{precision}"] = store.accuracy["accuracy"].tolist()
    return out


def _activations() -> dict[str, list]:
    from emolib.paper import prompts, units

    bb, store = _tiny_prompts("fp32")
    scorer = prompts.make_scorer(bb, prompts.store_settings(store))
    return {"activations_fp32": units.prompt_activations(bb, store.prompts, scorer).flatten().tolist()}


def _null_control() -> dict[str, list]:
    from emolib.paper.control import null_prompts

    bb, store = _tiny_prompts("fp32")
    return {"null_prompts_fp32": null_prompts(bb, store, seed=0).flatten().tolist()}


def _cube(n_units: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cube = rng.random((27, 2, n_units))
    cube[:, :, :4] += np.linspace(0, 1, 27)[:, None, None]  # four units with a graded geometry
    return cube


def _searchlight() -> dict[str, list]:
    from emolib import human, rsa

    targets = human.attribute_rdms(human.DOWNSTREAM_SOURCE)
    result = rsa.searchlight(rsa.unit_rdms(_cube()), targets, 24, permutations=20, seed=0, n_sham=3)
    null = result.permutation
    reliability = rsa.unit_reliability(_cube())
    from emolib.emotions import PAPER_ORDER
    from emolib.paper.pipeline import cooccurrence_global_test

    partial = cooccurrence_global_test(rsa.unit_rdms(_cube()), targets, PAPER_ORDER, 20, 0)
    return {"partial_fp32": [partial["max_r"], partial["p"], partial["n_units"]],
            "tau_fp32": np.nan_to_num(result.tau.to_numpy()).flatten().tolist(),
            "null_max_fp32": null.null_max.flatten().tolist(), "n_exceed_exact": null.n_exceed.flatten().tolist(),
            "null_count_exact": null.null_count.tolist() + [null.obs_count],
            "sham_tau_fp32": result.sham_tau.to_numpy().flatten().tolist(),
            "reliability_fp32": reliability["reliability"].tolist()}


def _searchlight_released() -> dict[str, list]:
    from emolib import rcompat, released, rsa
    from emolib.emotions import PAPER_ORDER

    acts = released.activations(order=PAPER_ORDER)
    values = rcompat.parse_float32_as_r(acts.values[:, :, :64])  # the released pipeline on 64 units
    rdms = rsa.unit_rdms(values, emulate_r=True)
    result = rsa.searchlight(rdms, released.attribute_distances(), 32, permutations=10, seed=0)
    reliability = rsa.unit_reliability(values, n_splits=10)
    return {"tau_fp32": np.nan_to_num(result.tau.to_numpy()).flatten().tolist(),
            "null_count_exact": result.permutation.null_count.tolist() + [result.permutation.obs_count],
            "reliability_fp32": reliability["reliability"].tolist()}


def _masked_eval() -> dict[str, list]:
    from emolib.paper import prompts, units
    from emolib.paper.masked_eval import masked_logits

    bb, store = _tiny_prompts("fp32")
    scorer = prompts.make_scorer(bb, prompts.store_settings(store))
    masks, _ = units.random_masks(bb.n_units, [0.2], n_draws=2, seed=1)
    masks = torch.cat([torch.ones(1, bb.n_units, dtype=torch.bool), masks])
    texts = prompts.task_split("joy", 1, "dev", prompts.store_settings(store))["text"].tolist()
    out = {}
    for precision in ("fp32", "bf16"):
        logits = masked_logits(bb, scorer, store.prompts[0], texts, masks, batch_size=4, precision=precision)
        out[f"margin_{precision}"] = (logits[..., 1] - logits[..., 0]).flatten().tolist()
    return out


def _representations() -> dict[str, list]:
    from emolib.emollm.prompts import representations
    from emolib.model import load_backbone

    bb = load_backbone("tiny-llama", device="cpu")
    reps = representations(bb, ["I feel happy.", "What a sad day", "Calm."], batch_size=2)
    return {f"{site}_fp32": np.asarray(v, dtype=np.float64).flatten().tolist() for site, v in sorted(reps.items())}


def _emotion_vectors() -> dict[str, list]:
    from emolib.emollm.vectors import emotion_vectors
    from emolib.model import load_backbone

    with tempfile.TemporaryDirectory() as root:
        ev = emotion_vectors(load_backbone("tiny-llama", device="cpu"), "smoke", root=root, device="cpu")
    return {"vectors_fp32": np.asarray(ev.vectors, dtype=np.float64).flatten().tolist()}


#: Stage -> the function that computes its golden values (small fixed inputs, CPU, seconds).
STAGES: dict[str, Callable[[], dict[str, list]]] = {
    "prompts": _prompts, "activations": _activations, "null-control": _null_control, "searchlight": _searchlight,
    "searchlight-released": _searchlight_released, "masked-eval": _masked_eval,
    "representations": _representations, "emotion_vectors": _emotion_vectors,
}


def stage_version(stage: str) -> int:
    """The version whose results a golden stage records."""
    return version(_VERSION_OF.get(stage, stage))


def compute(stage: str) -> dict:
    """``{"version": v, "values": {name: [...]}}`` of ``stage`` computed by this code."""
    if stage not in STAGES:
        raise ValueError(f"unknown golden stage {stage!r}; valid choices: {', '.join(sorted(STAGES))}")
    torch.manual_seed(0)
    return {"version": stage_version(stage), "values": STAGES[stage]()}


def load(path: Path = GOLDEN_FILE) -> dict:
    """The stored golden results (``{}`` when there are none)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def compare(stage: str, new: dict, stored: dict | None) -> list[str]:
    """Problems between recomputed (``new``) and stored golden results of ``stage`` (empty: they agree)."""
    if stored is None:
        return [f"no golden results for stage {stage!r}: write them with `python -m emolib.golden --write {stage}`"]
    if stored["version"] != new["version"]:
        return [f"stage {stage!r} is version {new['version']} but its golden results are of version "
                f"{stored['version']}: regenerate them with `python -m emolib.golden --write {stage}`"]
    problems = []
    for name, values in new["values"].items():
        if name not in stored["values"]:
            problems.append(f"{stage}: no golden values for {name!r}")
            continue
        a, b = np.asarray(values, dtype=np.float64), np.asarray(stored["values"][name], dtype=np.float64)
        kind = next((k for k in TOLERANCES if k in name), "fp32")
        if a.shape != b.shape:
            problems.append(f"{stage}: {name} has {a.size} values, the golden {b.size}")
            continue
        scale = max(float(np.nanmax(np.abs(b))) if b.size else 0.0, 1e-12)
        tolerance = TOLERANCES[kind] * scale
        worst = float(np.nanmax(np.abs(a - b))) if a.size else 0.0
        if worst > tolerance or not np.array_equal(np.isnan(a), np.isnan(b)):
            problems.append(
                f"stage {stage!r} ({name}) changed by {worst:.3g} (tolerance {tolerance:.3g}) while its version "
                f"stayed {new['version']}: if the change is meant, bump emolib.versions.STAGE_VERSIONS"
                f"[{_VERSION_OF.get(stage, stage)!r}], regenerate with `python -m emolib.golden --write {stage}` and "
                "recompute its artifacts; otherwise undo the change")
    return problems


def write(stages: list[str], path: Path = GOLDEN_FILE) -> None:
    """Recompute ``stages`` and store them in the golden file (the others stay)."""
    stored = load(path)
    for stage in stages:
        stored[stage] = compute(stage)
        logger.info("golden results of %s (version %d) written", stage, stored[stage]["version"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emolib.golden", description=__doc__.split("\n")[0])
    parser.add_argument("--write", nargs="*", metavar="STAGE", help="recompute and store these stages (none: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.write is not None:
        write(args.write or sorted(STAGES))
        return 0
    stored = load()
    bad = [p for stage in sorted(STAGES) for p in compare(stage, compute(stage), stored.get(stage))]
    for problem in bad:
        logger.error(problem)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
