"""The ``emolib`` command: parses arguments and calls the same functions the chapters call.

Examples::

    emolib book --profile quick
    emolib book --profile paper -p backbone roberta-base --device cuda
    emolib reproduce human --out results/
    emolib reproduce searchlight --out results/
    emolib reproduce manipulation --out results/
    emolib reproduce valence --backbone smollm2-135m --out results/
    emolib train --backbone smollm2-135m --profile quick --emotions joy,grief --seeds 1 2 --out results/

Lists accept both spaces and commas (``--seeds 1 2`` or ``--seeds 1,2``). Errors are one line on
stderr with exit code 2 (3 when another process holds an artifact's lock and ``--no-wait`` was given).
``--strict`` stops at a broken artifact instead of setting it aside and recomputing it (``EMOLIB_STRICT=1``);
``--no-wait`` fails at once instead of waiting for another process computing the same artifact
(``EMOLIB_LOCK_TIMEOUT=0``). Both are passed on to the chapters ``emolib book`` executes.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from emolib.profiles import PROFILES

__all__ = ["main", "build_parser", "split_list"]


def split_list(values: list[str] | None) -> list[str] | None:
    """``["a", "b,c"]`` -> ``["a", "b", "c"]`` (lists accept spaces and commas); empty items are dropped.

    Example:
        >>> split_list(["joy,grief", "fear"])
        ['joy', 'grief', 'fear']
    """
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _seeds(values: list[str] | None) -> list[int] | None:
    items = split_list(values)
    if items is None:
        return None
    try:
        [int(v) for v in items]
    except ValueError:
        raise ValueError(f"seeds must be integers, got {', '.join(items)!r}") from None
    from emolib.params import seed_list

    return seed_list(items, "--seeds")


def _listed(values: list[str] | None, option: str) -> list[str] | None:
    """:func:`split_list`, refusing an empty list (``--emotions ,``) with a message naming the option."""
    items = split_list(values)
    if items is not None and not items:
        raise ValueError(f"{option} must not be empty (got {' '.join(values or [])!r}); give at least one name")
    return items


def _check_options(options: dict) -> None:
    """Validate the given (non-None) options with :mod:`emolib.params`, naming the CLI option on error."""
    from emolib.params import check_parameter

    for name, value in options.items():
        if value is not None and name != "seeds":
            try:
                check_parameter(name, value)
                if name == "backbone":
                    from emolib.model.backbones import check_backbone_name

                    check_backbone_name(value)
            except ValueError as err:
                raise ValueError(f"--{name.replace('_', '-')}: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    from emolib.reproduce import TARGETS

    parser = argparse.ArgumentParser(prog="emolib", description="emobook: emotion concepts in language models")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument("--strict", action="store_true",
                        help="stop at a broken artifact instead of setting it aside and recomputing (EMOLIB_STRICT=1)")
    parser.add_argument("--no-wait", action="store_true",
                        help="fail at once when another process computes the same artifact (EMOLIB_LOCK_TIMEOUT=0)")
    sub = parser.add_subparsers(dest="command", required=True)
    device_help = "auto (CUDA when available, else CPU; default), cpu, cuda or cuda:N"

    book = sub.add_parser("book", help="execute every chapter (papermill) and build the HTML book")
    book.add_argument("--profile", choices=list(PROFILES), default="quick",
                      help="quick: CPU minutes (default); paper: the original protocol (GPU); smoke: CI check")
    book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="override a chapter parameter (repeatable), e.g. -p backbone roberta-base")
    book.add_argument("--chapters", nargs="+", default=None,
                      help="chapter names (file stems) to execute, spaces or commas; default: all")
    book.add_argument("--device", default=None, help=device_help)
    book.add_argument("--out", type=Path, default=Path("_build"), help="build folder (default: _build)")

    rep = sub.add_parser("reproduce", help="write one analysis' result tables as CSV")
    rep.add_argument("what", choices=sorted(TARGETS))
    rep.add_argument("--out", type=Path, required=True, help="output folder")
    rep.add_argument("--backbone", default=None, help="backbone and valence only (default: the embedded one)")
    rep.add_argument("--profile", choices=list(PROFILES), default=None)
    rep.add_argument("--bootstrap-seed", type=int, default=None, help="seed of the human-weight bootstrap")
    rep.add_argument("--sample-seed", type=int, default=None, help="valence: seed of splits, samples, directions")
    rep.add_argument("--seeds", nargs="+", default=None, help="backbone: prompt seeds (default: the profile's)")
    rep.add_argument("--permutations", type=int, default=None,
                     help="searchlight: a label-permutation null with this many permutations (e.g. 1000)")
    rep.add_argument("--seed", type=int, default=None, help="searchlight: seed of the permutations (default 0)")
    rep.add_argument("--device", default=None, help=device_help)

    plan = sub.add_parser("plan", help="before a long run: what the paper on a backbone would compute, what is "
                                       "cached, and the estimated time and memory (rates measured on the device)")
    plan.add_argument("--profile", choices=list(PROFILES), default="quick")
    plan.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="a parameter of the run (repeatable): backbone, emotions, seeds, k_values, n_draws, "
                           "splits, permutations; e.g. -p backbone roberta-base")
    plan.add_argument("--device", default="auto", help=device_help)
    plan.add_argument("--no-measure", action="store_true", help="list the stages without measuring rates")
    plan.add_argument("--no-power", action="store_true",
                      help="leave out the power of each claim and the sizes that reach power 0.8 (a minute of CPU)")

    ver = sub.add_parser("verify", help="recompute a sample of every shipped (or cached) artifact with today's code "
                                        "and compare it with the stored values")
    ver.add_argument("--root", type=Path, default=None, help="artifact root (default: the shipped data/artifacts)")
    ver.add_argument("--sample", type=int, default=2, help="prompts (and 64 x N units, N + 1 masks) per artifact")
    ver.add_argument("--full", action="store_true", help="also retrain prompts alone (slow: minutes per prompt)")
    ver.add_argument("--pairs", nargs="+", default=None, metavar="EMOTION:SEED",
                     help="with --full: the (emotion, seed) prompts to retrain, e.g. gratitude:1 joy:2")
    ver.add_argument("--stages", nargs="+", default=None, help="only these stages (spaces or commas)")
    ver.add_argument("--device", default="cpu", help=device_help)

    train = sub.add_parser("train", help="train the emotion x seed prompt grid of a backbone")
    train.add_argument("--backbone", default="smollm2-135m")
    train.add_argument("--profile", choices=list(PROFILES), default="quick")
    train.add_argument("--emotions", nargs="+", default=None, help="default: all 27 (spaces or commas)")
    train.add_argument("--seeds", nargs="+", default=None, help="default: the profile's seeds")
    train.add_argument("--device", default="auto", help=device_help)
    train.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.strict:
        os.environ["EMOLIB_STRICT"] = "1"
    if args.no_wait:
        os.environ["EMOLIB_LOCK_TIMEOUT"] = "0"
    from emolib.integrity import ArtifactBusyError

    try:
        if args.command == "book":
            from emolib.book import build_book

            parameters = dict(args.parameter)
            if args.device is not None:
                parameters["device"] = args.device
            _check_options({"device": args.device})
            html = build_book(profile=args.profile, parameters=parameters,
                              chapters=_listed(args.chapters, "--chapters"), out=args.out)
            print(f"book built: {html / 'index.html'}")
        elif args.command == "reproduce":
            from emolib.reproduce import reproduce

            options = {"backbone": args.backbone, "profile": args.profile, "bootstrap_seed": args.bootstrap_seed,
                       "sample_seed": args.sample_seed, "seeds": _seeds(args.seeds), "device": args.device,
                       "permutations": args.permutations, "seed": args.seed}
            from emolib.reproduce import TARGETS

            _check_options({k: v for k, v in options.items() if k in TARGETS[args.what].options})
            for path in reproduce(args.what, args.out, **options):
                print(path)
        elif args.command == "plan":
            from emolib.params import check_parameters
            from emolib.plan import PARAMETERS, plan_paper

            unknown = sorted(set(dict(args.parameter)) - set(PARAMETERS))
            if unknown:
                raise ValueError(f"unknown parameter(s) {unknown}; valid choices: {', '.join(PARAMETERS)}")
            options = check_parameters({**dict(args.parameter), "device": args.device})
            backbone = options.pop("backbone", "smollm2-135m")
            from emolib.model.backbones import check_backbone_name

            check_backbone_name(backbone)
            print(plan_paper(backbone, args.profile, measure=not args.no_measure, power=not args.no_power, **options))
        elif args.command == "verify":
            from emolib.verify import report, verify

            _check_options({"device": args.device})
            if args.sample < 1:
                raise ValueError(f"--sample must be a positive integer, got {args.sample}")
            pairs = None
            if args.pairs:
                pairs = []
                for item in split_list(args.pairs):
                    emotion, _, seed = item.partition(":")
                    if not seed.isdigit():
                        raise ValueError(f"--pairs: {item!r} is not EMOTION:SEED (e.g. gratitude:1)")
                    from emolib.emotions import check_emotions

                    pairs.append((check_emotions([emotion])[0], int(seed)))
            checks = verify(args.root, sample=args.sample, full=args.full, pairs=pairs, device=args.device,
                            stages=_listed(args.stages, "--stages"))
            print(report(checks))
            if not all(c.ok for c in checks):
                return 1
        elif args.command == "train":
            from emolib.reproduce import train_grid

            emotions, seeds = _listed(args.emotions, "--emotions"), _seeds(args.seeds)
            _check_options({"backbone": args.backbone, "device": args.device, "emotions": emotions})
            for path in train_grid(args.out, backbone=args.backbone, profile=args.profile,
                                   emotions=emotions, seeds=seeds, device=args.device):
                print(path)
    except ArtifactBusyError as err:
        print(f"emolib: error: {err}", file=sys.stderr)
        return 3
    except (ValueError, OSError, TypeError) as err:  # OSError: a full disk or read-only folder, named
        print(f"emolib: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
