"""Profiles: the names, their validation and their overrides, for every stage in one place.

A profile sizes a whole run and means the same thing in every stage:

- ``smoke``: seconds on a tiny random model; checks the machinery (CI), not the science;
- ``quick``: CPU minutes on the embedded backbone (all 27 emotions, one seed, subsampled tasks);
- ``standard``: prompts that learn on a causal LM within hours of a 2-core CPU (27 emotions x 3 seeds,
  the prompt after the comment, a shared instruction initialisation, bf16), and a masked evaluation
  that can see a drop (seed 1 of each emotion, 40 dev examples, 3 k, 5 random draws per k; the null
  control at the k nearest the paper's 4000); the embedded model's shipped results;
- ``paper``: the original protocol (12 seeds, full tasks, every k); meant for a GPU.

Each stage's settings are a frozen dataclass (:data:`STAGES`); :func:`settings` returns a stage's
settings for a profile with field overrides (``None`` values are ignored, lists become tuples, an
unknown profile or field is a ``ValueError`` naming the valid choices).

Example:
    >>> settings("masking", "quick", n_draws=3).n_draws
    3
    >>> settings("masking", "standard").null_k_values == (4000 / PAPER_UNITS,)
    True
    >>> settings("prompts", "fast")
    Traceback (most recent call last):
    ...
    ValueError: unknown profile 'fast'; valid choices: smoke, quick, standard, paper
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from emolib.emotions import PAPER_SEEDS

__all__ = [
    "PROFILES", "STAGES", "PAPER_UNITS", "PAPER_K", "DEFAULT_SUFFIX", "PromptSettings", "MaskingSettings",
    "SearchlightSettings", "HumanSettings", "ProbeSettings", "VectorSettings", "SteeringSettings", "check_profile", "settings",
    "as_dict", "as_list", "key_dict", "default_emotions", "PROMPT_POSITIONS", "STANDARD_INIT", "LATER_FIELDS",
]  # fmt: skip

#: The profile names, smallest first.
PROFILES: tuple[str, ...] = ("smoke", "quick", "standard", "paper")
#: roberta-base has 12 x 3072 FFN units; the paper's mask sizes are counts of those.
PAPER_UNITS = 36_864
#: The paper's k (500 ... 6000 of 36,864) as fractions, so they transfer to backbones of any size.
PAPER_K: tuple[float, ...] = tuple(k / PAPER_UNITS for k in (500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000))
#: Fixed text after the comment in the causal prompt layout; the verbalizer word is its next token.
DEFAULT_SUFFIX = " Answer:"
#: Where the soft prompt sits relative to the comment (``"after"``: causal LMs only).
PROMPT_POSITIONS = ("before", "after")
#: The ``standard`` profile's shared initialisation: a neutral instruction that names no emotion.
STANDARD_INIT = " Does this comment express the emotion? Answer yes or no."


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        _require(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                 f"{name} must be a positive integer, got {value!r}")


def _optional_size(obj: Any, *names: str, minimum: int = 1) -> None:
    for name in names:
        value = getattr(obj, name)
        _require(value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= minimum),
                 f"{name} must be None or an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class PromptSettings:
    """Everything that defines a prompt-tuning run (every field enters the artifact key).

    ``paper`` is the original protocol: 100-token prompts ~ N(0, 0.02^2), AdamW lr 2e-3, eps 1e-6,
    weight decay 0.01 without bias correction, 2 epochs, per-prompt batch 1, dropout on, comments
    truncated to 256 tokens, the full sampled tasks, 12 seeds, dev accuracy as the mean of per-batch
    accuracies (256). ``precision``: ``"auto"`` (bf16 autocast on CUDA, fp32 on the CPU), ``"fp32"``
    or ``"bf16"``.
    """

    n_tokens: int = 100
    init_std: float = 0.02
    lr: float = 2e-3
    eps: float = 1e-6
    weight_decay: float = 0.01
    correct_bias: bool = False
    epochs: int = 2
    batch_size: int = 1
    seeds: tuple[int, ...] = PAPER_SEEDS
    train_size: int | None = None
    dev_size: int | None = None
    test_size: int | None = None
    max_length: int | None = 256
    verbalizer: tuple[str, str] = ("negative", "positive")
    position_quirk: bool = False
    suffix: str = DEFAULT_SUFFIX
    dropout: bool = True
    accuracy_batch: int | None = 256
    micro_batch: int = 64
    precision: str = "auto"
    init: str = "normal"
    prompt_position: str = "before"

    def __post_init__(self) -> None:
        _positive(self, "n_tokens", "epochs", "batch_size", "micro_batch")
        _optional_size(self, "train_size", "dev_size", "test_size", minimum=2)
        _optional_size(self, "max_length", "accuracy_batch")
        _require(self.lr > 0 and self.eps > 0 and self.weight_decay >= 0 and self.init_std >= 0,
                 f"lr and eps must be positive, weight_decay and init_std >= 0 (got {self.lr}, {self.eps}, "
                 f"{self.weight_decay}, {self.init_std})")
        _require(len(self.seeds) > 0, "seeds must not be empty")
        _require(len(set(self.seeds)) == len(self.seeds), f"seeds {list(self.seeds)} repeat a seed; give each once")
        _require(len(self.verbalizer) == 2 and len(set(self.verbalizer)) == 2,
                 f"the verbalizer needs two different words, got {self.verbalizer!r}")
        _require(self.precision in ("auto", "fp32", "bf16"),
                 f"unknown precision {self.precision!r}; valid choices: auto, fp32, bf16")
        _require(self.prompt_position in PROMPT_POSITIONS,
                 f"unknown prompt_position {self.prompt_position!r}; valid choices: {', '.join(PROMPT_POSITIONS)}")
        _require(isinstance(self.init, str) and self.init.strip() != "",
                 f"init must be 'normal' or a non-empty instruction text, got {self.init!r}")

    def size(self, split: str) -> int | None:
        """Examples per prompt of ``split`` (``None``: the whole sampled task)."""
        return {"train": self.train_size, "dev": self.dev_size, "test": self.test_size}[split]


@dataclass(frozen=True)
class MaskingSettings:
    """The masking design of the paper on a backbone: mask sizes, random controls, splits."""

    k_values: tuple[float, ...] = PAPER_K  # fractions of all units (or counts >= 1)
    n_draws: int = 5  # seeded random masks per k
    paper_random: bool = True  # also one random draw per attribute label and k (the original's controls)
    splits: tuple[str, ...] = ("dev", "test")  # "dev" is the paper's
    accuracy: str = "exact"  # or "batch100", the original's mean of per-batch accuracies
    mask_seed: int = 0
    batch_size: int = 64
    seeds: tuple[int, ...] | None = None  # prompt seeds evaluated under the masks (None: every trained seed)
    dev_size: int | None = None  # dev examples per prompt under the masks (None: the prompt settings')
    null_seeds: tuple[int, ...] | None = None  # seeds of the null-prompt control's masked evaluation (None: seeds)
    null_k_values: tuple[float, ...] | None = None  # mask sizes of the null control's masked evaluation (None: k_values)
    n_perm: int = 2000  # permutations of the masking tests (mask labels; weights over attributes)
    n_sham: int = 0  # sham-attribute masks per k: the top-k of a searchlight against label-permuted attribute RDMs
    layer_matched: bool = False  # seeded random masks with the attribute masks' mean count of units per layer
    verdict_k: float = 4000 / PAPER_UNITS  # the pre-specified k that carries the verdict (fraction of all units)

    def __post_init__(self) -> None:
        _require(len(self.k_values) > 0, "k_values must not be empty")
        for k in self.k_values:
            _require(isinstance(k, (int, float)) and not isinstance(k, bool)
                     and (0 < k < 1 or (float(k).is_integer() and k >= 1)),
                     f"invalid mask size {k!r}: give a count >= 1 or a fraction in (0, 1)")
        _require(len(set(self.k_values)) == len(self.k_values), f"k_values {list(self.k_values)} repeat a value")
        _require(isinstance(self.n_draws, int) and self.n_draws >= 0, f"n_draws must be >= 0, got {self.n_draws!r}")
        bad = [s for s in self.splits if s not in ("dev", "test")]
        _require(not bad and len(self.splits) > 0, f"unknown split {bad[0] if bad else None!r}; valid choices: dev, test")
        _require(self.accuracy in ("exact", "batch100"),
                 f"unknown accuracy mode {self.accuracy!r}; valid choices: exact, batch100")
        _positive(self, "batch_size")
        _optional_size(self, "dev_size", minimum=2)
        for name in ("seeds", "null_seeds"):
            values = getattr(self, name)
            _require(values is None or (len(values) > 0 and len(set(values)) == len(values)),
                     f"{name} must be None or a non-empty list without repeats, got {values!r}")
        _require(isinstance(self.n_sham, int) and not isinstance(self.n_sham, bool) and self.n_sham >= 0,
                 f"n_sham must be an integer >= 0, got {self.n_sham!r}")
        _require(0 < self.verdict_k < 1 or (float(self.verdict_k).is_integer() and self.verdict_k >= 1),
                 f"invalid verdict_k {self.verdict_k!r}: give a count >= 1 or a fraction in (0, 1)")
        extra = sorted(set(self.null_k_values or ()) - set(self.k_values))
        _require(self.null_k_values is None or (len(self.null_k_values) > 0 and not extra),
                 f"null_k_values {list(self.null_k_values or ())} must be a non-empty subset of k_values "
                 f"{list(self.k_values)}")


@dataclass(frozen=True)
class SearchlightSettings:
    """The searchlight's label-permutation null: emotion permutations shared by every test (0: none)."""

    permutations: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        _require(isinstance(self.permutations, int) and not isinstance(self.permutations, bool)
                 and self.permutations >= 0, f"permutations must be an integer >= 0, got {self.permutations!r}")


@dataclass(frozen=True)
class HumanSettings:
    """The human-weight bootstrap (vectorised, so quick and paper both run the original's 10,000)."""

    n_boot: int = 10_000

    def __post_init__(self) -> None:
        _require(isinstance(self.n_boot, int) and self.n_boot >= 2, f"n_boot must be at least 2, got {self.n_boot!r}")


@dataclass(frozen=True)
class ProbeSettings:
    """Emo_LLM's probes: template pairs (None = all 254), adjective lists, repeated splits, layers."""

    n_templates: int | None = None
    adjective_version: str = "e12b48d"
    n_repeats: int = 20
    batch_size: int = 64
    layer_stride: int = 1

    def __post_init__(self) -> None:
        _positive(self, "n_repeats", "batch_size", "layer_stride")
        _require(self.n_templates is None or (isinstance(self.n_templates, int) and self.n_templates >= 2
                                              and self.n_templates % 2 == 0),
                 f"n_templates must be None or an even number >= 2 (pairs), got {self.n_templates!r}")
        _require(self.adjective_version in ("head", "e12b48d"),
                 f"unknown adjective_version {self.adjective_version!r}; valid choices: head, e12b48d")


@dataclass(frozen=True)
class VectorSettings:
    """Emotion vectors: comments per emotion, split, truncation, batch size, resamples."""

    n_per_emotion: int | None = 500
    split: str = "train"
    max_length: int = 128
    batch_size: int = 32
    n_boot: int = 10_000
    n_perm: int = 10_000

    def __post_init__(self) -> None:
        _optional_size(self, "n_per_emotion")
        _positive(self, "max_length", "batch_size", "n_boot", "n_perm")
        _require(self.split in ("train", "dev", "test"), f"unknown split {self.split!r}; valid choices: train, dev, test")


@dataclass(frozen=True)
class SteeringSettings:
    """Steering: alphas (units of the typical residual norm), random directions, prompts used.

    ``n_random`` random directions are read at every alpha on the held-out half of the prompts (the floor of
    ``p_random`` is ``1 / (n_random + 1)``); the first ``n_select`` of them also on the half that chooses each
    direction's alpha. ``slope_range``: the dose-response slope is fitted over ``0 < |alpha| <= slope_range``.
    ``n_behaviour_random``: random directions whose greedy continuations are scored beside the valence direction's.
    """

    alphas: tuple[float, ...] = (-2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    n_random: int = 1000
    n_prompts: int | None = None
    max_new_tokens: int = 30
    n_select: int = 20
    slope_range: float = 0.5
    n_behaviour_random: int = 4

    def __post_init__(self) -> None:
        _require(len(self.alphas) > 0 and all(math.isfinite(a) for a in self.alphas),
                 f"alphas must be a non-empty list of finite numbers, got {list(self.alphas)!r}")
        _require(isinstance(self.n_random, int) and self.n_random >= 0, f"n_random must be >= 0, got {self.n_random!r}")
        _optional_size(self, "n_prompts", minimum=2)
        _positive(self, "max_new_tokens", "n_select")
        _require(isinstance(self.slope_range, (int, float)) and math.isfinite(self.slope_range) and self.slope_range > 0
                 and any(0 < abs(a) <= self.slope_range for a in self.alphas),
                 f"slope_range must be > 0 and include a nonzero alpha, got {self.slope_range!r}")
        _require(isinstance(self.n_behaviour_random, int) and self.n_behaviour_random >= 0,
                 f"n_behaviour_random must be >= 0, got {self.n_behaviour_random!r}")


#: Stage name -> settings class.
STAGES: dict[str, type] = {
    "prompts": PromptSettings, "masking": MaskingSettings, "searchlight": SearchlightSettings,
    "human": HumanSettings, "probes": ProbeSettings,
    "vectors": VectorSettings, "steering": SteeringSettings,
}  # fmt: skip

_TABLE: dict[tuple[str, str], Any] = {
    ("prompts", "paper"): PromptSettings(micro_batch=256),
    ("prompts", "quick"): PromptSettings(n_tokens=8, seeds=(1,), epochs=2, batch_size=1, train_size=16, dev_size=12,
                                         test_size=16, max_length=32, accuracy_batch=None, micro_batch=32),
    ("prompts", "smoke"): PromptSettings(n_tokens=4, seeds=(1,), epochs=2, batch_size=2, train_size=8, dev_size=6,
                                         test_size=6, max_length=16, accuracy_batch=None, micro_batch=16),
    ("prompts", "standard"): PromptSettings(n_tokens=8, init=STANDARD_INIT, prompt_position="after", lr=3e-2,
                                            epochs=3, batch_size=4, seeds=(1, 2, 3), train_size=200, dev_size=100,
                                            test_size=100, max_length=32, verbalizer=("no", "yes"), dropout=False,
                                            accuracy_batch=None, micro_batch=32, precision="bf16"),
    ("masking", "paper"): MaskingSettings(n_draws=56, n_sham=14, layer_matched=True),
    ("masking", "quick"): MaskingSettings(k_values=(4000 / PAPER_UNITS,), n_draws=14, n_sham=14, layer_matched=True,
                                          paper_random=True, splits=("dev",)),
    ("masking", "smoke"): MaskingSettings(k_values=(0.1,), n_draws=14, n_sham=14, layer_matched=True,
                                          paper_random=True, splits=("dev",), batch_size=32, verdict_k=0.1),
    ("masking", "standard"): MaskingSettings(k_values=tuple(k / PAPER_UNITS for k in (1500, 4000, 6000)), n_draws=56,
                                             n_sham=14, layer_matched=True,
                                             paper_random=True, splits=("dev",), seeds=(1,), dev_size=40,
                                             null_seeds=(1,), null_k_values=(4000 / PAPER_UNITS,)),
    ("searchlight", "smoke"): SearchlightSettings(permutations=49),
    ("searchlight", "quick"): SearchlightSettings(permutations=200),
    ("searchlight", "standard"): SearchlightSettings(permutations=1000),
    ("searchlight", "paper"): SearchlightSettings(permutations=1000),
    ("human", "paper"): HumanSettings(),
    ("human", "standard"): HumanSettings(),
    ("human", "quick"): HumanSettings(),
    ("human", "smoke"): HumanSettings(n_boot=500),
    ("probes", "paper"): ProbeSettings(),
    ("probes", "standard"): ProbeSettings(n_templates=16, adjective_version="head", n_repeats=3, layer_stride=3),
    ("probes", "quick"): ProbeSettings(n_templates=16, adjective_version="head", n_repeats=3, layer_stride=3),
    ("probes", "smoke"): ProbeSettings(n_templates=8, adjective_version="head", n_repeats=2),
    ("vectors", "paper"): VectorSettings(),
    ("vectors", "standard"): VectorSettings(n_per_emotion=30, max_length=64, n_boot=2000, n_perm=2000),
    ("vectors", "quick"): VectorSettings(n_per_emotion=30, max_length=64, n_boot=2000, n_perm=2000),
    ("vectors", "smoke"): VectorSettings(n_per_emotion=3, split="dev", max_length=32, n_boot=200, n_perm=200),
    ("steering", "paper"): SteeringSettings(),
    ("steering", "standard"): SteeringSettings(alphas=(-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0), n_random=200,
                                               n_prompts=16, max_new_tokens=16),
    ("steering", "quick"): SteeringSettings(alphas=(-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0), n_random=200,
                                            n_prompts=16, max_new_tokens=16),
    ("steering", "smoke"): SteeringSettings(alphas=(-1.0, 0.0, 1.0), n_random=3, n_prompts=4, max_new_tokens=4,
                                            n_select=3, slope_range=1.0, n_behaviour_random=1),
}
#: Emotions a profile trains when none are given (the searchlight always needs all 27).
_DEFAULT_EMOTIONS: dict[str, tuple[str, ...] | None] = {"smoke": ("grief", "joy")}


def as_list(value: Any) -> list | None:
    """A list from a list, a tuple, one value, or a comma- or space-separated string (``None`` stays None).

    Example:
        >>> as_list("1,2 3"), as_list(["joy", "fear"]), as_list(0.1), as_list(None)
        (['1', '2', '3'], ['joy', 'fear'], [0.1], None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _numbers(values: list, name: str, kind: type) -> tuple:
    try:
        out = []
        for v in values:
            number = float(v)
            out.append(int(number) if kind is int or (number.is_integer() and number >= 1) else number)
            if kind is int and number != int(number):
                raise ValueError
        return tuple(out)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of {'integers' if kind is int else 'numbers'}, got {values!r}") from None


#: Tuple fields holding numbers, and their type (lists given as strings are parsed).
_NUMBER_LISTS = {"seeds": int, "k_values": float, "alphas": float, "null_seeds": int, "null_k_values": float}


def check_profile(profile: str) -> str:
    """``profile`` if it is a known profile name, else ``ValueError`` naming the valid choices."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid choices: {', '.join(PROFILES)}")
    return profile


def settings(stage: str, profile: str | Any = "quick", **overrides: Any) -> Any:
    """The frozen settings of ``stage`` for ``profile`` (a name or a settings object) with ``overrides``.

    Raises:
        ValueError: unknown stage, profile or field; the message names the valid choices.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; valid choices: {', '.join(STAGES)}")
    cls = STAGES[stage]
    base = profile if isinstance(profile, cls) else _TABLE[(stage, check_profile(profile))]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in overrides if k not in names)
    if unknown:
        raise ValueError(f"unknown {stage} setting(s) {', '.join(map(repr, unknown))}; valid choices: "
                         f"{', '.join(sorted(names))}")
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in overrides.items() if v is not None}
    for name, kind in _NUMBER_LISTS.items():
        if name in values:
            values[name] = _numbers(as_list(values[name]), name, kind)
    if "splits" in values or "verbalizer" in values:
        for name in ("splits", "verbalizer"):
            if name in values:
                values[name] = tuple(as_list(values[name]))
    return dataclasses.replace(base, **values)


#: Fields added to a settings class after artifacts were first keyed by it, with their neutral defaults:
#: :func:`key_dict` leaves them out at these values, so adding a field does not invalidate old artifacts.
LATER_FIELDS: dict[type, dict[str, Any]] = {PromptSettings: {"init": "normal", "prompt_position": "before"}}


def as_dict(value: Any) -> dict[str, Any]:
    """A settings object as a JSON-ready dict (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(value).items()}


def key_dict(value: Any) -> dict[str, Any]:
    """The settings as they enter artifact keys: :func:`as_dict` without later fields at their defaults.

    Example:
        >>> "init" in key_dict(settings("prompts", "quick")), "init" in key_dict(settings("prompts", "standard"))
        (False, True)
    """
    later = LATER_FIELDS.get(type(value), {})
    return {k: v for k, v in as_dict(value).items() if not (k in later and v == later[k])}


def default_emotions(profile: str) -> tuple[str, ...] | None:
    """The emotions ``profile`` trains when none are given (``None``: all 27)."""
    return _DEFAULT_EMOTIONS.get(check_profile(profile))
