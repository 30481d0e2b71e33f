"""``emolib verify``: recompute a sample of every shipped (or cached) artifact and compare it with its values.

Checksums prove that a file is the file that was written; they cannot prove that today's code writes it. This
module recomputes a sample of each artifact with the repository's code and compares within stated
tolerances (:data:`TOLERANCES`):

- **prompts**: a sample of prompts re-evaluated on their dev and test sets (accuracy identical); with
  ``full=True`` (emotion, seed) pairs retrained alone, which must give the same dev and test accuracies and the
  same prompt (within ``prompt``);
- **activations**: the read-out activations of a sample of prompts (the store's, or its null prompts);
- **searchlight** / **searchlight-released**: tau of a sample of units, the sham taus, and the first
  permutations of the permutation null (maxima and the paper's count);
- **masked-eval**: a shard (one prompt under a few masks, every example): correctness identical, margins
  within ``margin``.

An artifact made by another version of its stage fails as stale. Every failure names the artifact, the value
and the tolerance.

Example:
    >>> sorted(TOLERANCES)
    ['accuracy', 'activation', 'margin_bf16', 'margin_fp32', 'prompt', 'tau']
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from emolib.artifacts import Artifact, load_arrays, shipped_root
from emolib.versions import STAGE_VERSIONS

__all__ = ["TOLERANCES", "Check", "verify", "report"]

logger = logging.getLogger(__name__)

#: What "the same" means for each kind of value (absolute). Accuracies are counts of examples: identical.
#: Prompts retrained alone: bit-identical on one machine, within 1e-5 elsewhere (tests/test_train.py).
#: Activations are fp32 forward passes; margins are logit differences, in fp32 or in bf16 (one bf16 step of a
#: logit near 20 is 0.125); taus are exact integer arithmetic, so 1e-9.
TOLERANCES = {"accuracy": 0.0, "prompt": 1e-5, "activation": 1e-4, "margin_fp32": 1e-3, "margin_bf16": 0.25,
              "tau": 1e-9}


@dataclass(frozen=True)
class Check:
    """One comparison: ``artifact`` (folder name), ``what`` was compared, the largest ``difference``, the
    ``tolerance`` and whether it passed (``ok``); ``detail`` says which value differed."""

    artifact: str
    what: str
    difference: float
    tolerance: float
    ok: bool
    detail: str = ""


def _compare(name: str, what: str, recomputed, shipped, tolerance: float, labels=None) -> Check:
    a, b = np.asarray(recomputed, dtype=np.float64), np.asarray(shipped, dtype=np.float64)
    if a.shape != b.shape:
        return Check(name, what, np.inf, tolerance, False, f"recomputed shape {a.shape}, shipped {b.shape}")
    diff = np.abs(a - b)
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, diff)
    worst = float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))) if diff.size else 0.0
    detail = ""
    if worst > tolerance:
        i = int(np.argmax(np.where(np.isnan(diff), np.inf, diff)))
        where = labels[i] if labels is not None and i < len(labels) else f"entry {np.unravel_index(i, a.shape)}"
        detail = f"{where}: shipped {b.flat[i]:.6g}, recomputed {a.flat[i]:.6g}"
    return Check(name, what, worst, tolerance, worst <= tolerance, detail)


class _Context:
    """Backbones and prompt stores of a root, loaded once and found by fingerprint."""

    def __init__(self, root: Path, device: str) -> None:
        self.root, self.device = root, device
        self._backbones: dict[str, object] = {}
        self._stores: dict[str, tuple[object, str]] | None = None

    def backbone(self, identity: dict):
        from emolib.model.backbones import load_backbone

        name = identity["name"]
        if name not in self._backbones:
            bb = load_backbone(name, device=self.device)
            if bb.identity != identity:
                raise ValueError(f"backbone {name!r} here is {bb.identity}, the artifact was made with {identity}")
            self._backbones[name] = bb
        return self._backbones[name]

    def stores(self) -> dict[str, tuple[object, str]]:
        """Fingerprint -> (store, folder name): each store, its null prompts, and each one's single-seed selections
        (the masked evaluation runs on a selection of seeds)."""
        from emolib.paper.control import null_prompts
        from emolib.paper.store import PromptStore

        if self._stores is None:
            self._stores = {}
            for folder in sorted(self.root.glob("prompts-*/store")):
                store = PromptStore.load(folder)
                self._add(store, folder.parent.name)
                meta = json.loads((folder.parent / "meta.json").read_text())
                try:
                    bb = self.backbone(meta["inputs"]["backbone"])
                except (ValueError, OSError) as err:
                    logger.warning("no null prompts for %s: %s", folder.parent.name, err)
                    continue
                null = PromptStore(null_prompts(bb, store, 0), store.index, profile=store.profile,
                                   backbone=store.backbone)
                self._add(null, folder.parent.name + " (null prompts)")
        return self._stores

    def _add(self, store, name: str) -> None:
        self._stores[store.fingerprint()] = (store, name)
        if len(store.seeds) > 1:
            for seed in store.seeds:
                part = store.select([seed])
                self._stores[part.fingerprint()] = (part, f"{name}, seed {seed}")

    def store(self, fingerprint: str):
        found = self.stores().get(fingerprint)
        if found is None:
            raise ValueError(f"no prompt store with fingerprint {fingerprint} under {self.root}")
        return found


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def _prompts(folder: Path, meta: dict, ctx: _Context, rng, sample: int, full: bool, pairs) -> list[Check]:
    from emolib.paper import prompts as pr
    from emolib.paper.store import PromptStore
    from emolib.paper.train import Examples, evaluate_bank

    store = PromptStore.load(folder / "store")
    settings = pr.store_settings(store)
    bb = ctx.backbone(meta["inputs"]["backbone"])
    scorer = pr.make_scorer(bb, settings)
    precision = meta["inputs"]["precision"]
    chosen = _sample(len(store), sample, rng)
    checks = []
    for split in ("dev", "test"):
        data = []
        for i in chosen:
            emotion, seed = store.index.iloc[i]
            task = pr.task_split(emotion, int(seed), split, settings)
            data.append(Examples(scorer.encode(task["text"].tolist()), task["label"].to_numpy()))
        acc, _ = evaluate_bank(scorer, store.prompts[chosen].to(bb.device), data, micro_batch=settings.micro_batch,
                               accuracy_batch=settings.accuracy_batch, precision=precision)
        table = store.accuracy[store.accuracy["split"] == split].set_index(["emotion", "seed"])["accuracy"]
        labels = [f"{e}/{s} {split} accuracy" for e, s in store.index.iloc[chosen].itertuples(index=False)]
        shipped = [table.loc[(e, int(s))] for e, s in store.index.iloc[chosen].itertuples(index=False)]
        checks.append(_compare(folder.name, f"{split} accuracy of {len(chosen)} prompts", acc, shipped,
                               TOLERANCES["accuracy"], labels))
    if full:
        for emotion, seed in pairs or [tuple(store.index.iloc[chosen[0]])]:
            with tempfile.TemporaryDirectory() as tmp:
                alone = pr.train_prompts(bb, settings, emotions=[emotion], seeds=[int(seed)], device=bb.device,
                                         root=tmp, progress=False)
            i = store.position(emotion, int(seed))
            checks.append(_compare(folder.name, f"{emotion}/{seed} retrained alone: prompt", alone.prompts[0],
                                   store.prompts[i], TOLERANCES["prompt"]))
            for split in ("dev", "test"):
                mine = alone.accuracy[alone.accuracy["split"] == split]["accuracy"].iloc[0]
                theirs = store.accuracy[(store.accuracy["split"] == split) & (store.accuracy["emotion"] == emotion)
                                        & (store.accuracy["seed"] == int(seed))]["accuracy"].iloc[0]
                checks.append(_compare(folder.name, f"{emotion}/{seed} retrained alone: {split} accuracy", [mine],
                                       [theirs], TOLERANCES["accuracy"], [f"{emotion}/{seed} {split} accuracy"]))
    return checks


def _activations(folder: Path, meta: dict, ctx: _Context, rng, sample: int) -> list[Check]:
    from emolib.paper import prompts as pr
    from emolib.paper import units

    store, source = ctx.store(meta["inputs"]["prompts"])
    bb = ctx.backbone(meta["inputs"]["backbone"])
    shipped = load_arrays(folder / "activations.npz")["activations"]
    chosen = _sample(len(store), sample, rng)
    scorer = pr.make_scorer(bb, pr.store_settings(store))
    values = units.prompt_activations(bb, store.prompts[chosen], scorer)
    return [_compare(folder.name, f"activations of {len(chosen)} prompts ({source})", values, shipped[chosen],
                     TOLERANCES["activation"] * max(1.0, float(np.abs(shipped).max())))]


def _searchlight_checks(name: str, result, rdms: np.ndarray, targets: pd.DataFrame, rng, sample: int,
                        sham_seed: int = 1, n_perm: int = 1, cube: np.ndarray | None = None,
                        n_splits: int = 20) -> list[Check]:
    from emolib import rsa
    from emolib.rsa.permutation import permutation_searchlight

    units = _sample(rdms.shape[1], sample * 64, rng)
    tau, _ = rsa.kendall_tau_b(rdms[:, units], targets.to_numpy(np.float64))
    checks = [_compare(name, f"tau of {len(units)} units", tau, result.tau.to_numpy()[units], TOLERANCES["tau"])]
    if result.sham_tau is not None:
        shams = rsa.sham_targets(targets, result.sham_tau.shape[1], sham_seed)
        sham, _ = rsa.kendall_tau_b(rdms[:, units], shams.to_numpy())
        checks.append(_compare(name, f"sham tau of {len(units)} units", sham, result.sham_tau.to_numpy()[units],
                               TOLERANCES["tau"]))
    if result.partial is not None:
        from emolib.emotions import PAPER_ORDER
        from emolib.paper.pipeline import cooccurrence_global_test

        order = list(PAPER_ORDER) if len(targets) == 351 else None
        if order is not None:
            again = cooccurrence_global_test(rdms, targets, order, 1)
            checks.append(_compare(name, "largest partial correlation (co-occurrence partialled out)",
                                   [again["max_r"]], [result.partial["max_r"]], TOLERANCES["tau"]))
    if result.reliability is not None and cube is not None:
        again = rsa.unit_reliability(cube[:, :, units], n_splits=n_splits)
        checks.append(_compare(name, f"reliability of {len(units)} units", again["reliability"],
                               result.reliability["reliability"].to_numpy()[units], TOLERANCES["tau"]))
    null = result.permutation
    if null is not None and null.n_permutations >= n_perm:
        again = permutation_searchlight(rdms, targets, n_perm, null.seed, device="cpu")
        checks.append(_compare(name, f"null maxima of the first {n_perm} permutations", again.null_max,
                               null.null_max[:n_perm], TOLERANCES["tau"]))
        if null.null_count is not None:
            checks.append(_compare(name, f"paper's count under the first {n_perm} permutations and observed",
                                   list(again.null_count) + [again.obs_count],
                                   list(null.null_count[:n_perm]) + [null.obs_count], 0.0))
    return checks


def _searchlight(folder: Path, meta: dict, ctx: _Context, rng, sample: int) -> list[Check]:
    from emolib import human, rsa
    from emolib.paper.pipeline import activation_cube, load_searchlight, subset_rdms

    inputs = meta["inputs"]
    result = load_searchlight(folder)
    source = inputs["activations"]
    if not isinstance(source, dict):
        return [Check(folder.name, "source activations", np.nan, 0.0, True, "keyed by a hash; not traced")]
    matches = [f for f in ctx.root.glob("activations-*") if json.loads((f / "meta.json").read_text())["inputs"] == source]
    if not matches:
        return [Check(folder.name, "source activations", np.inf, 0.0, False, "its activations artifact is missing")]
    acts = load_arrays(matches[0] / "activations.npz")["activations"]
    index = pd.read_csv(matches[0] / "index.csv")
    order = inputs.get("emotions")
    cube, _ = activation_cube(acts, index, order)
    from emolib.emotions import PAPER_ORDER

    targets = subset_rdms(human.attribute_rdms(human.DOWNSTREAM_SOURCE), order or PAPER_ORDER)
    return _searchlight_checks(folder.name, result, rsa.unit_rdms(cube), targets, rng, sample,
                               int(inputs.get("sham_seed", 1)), cube=cube)


def _searchlight_released(folder: Path, meta: dict, ctx: _Context, rng, sample: int) -> list[Check]:
    from emolib import rcompat, released, rsa
    from emolib.emotions import PAPER_ORDER, PAPER_SEEDS
    from emolib.paper.pipeline import load_searchlight

    inputs = meta["inputs"]
    result = load_searchlight(folder)
    acts = released.activations(order=PAPER_ORDER)
    values = rcompat.parse_float32_as_r(acts.values) if inputs["emulate_r"] else \
        np.asarray(acts.values.astype(str), dtype=np.float64)
    valid = rsa.prompt_mask(PAPER_ORDER, PAPER_SEEDS, [tuple(x) for x in inputs["exclude"]])
    rdms = rsa.unit_rdms(values, valid=valid, emulate_r=inputs["emulate_r"])
    return _searchlight_checks(folder.name, result, rdms, released.attribute_distances(), rng, sample, cube=values,
                               n_splits=10)


def _masked_eval(folder: Path, meta: dict, ctx: _Context, rng, sample: int) -> list[Check]:
    from emolib import profiles
    from emolib.paper import prompts as pr
    from emolib.paper.masked_eval import load_examples, masked_logits

    if not (folder / "examples.npz").is_file():
        return [Check(folder.name, "per-example results", np.inf, 0.0, False,
                      "written by an older version without its masks and examples")]
    inputs = meta["inputs"]
    store, source = ctx.store(inputs["prompts"])
    bb = ctx.backbone(inputs["backbone"])
    settings = profiles.settings("prompts", pr.store_settings(store),
                                 **{k: (tuple(v) if isinstance(v, list) else v) for k, v in inputs["profile"].items()
                                    if k in ("dev_size", "test_size")})
    scorer = pr.make_scorer(bb, settings)
    examples = load_examples(folder)
    table = pd.read_csv(folder / "accuracy.csv", keep_default_na=False)
    prompts_order = table[["emotion", "seed"]].drop_duplicates().reset_index(drop=True)
    p = int(rng.integers(len(prompts_order)))
    emotion, seed = prompts_order.iloc[p]
    n_masks = examples["masks"].shape[0]
    masks = np.unique(np.concatenate([[0], rng.choice(n_masks, size=min(sample + 1, n_masks), replace=False)]))
    task = pr.task_split(emotion, int(seed), inputs["split"], settings)
    logits = masked_logits(bb, scorer, store.get(emotion, int(seed)), task["text"].tolist(),
                           torch.from_numpy(examples["masks"][masks]), precision=inputs["precision"])
    n = int(examples["n"][p])
    correct = (logits.argmax(-1).numpy() == task["label"].to_numpy()[None, :]).astype(np.float64)
    margin = (logits[..., 1] - logits[..., 0]).numpy()
    tol = TOLERANCES["margin_bf16" if inputs["precision"] == "bf16" else "margin_fp32"]
    what = f"{emotion}/{seed} under {len(masks)} masks ({source})"
    return [_compare(folder.name, f"correctness of {what}", correct, examples["correct"][p, masks, :n], 0.0),
            _compare(folder.name, f"margins of {what}", margin, examples["margin"][p, masks, :n], tol)]


_CHECKS = {"prompts": _prompts, "activations": _activations, "searchlight": _searchlight,
           "searchlight-released": _searchlight_released, "masked-eval": _masked_eval}


def verify(root: str | Path | None = None, sample: int = 2, full: bool = False,
           pairs: list[tuple[str, int]] | None = None, device: str = "cpu", seed: int = 0,
           stages: list[str] | None = None) -> list[Check]:
    """Recompute a sample of every artifact under ``root`` (default: the shipped artifacts) and compare.

    Args:
        root: an artifact root (``data/artifacts``, ``.emolib`` or ``$EMOLIB_ARTIFACTS``).
        sample: prompts (and 64 x ``sample`` units, ``sample + 1`` masks) to recompute per artifact.
        full: also retrain prompts alone (``pairs``: ``(emotion, seed)``; default one sampled prompt).
        stages: only these stages (default all that can be checked).
    """
    root = Path(root) if root is not None else shipped_root()
    if root is None or not root.is_dir():
        raise ValueError(f"no artifact root to verify at {root}")
    if stages is not None:
        unknown = sorted(set(stages) - set(_CHECKS))
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}; valid choices: {', '.join(sorted(_CHECKS))}")
    rng = np.random.default_rng(seed)
    ctx = _Context(root, device)
    checks: list[Check] = []
    for folder in sorted(p for p in root.iterdir() if (p / "meta.json").is_file()):
        meta = json.loads((folder / "meta.json").read_text())
        stage = meta["stage"]
        if stage not in _CHECKS or (stages is not None and stage not in stages):
            continue
        Artifact(stage, meta["inputs"], root).verify()  # checksums first
        current = STAGE_VERSIONS.get(stage)
        if meta["inputs"].get("version") != current:
            checks.append(Check(folder.name, "stage version", np.inf, 0.0, False,
                                f"made by version {meta['inputs'].get('version')}, this code is version {current}"))
            continue
        logger.info("verifying %s", folder.name)
        kwargs = {"full": full, "pairs": pairs} if stage == "prompts" else {}
        try:
            checks.extend(_CHECKS[stage](folder, meta, ctx, rng, sample, **kwargs))
        except (ValueError, KeyError, OSError) as err:
            checks.append(Check(folder.name, "recomputation", np.inf, 0.0, False, str(err)))
    return checks


def report(checks: list[Check]) -> str:
    """A plain-text table of the checks, failures first, each naming the artifact, the value and the tolerance."""
    if not checks:
        return "nothing to verify"
    lines = []
    for c in sorted(checks, key=lambda c: (c.ok, c.artifact)):
        status = "ok  " if c.ok else "FAIL"
        lines.append(f"{status} {c.artifact}: {c.what}: largest difference {c.difference:.3g} (tolerance "
                     f"{c.tolerance:g}){'; ' + c.detail if c.detail else ''}")
    bad = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - bad} of {len(checks)} checks passed")
    return "\n".join(lines)
