"""Templates where the character's state and the sentence's words diverge, and what a valence probe reads on them.

Emo_LLM's negated templates flip the label with a negation word ("didn't feel {}"), so a probe can pass them by
composing the adjective with that word, whether or not it represents the character's state. The templates here
flip the state *without a negation word*: the character feels the opposite of an adjective that describes someone
or something else, or describes the character's past ("Everyone at the party was {}, but Sara felt the exact
opposite"). Each comes with a matched template whose character shares the adjective's state. A probe fitted on
Emo_LLM's templates (template-centred, as the rigorous probe) is scored on both against the character's state:

- near 1 on both: the representation tracks the character's state through the contrast;
- near 1 on matched and near 0 on opposite: it follows the adjective (the sentence's words), not the character;
- in between: these templates cannot separate the two.

The set is small (:data:`DIVERGENT_TEMPLATES`, four pairs written for this book) and valence only.

Example:
    >>> frame = divergent_frame(adjective_version="head")
    >>> sorted(frame["kind"].unique()), int(frame["template_id"].nunique())
    (['matched', 'opposite'], 8)
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

__all__ = ["DIVERGENT_TEMPLATES", "divergent_frame", "divergent_data", "divergent_accuracy"]

#: (opposite, matched) template pairs: in the first the character feels the opposite of the adjective, with no
#: negation word; in the second the same. Template ids start at 1000 (Emo_LLM's file has 254).
DIVERGENT_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("Everyone at the party was {}, but Sara felt the exact opposite, so she",
     "Everyone at the party was {}, and Sara felt exactly the same, so she"),
    ("Tom looked {} to everyone at work, but inside he felt the reverse, and Tom",
     "Tom looked {} to everyone at work, and inside he felt the same, and Tom"),
    ("Mia had been {} for years, but that changed completely last week, and now Mia",
     "Mia had been {} for years, and she still felt that way last week, so Mia"),
    ("The whole team was {} after the match, except Leo, who felt the opposite, so Leo",
     "The whole team was {} after the match, including Leo, who felt the same, so Leo"),
)


def divergent_frame(adjective_version: str = "head") -> pd.DataFrame:
    """The divergent prompts with Emo_LLM's valence adjectives, in :func:`~emolib.emollm.prompts.prompt_frame`'s
    columns plus ``kind`` (``opposite`` / ``matched``); ``negation`` marks the opposite templates, so ``y`` (1 =
    the character's state is negative) is computed as for Emo_LLM's negated templates."""
    lists = load_adjectives("valence", adjective_version)
    first = next(iter(lists))
    rows = []
    for pair, templates in enumerate(DIVERGENT_TEMPLATES):
        for opposite, template in zip((True, False), templates):
            tid = 1000 + 2 * pair + (0 if opposite else 1)
            rows += [(template.format(adj), tid, template, opposite, adj, name, name == first, pair,
                      "opposite" if opposite else "matched") for name, words in lists.items() for adj in words]
    frame = pd.DataFrame(rows, columns=["text", "template_id", "template", "negation", "adjective", "class_name",
                                        "in_first", "template_family", "kind"])
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
        One row per template kind and per template: ``kind, template, accuracy, ci_low, ci_high`` (the interval
        resamples lemma families), ``follows_adjective`` (the share predicted as the adjective's own list) and ``n``.
    """
    frame, dframe = train["frame"], divergent["frame"]
    probe = ValenceProbe().fit(centre_by_group(train[features][:, layer], frame["template_id"].to_numpy()),
                               frame["y"].to_numpy())
    pred = probe.predict(centre_by_group(divergent[features][:, layer], dframe["template_id"].to_numpy()))
    scored = dframe.assign(correct=pred == dframe["y"].to_numpy(), adjective_list=pred == dframe["in_first"].astype(int))
    parts = [(kind, "all", part) for kind, part in scored.groupby("kind", sort=True)]
    parts += [(part["kind"].iloc[0], template, part) for template, part in scored.groupby("template", sort=False)]
    rows = []
    for kind, template, part in parts:
        by_family = part.groupby("lemma_family")["correct"].agg(["sum", "size"])
        w = _bootstrap_weights(len(by_family), n_boot, seed)
        boot = (w @ by_family["sum"].to_numpy(float)) / (w @ by_family["size"].to_numpy(float))
        lo, hi = np.percentile(boot, [2.5, 97.5])
        rows.append({"kind": kind, "template": template, "accuracy": float(part["correct"].mean()),
                     "ci_low": float(lo), "ci_high": float(hi),
                     "follows_adjective": float(part["adjective_list"].mean()), "n": len(part)})
    return pd.DataFrame(rows)
