"""Templates where the character's state and the sentence's words diverge, and what a valence probe reads on them.

Emo_LLM's negated templates flip the label with a negation word ("didn't feel {}"), so a probe can pass them by
composing the adjective with that word, whether or not it represents the character's state. The templates here
flip the state *without a negation word*: the character feels the opposite of an adjective that describes others
("Everyone at the party was {}, but Sara felt the exact opposite"). Each frame is crossed 2 x 2: the character's
state is the adjective's or its opposite, and it is said with a contrast word (but, except) or without one, so a
probe that flips after a contrast word is told apart from one that follows the character. A probe fitted on
Emo_LLM's templates (template-centred, as the rigorous probe) is scored on all four against three readings
(:func:`readings`):

- the character's state (right in all four cells);
- the adjective's own valence (right where the state matches, wrong where it is opposite);
- "flip after a contrast word" (right in the opposite/contrast and matched/plain cells only).

The set is small (:data:`DIVERGENT_TEMPLATES`, four frames written for this book), valence only, and its intervals
resample adjective families, not templates: a template-level caveat applies to every number.

Example:
    >>> frame = divergent_frame(adjective_version="head")
    >>> sorted(frame["kind"].unique()), sorted(frame["cue"].unique()), int(frame["template_id"].nunique())
    (['matched', 'opposite'], ['contrast', 'plain'], 16)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emolib.data import load_adjectives
from emolib.emollm.families import _bootstrap_weights
from emolib.emollm.probes import ValenceProbe, centre_by_group, lemma_families
from emolib.emollm.prompts import SITES, cached_representations
from emolib.model.backbones import Backbone
from emolib.profiles import ProbeSettings

__all__ = ["DIVERGENT_TEMPLATES", "divergent_frame", "divergent_data", "divergent_accuracy", "readings"]

#: Four frames, each crossed 2 x 2: the character feels the opposite of the adjective or the same, said with a
#: contrast word (but, except) or without one. Template ids start at 1000 (Emo_LLM's file has 254).
DIVERGENT_TEMPLATES: tuple[dict[tuple[str, str], str], ...] = (
    {("opposite", "contrast"): "Everyone at the party was {}, but Sara felt the exact opposite, so she",
     ("matched", "plain"): "Everyone at the party was {}, and Sara felt exactly the same, so she",
     ("opposite", "plain"): "Everyone at the party was {}, and Sara felt the exact opposite, so she",
     ("matched", "contrast"): "Everyone at the party was {}, but Sara felt exactly the same, so she"},
    {("opposite", "contrast"): "Tom looked {} to everyone at work, but inside he felt the reverse, and Tom",
     ("matched", "plain"): "Tom looked {} to everyone at work, and inside he felt the same, and Tom",
     ("opposite", "plain"): "Tom looked {} to everyone at work, and inside he felt the reverse, and Tom",
     ("matched", "contrast"): "Tom looked {} to everyone at work, but inside he felt the same, and Tom"},
    {("opposite", "contrast"): "Mia's friends were {} all evening, but Mia felt the opposite, so she",
     ("matched", "plain"): "Mia's friends were {} all evening, and Mia felt the same, so she",
     ("opposite", "plain"): "Mia's friends were {} all evening, and Mia felt the opposite, so she",
     ("matched", "contrast"): "Mia's friends were {} all evening, but Mia felt the same, so she"},
    {("opposite", "contrast"): "The whole team was {} after the match, except Leo, who felt the opposite, so Leo",
     ("matched", "plain"): "The whole team was {} after the match, including Leo, who felt the same, so Leo",
     ("opposite", "plain"): "The whole team was {} after the match, including Leo, who felt the opposite, so Leo",
     ("matched", "contrast"): "The whole team was {} after the match, except Leo, who felt the same, so Leo"},
)


def divergent_frame(adjective_version: str = "head") -> pd.DataFrame:
    """The divergent prompts with Emo_LLM's valence adjectives, in :func:`~emolib.emollm.prompts.prompt_frame`'s
    columns plus ``kind`` (``opposite`` / ``matched``) and ``cue`` (``contrast`` / ``plain``); ``negation`` marks the
    opposite templates, so ``y`` (1 = the character's state is negative) is computed as for Emo_LLM's negated
    templates."""
    lists = load_adjectives("valence", adjective_version)
    first = next(iter(lists))
    rows = []
    for frame_id, templates in enumerate(DIVERGENT_TEMPLATES):
        for k, ((kind, cue), template) in enumerate(templates.items()):
            tid = 1000 + 4 * frame_id + k
            rows += [(template.format(adj), tid, template, kind == "opposite", adj, name, name == first, frame_id, kind,
                      cue) for name, words in lists.items() for adj in words]
    frame = pd.DataFrame(rows, columns=["text", "template_id", "template", "negation", "adjective", "class_name",
                                        "in_first", "template_family", "kind", "cue"])
    frame["y"] = (frame["in_first"] != frame["negation"]).astype(int)
    frame["key"] = frame["template_id"].astype(str) + "|" + frame["class_name"] + "|" + frame["adjective"]
    unique = sorted(frame["adjective"].unique())
    frame["lemma_family"] = frame["adjective"].map(dict(zip(unique, lemma_families(unique))))
    return frame


def divergent_data(backbone: Backbone, settings: ProbeSettings, root: str | Path | None = None) -> dict:
    """``{"frame", "value", "residual"}`` of the divergent prompts (cached like the probe data)."""
    frame = divergent_frame(settings.adjective_version)
    texts = list(dict.fromkeys(frame["text"]))
    slot = {t: tpl.split("{}")[0].rstrip(" ") for t, tpl in zip(frame["text"], frame["template"])}
    reps = cached_representations(backbone, texts, SITES, settings.batch_size, root, prefixes=[slot[t] for t in texts])
    rows = frame["text"].map({t: i for i, t in enumerate(texts)}).to_numpy()
    return {"frame": frame, **{s: reps[s][rows] for s in SITES}}


def divergent_accuracy(train: dict, divergent: dict, layer: int, features: str = "residual", n_boot: int = 2000,
                       seed: int = 0) -> pd.DataFrame:
    """A template-centred probe fitted on all of ``train`` (Emo_LLM's valence prompts) at ``layer``, scored on the
    divergent prompts against the character's state.

    Returns:
        One row per (kind, cue) cell (``template = "all"``) and per template: ``kind, cue, template, accuracy, ci_low,
        ci_high`` (against the character's state; the interval resamples lemma families, not templates),
        ``follows_adjective`` (the share predicted as the adjective's own list), ``follows_contrast_cue`` (the share
        predicted as "the adjective's list, flipped after a contrast word") and ``n``.
    """
    frame, dframe = train["frame"], divergent["frame"]
    probe = ValenceProbe().fit(centre_by_group(train[features][:, layer], frame["template_id"].to_numpy()),
                               frame["y"].to_numpy())
    pred = probe.predict(centre_by_group(divergent[features][:, layer], dframe["template_id"].to_numpy()))
    listed = dframe["in_first"].to_numpy().astype(int)
    cue_flip = (dframe["cue"] == "contrast").to_numpy()
    scored = dframe.assign(correct=pred == dframe["y"].to_numpy(), adjective=pred == listed,
                           contrast_cue=pred == (listed != cue_flip).astype(int))
    parts = [(kind, cue, "all", part) for (kind, cue), part in scored.groupby(["kind", "cue"], sort=True)]
    parts += [(part["kind"].iloc[0], part["cue"].iloc[0], template, part)
              for template, part in scored.groupby("template", sort=False)]
    rows = []
    for kind, cue, template, part in parts:
        by_family = part.groupby("lemma_family")["correct"].agg(["sum", "size"])
        w = _bootstrap_weights(len(by_family), n_boot, seed)
        boot = (w @ by_family["sum"].to_numpy(float)) / (w @ by_family["size"].to_numpy(float))
        lo, hi = np.percentile(boot, [2.5, 97.5])
        rows.append({"kind": kind, "cue": cue, "template": template, "accuracy": float(part["correct"].mean()),
                     "ci_low": float(lo), "ci_high": float(hi), "follows_adjective": float(part["adjective"].mean()),
                     "follows_contrast_cue": float(part["contrast_cue"].mean()), "n": len(part)})
    return pd.DataFrame(rows)


def readings(table: pd.DataFrame) -> dict[str, float]:
    """How well each reading explains the probe on the four (state x cue) cells of :func:`divergent_accuracy`: the
    mean agreement with the character's state, with the adjective's own valence and with "flip after a contrast word".

    Example:
        >>> cells = pd.DataFrame({"template": "all", "accuracy": [1.0, 0.0, 1.0, 0.0],
        ...                       "follows_adjective": [0.0, 1.0, 1.0, 0.0], "follows_contrast_cue": [1.0, 1.0, 1.0, 1.0]})
        >>> readings(cells)["contrast cue"]
        1.0
    """
    cells = table[table["template"] == "all"]
    return {"character": float(cells["accuracy"].mean()), "adjective": float(cells["follows_adjective"].mean()),
            "contrast cue": float(cells["follows_contrast_cue"].mean())}
