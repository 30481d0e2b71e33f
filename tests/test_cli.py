import pytest

from emolib import cli


def test_parser_knows_the_documented_commands():
    parser = cli.build_parser()
    args = parser.parse_args(["book", "--profile", "paper", "-p", "backbone", "roberta-base", "--device", "cpu"])
    assert args.profile == "paper" and dict(args.parameter) == {"backbone": "roberta-base"} and args.device == "cpu"
    args = parser.parse_args(["reproduce", "searchlight", "--out", "x"])
    assert args.what == "searchlight"
    args = parser.parse_args(["train", "--backbone", "tiny-llama", "--emotions", "joy", "fear", "--seeds", "1",
                              "--out", "o"])
    assert cli.split_list(args.emotions) == ["joy", "fear"] and cli._seeds(args.seeds) == [1]


def test_lists_take_spaces_and_commas():
    assert cli.split_list(["joy,fear", "grief"]) == cli.split_list(["joy", "fear", "grief"]) == ["joy", "fear", "grief"]
    assert cli._seeds(["1,2", "3"]) == [1, 2, 3]
    with pytest.raises(ValueError, match="seeds must be integers"):
        cli._seeds(["1,x"])


def test_bad_choices_exit_with_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["book", "--profile", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "everything", "--out", "x"])


def test_book_errors_are_reported_without_traceback(capsys, tmp_path):
    assert cli.main(["book", "--chapters", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown chapter(s) ['nope']" in err and "valid choices:" in err and "Traceback" not in err


def test_reproduce_names_the_options_a_target_takes(capsys, tmp_path):
    assert cli.main(["reproduce", "searchlight", "--out", str(tmp_path), "--seeds", "1"]) == 2
    assert "emolib reproduce searchlight does not take --seeds; it takes: --profile" in capsys.readouterr().err
    assert cli.main(["reproduce", "human", "--out", str(tmp_path), "--device", "tpu"]) == 2
    assert "does not take --device" in capsys.readouterr().err
    assert cli.main(["reproduce", "valence", "--out", str(tmp_path), "--device", "tpu"]) == 2
    assert "unknown device 'tpu'; valid choices: auto, cpu, cuda, cuda:N" in capsys.readouterr().err


def test_train_rejects_an_unknown_device_and_emotion(capsys, tmp_path):
    assert cli.main(["train", "--backbone", "tiny-llama", "--device", "cuda:7", "--out", str(tmp_path)]) == 2
    assert "'cuda:7' is not available" in capsys.readouterr().err or __import__("torch").cuda.device_count() > 7
    assert cli.main(["train", "--backbone", "tiny-llama", "--profile", "smoke", "--emotions", "joy,gratitud",
                     "--device", "cpu", "--out", str(tmp_path)]) == 2
    assert "gratitud" in capsys.readouterr().err
