import pytest

from emolib import cli


def test_parser_knows_the_documented_commands():
    parser = cli.build_parser()
    args = parser.parse_args(["book", "--profile", "paper", "-p", "backbone", "roberta-base", "-p", "seed", "3"])
    assert args.profile == "paper" and dict(args.parameter) == {"backbone": "roberta-base", "seed": "3"}
    args = parser.parse_args(["reproduce", "searchlight", "--out", "x"])
    assert args.what == "searchlight"
    args = parser.parse_args(["train", "--backbone", "tiny-llama", "--emotions", "joy", "fear", "--seeds", "1", "--out", "o"])
    assert args.emotions == ["joy", "fear"] and args.seeds == [1]


def test_bad_choices_exit_with_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["book", "--profile", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "everything", "--out", "x"])


def test_book_errors_are_reported_without_traceback(capsys, tmp_path):
    assert cli.main(["book", "--chapters", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown chapter(s) ['nope']" in err and "valid choices:" in err
