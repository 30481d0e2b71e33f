"""The ``emolib`` command: parses arguments and calls the same functions the chapters call.

Examples::

    emolib book --profile quick
    emolib book --profile paper -p backbone roberta-base
    emolib reproduce human --out results/
    emolib reproduce searchlight --out results/
    emolib reproduce manipulation --out results/
    emolib reproduce valence --backbone smollm2-135m --out results/
    emolib train --backbone smollm2-135m --profile quick --out results/
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]

#: ``emolib reproduce WHAT`` -> module whose ``reproduce(out_dir, **options)`` writes the files.
REPRODUCIBLE = {
    "human": "emolib.human",
    "searchlight": "emolib.rsa",
    "manipulation": "emolib.manipulation",
    "valence": "emolib.valence",
}


def _parameter(text: list[str]) -> tuple[str, str]:
    return text[0], text[1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emolib", description="emobook: emotion concepts in language models")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute every chapter (papermill) and build the HTML book")
    book.add_argument("--profile", choices=["quick", "paper", "smoke"], default="quick",
                      help="quick: CPU minutes (default); paper: the original protocol (GPU); smoke: CI check")
    book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                      help="override a chapter parameter (repeatable), e.g. -p backbone roberta-base")
    book.add_argument("--chapters", default=None,
                      help="comma-separated chapter names (file stems) to execute; default: all")
    book.add_argument("--out", type=Path, default=Path("_build"), help="build folder (default: _build)")

    rep = sub.add_parser("reproduce", help="write one analysis' result tables as CSV")
    rep.add_argument("what", choices=sorted(REPRODUCIBLE))
    rep.add_argument("--out", type=Path, required=True, help="output folder")
    rep.add_argument("--backbone", default=None, help="backbone (valence only; default: the embedded one)")
    rep.add_argument("--profile", choices=["quick", "paper", "smoke"], default=None)
    rep.add_argument("--seed", type=int, default=None)

    train = sub.add_parser("train", help="train the emotion x seed prompt grid of a backbone")
    train.add_argument("--backbone", default="smollm2-135m")
    train.add_argument("--profile", choices=["quick", "paper"], default="quick")
    train.add_argument("--emotions", nargs="+", default=None, help="default: all 27")
    train.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the profile's seeds")
    train.add_argument("--out", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "book":
            from emolib.book import build_book

            chapters = args.chapters.split(",") if args.chapters else None
            html = build_book(profile=args.profile, parameters=dict(args.parameter), chapters=chapters, out=args.out)
            print(f"book built: {html / 'index.html'}")
        elif args.command == "reproduce":
            module = importlib.import_module(REPRODUCIBLE[args.what])
            options = {k: v for k, v in (("backbone", args.backbone), ("profile", args.profile), ("seed", args.seed)) if v is not None}
            accepted = inspect.signature(module.reproduce).parameters
            unknown = [k for k in options if k not in accepted]
            if unknown:
                raise ValueError(f"emolib reproduce {args.what} does not take --{unknown[0]}; it takes: "
                                 + ", ".join(f"--{k}" for k in accepted if k != "out_dir"))
            for path in module.reproduce(args.out, **options):
                print(path)
        elif args.command == "train":
            from emolib.prompts import train_command

            for path in train_command(backbone=args.backbone, profile=args.profile, emotions=args.emotions,
                                      seeds=args.seeds, out=args.out):
                print(path)
    except (ValueError, FileNotFoundError, TypeError) as err:
        print(f"emolib: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
