"""Tables as pages show them: no row numbers, integer counts, p values never 0.000."""

import numpy as np
import pandas as pd
import pytest

from emolib import tables


def test_p_columns_never_show_zero_and_keep_their_order():
    frame = pd.DataFrame({"p": [0.0, 0.0004, 0.001, 0.5, 1.0, np.nan]})
    shown = tables.formatted(frame)["p"].tolist()
    assert shown == ["< 0.0001", "0.0004", "0.001", "0.500", "1", ""]
    assert "<td>0.000</td>" not in tables.to_html(frame)


@pytest.mark.parametrize("name,expected", [("p", True), ("q", True), ("p_holm", True), ("p (Holm)", True),
                                           ("q_bh", True), ("perm_p", True), ("p_partial_holm", True),
                                           ("power", False), ("pc", False), ("prompt", False), ("tau", False),
                                           ("q25", False)])
def test_p_columns_are_found_by_name(name, expected):
    assert tables.is_p_column(name) is expected


def test_whole_floats_become_integers_but_fractions_do_not():
    frame = pd.DataFrame({"n": [90.0, 100.0, np.nan], "x": [1.0, 2.5, 3.0], "big": [36864.0, 4000.0, 1.0]})
    shown = tables.formatted(frame)
    assert shown["n"].tolist() == ["90", "100", ""]
    assert shown["x"].tolist() == ["1.000", "2.500", "3.000"]
    assert shown["big"].tolist() == ["36,864", "4,000", "1"]


def test_tiny_effects_are_not_rounded_to_zero():
    assert tables.formatted(pd.DataFrame({"diff": [2e-9, -0.25]}))["diff"].tolist() == ["2.0e-09", "-0.250"]


def test_a_default_index_is_hidden_and_a_named_one_kept():
    plain = pd.DataFrame({"a_long_name": [1, 2]})
    assert "<th>0</th>" not in tables.to_html(plain) and "<th>1</th>" not in tables.to_html(plain)
    named = plain.set_index(pd.Index(["x", "y"], name="emotion"))
    assert "<th>x</th>" in tables.to_html(named)
    assert "a_\u200blong_\u200bname" in tables.to_html(plain)  # wraps after underscores only


def test_text_is_escaped_and_strings_untouched():
    html = tables.to_html(pd.DataFrame({"statement": ["a < b & c"], "n": [3]}))
    assert "a &lt; b &amp; c" in html and ">3<" in html


def test_register_is_a_no_op_outside_ipython():
    tables.register()  # no IPython shell here: nothing to do, no error


def test_register_formats_dataframes_in_an_ipython_shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        tables.register()
        data, _ = shell.display_formatter.format(pd.DataFrame({"p": [0.0]}))
        assert "&lt; 0.0001" in data["text/html"]
    finally:
        shell.display_formatter.formatters["text/html"].pop(pd.DataFrame, None)
        InteractiveShell.clear_instance()


def test_a_styler_keeps_its_formats_but_loses_row_numbers_and_zero_p_values():
    styler = pd.DataFrame({"p": [0.0, 0.2], "n": [90.0, 3.0], "x": [0.55, 1.25]}).style.format({"x": "{:.1f}"})
    html = tables.styler_html(styler)
    assert "&lt; 0.0001" in html and ">0.200<" in html  # p by format_p_value
    assert ">90<" in html and ">90.000000<" not in html  # a whole-number column as integers
    assert ">0.6<" in html or ">0.5<" in html  # the chapter's own format kept
    assert "row0" in html and ">0</th>" not in html  # the rows are there, their numbers are not


def test_filtered_row_numbers_are_hidden_and_numbers_in_text_columns_formatted():
    frame = pd.DataFrame({"rdm": ["all", "all"], "r": [0.07, 0.06]}, index=[270, 574])  # rows left by a filter
    assert ">270<" not in tables.to_html(frame)
    mixed = pd.DataFrame({"entries": [90.0, 516612096.0, "", None], "x": [-0.0001, 0.5, 1.0, 2.5]})
    shown = tables.formatted(mixed)
    assert shown["entries"].tolist() == ["90", "516,612,096", "", ""]
    assert shown["x"].tolist()[0] == "-1.0e-04" and "-0.000" not in tables.formatted(pd.DataFrame({"x": [-0.0004, 0.5]}))["x"].tolist()
