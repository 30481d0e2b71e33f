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


#: (argv, words the one-line error must hold: the bad value and the valid choices or range)
BAD_INPUTS = [
    (["book", "--profile", "fast"], ["'fast'", "choose from"]),
    (["book", "--chapters", "nope"], ["['nope']", "valid choices:"]),
    (["book", "--chapters", ","], ["--chapters must not be empty", "','"]),
    (["book", "--device", "tpu"], ["'tpu'", "valid choices: auto, cpu"]),
    (["book", "-p", "nope", "1"], ["['nope']", "valid choices:"]),
    (["book", "--chapters", "prompt_tuning", "-p", "seeds", "1,1"], ["repeats 1"]),
    (["book", "--chapters", "prompt_tuning", "-p", "emotions", "joy gratitud"], ["gratitud", "valid choices"]),
    (["book", "--chapters", "human_space", "-p", "n_boot", "-5"], ["-5", "integer >= 1"]),
    (["reproduce", "everything", "--out", "x"], ["'everything'", "choose from"]),
    (["reproduce", "human", "--bootstrap-seed", "abc", "--out", "x"], ["'abc'", "invalid int"]),
    (["reproduce", "human", "--bootstrap-seed", "-1", "--out", "x"], ["-1", "integer >= 0"]),
    (["reproduce", "human", "--profile", "fast", "--out", "x"], ["'fast'", "choose from"]),
    (["reproduce", "searchlight", "--permutations", "-5", "--out", "x"], ["-5", "integer >= 0"]),
    (["reproduce", "searchlight", "--permutations", "many", "--out", "x"], ["'many'", "invalid int"]),
    (["reproduce", "searchlight", "--seeds", "1", "--out", "x"], ["--seeds", "it takes: --profile"]),
    (["reproduce", "valence", "--sample-seed", "-1", "--out", "x"], ["-1", "integer >= 0"]),
    (["reproduce", "valence", "--device", "tpu", "--out", "x"], ["'tpu'", "valid choices: auto, cpu"]),
    (["reproduce", "backbone", "--seeds", "1,1", "--out", "x"], ["repeats 1"]),
    (["reproduce", "backbone", "--seeds", "1", "x", "--out", "x"], ["'1, x'", "integers"]),
    (["reproduce", "backbone", "--backbone", "tiny-bart", "--out", "x"], ["tiny-bart", "tiny-llama"]),
    (["train", "--emotions", "joy,gratitud", "--out", "x"], ["gratitud", "valid choices: admiration"]),
    (["train", "--emotions", ",", "--out", "x"], ["--emotions must not be empty"]),
    (["train", "--emotions", "joy", "joy", "--out", "x"], ["repeats joy"]),
    (["train", "--seeds", "1", "1", "--out", "x"], ["repeats 1"]),
    (["train", "--seeds", "-1", "--out", "x"], ["-1", "integer >= 0"]),
    (["train", "--seeds", ",", "--out", "x"], ["--seeds must not be empty"]),
    (["train", "--device", "tpu", "--out", "x"], ["'tpu'", "valid choices: auto, cpu"]),
    (["train", "--backbone", "tiny-bart", "--out", "x"], ["tiny-bart", "tiny-llama"]),
    (["train", "--profile", "fast", "--out", "x"], ["'fast'", "choose from"]),
    (["train", "--backbone", "", "--out", "x"], ["''", "backbone name"]),
    (["--no-wait", "train"], ["required: --out"]),
    (["plan", "--profile", "fast"], ["'fast'", "choose from"]),
    (["plan", "-p", "bakcbone", "gpt2"], ["['bakcbone']", "valid choices: backbone, emotions"]),
    (["plan", "-p", "backbone", "tiny-bart"], ["tiny-bart", "tiny-llama"]),
    (["plan", "-p", "seeds", "1,1"], ["repeats 1"]),
    (["plan", "-p", "emotions", "joy gratitud"], ["gratitud", "valid choices"]),
    (["plan", "-p", "k_values", "0"], ["0", "k_values"]),
    (["plan", "-p", "n_draws", "-1"], ["-1", "integer >= 0"]),
    (["plan", "-p", "splits", "dev,exam"], ["exam", "valid choices: dev, test"]),
    (["plan", "--device", "tpu"], ["'tpu'", "valid choices: auto, cpu"]),
]


@pytest.mark.parametrize("argv, words", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_every_bad_input_exits_2_with_a_one_line_error(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # "x" folders land here; nothing may be written anyway
    try:
        code = cli.main(argv)
    except SystemExit as exit:  # argparse's own usage errors
        code = exit.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, (err, word)
    assert not (tmp_path / "x").exists()


def test_every_list_option_takes_spaces_and_commas(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr("emolib.reproduce.train_grid", lambda out, **kw: seen.append(kw) or [])
    monkeypatch.setattr("emolib.reproduce.reproduce", lambda what, out, **kw: seen.append(kw) or [])
    monkeypatch.setattr("emolib.book.build_book", lambda **kw: seen.append(kw) or tmp_path)
    for emotions, seeds, chapters in ((["joy", "grief"], ["1", "2"], ["data", "human_space"]),
                                      (["joy,grief"], ["1,2"], ["data,human_space"])):
        assert cli.main(["train", "--backbone", "tiny-llama", "--emotions", *emotions, "--seeds", *seeds,
                         "--out", str(tmp_path)]) == 0
        assert cli.main(["reproduce", "backbone", "--seeds", *seeds, "--out", str(tmp_path)]) == 0
        assert cli.main(["book", "--chapters", *chapters, "--out", str(tmp_path)]) == 0
    first, second = seen[:3], seen[3:]
    assert first == second
    assert first[0]["emotions"] == ["joy", "grief"] and first[0]["seeds"] == [1, 2]
    assert first[1]["seeds"] == [1, 2] and first[2]["chapters"] == ["data", "human_space"]


def test_strict_and_no_wait_reach_the_environment(monkeypatch, tmp_path):
    monkeypatch.setattr("emolib.reproduce.train_grid", lambda out, **kw: [])
    monkeypatch.delenv("EMOLIB_STRICT", raising=False)  # conftest restores both after the test
    monkeypatch.delenv("EMOLIB_LOCK_TIMEOUT", raising=False)
    assert cli.main(["--strict", "--no-wait", "train", "--backbone", "tiny-llama", "--out", str(tmp_path)]) == 0
    import os

    assert os.environ["EMOLIB_STRICT"] == "1" and os.environ["EMOLIB_LOCK_TIMEOUT"] == "0"


def test_a_busy_artifact_with_no_wait_exits_3(monkeypatch, tmp_path, capsys):
    from emolib.integrity import ArtifactBusyError

    def busy(out, **kw):
        raise ArtifactBusyError("artifact prompts-abc is being computed by another process")

    monkeypatch.setattr("emolib.reproduce.train_grid", busy)
    assert cli.main(["--no-wait", "train", "--backbone", "tiny-llama", "--out", str(tmp_path)]) == 3
    assert "prompts-abc is being computed" in capsys.readouterr().err
