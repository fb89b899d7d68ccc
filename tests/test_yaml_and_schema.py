"""The YAML reader keeps line numbers and rejects what PyYAML would silently accept."""

from __future__ import annotations

from infra.declarations.files import key_text, load_text
from infra.declarations.keys import Field, read_mapping
from infra.problems import Problems


def test_lines_of_keys_and_items():
    problems = Problems()
    doc = load_text("a: 1\nb:\n  - x\n  - y: 2\n", "f.yaml", problems)
    assert not problems
    assert doc.line(("a",)) == 1 and doc.line(("b", 1)) == 4 and doc.line(("b", 1, "y")) == 4
    assert doc.line(("b", 1, "missing")) == 4  # nearest ancestor


def test_duplicate_keys_are_problems():
    problems = Problems()
    assert load_text("a: 1\na: 2\n", "f.yaml", problems) is None
    [p] = list(problems)
    assert (p.file, p.line, p.key) == ("f.yaml", 2, "a") and "duplicate key" in p.what


def test_invalid_yaml_has_a_line():
    problems = Problems()
    assert load_text("a: [1\nb: 2\n", "f.yaml", problems) is None
    [p] = list(problems)
    assert p.line == 2 and "invalid YAML" in p.what


def test_merge_keys_and_non_string_keys_are_rejected():
    problems = Problems()
    assert load_text("base: &b {x: 1}\nother:\n  <<: *b\n1: 2\n", "f.yaml", problems) is None
    whats = sorted(p.what for p in problems)
    assert any("merge keys" in w for w in whats) and any("not a plain string" in w for w in whats)


def test_empty_file_is_an_empty_mapping():
    problems = Problems()
    doc = load_text("", "f.yaml", problems)
    assert doc.data == {} and not problems


def test_key_text():
    assert key_text(("grants", 0, "role")) == "grants[0].role"


def test_read_mapping_reports_every_kind_of_problem():
    problems = Problems()
    doc = load_text("name: 3\ncolour: red\nkind: c\nitems: [1, x]\n", "f.yaml", problems)
    fields = (Field("name", str, required=True), Field("title", str, required=True),
              Field("kind", str, choices=("a", "b")), Field("items", list, item=int),
              Field("color", str))
    values = read_mapping(doc, (), doc.data, fields, problems, "a thing")
    text = "\n".join(str(p) for p in problems)
    assert "f.yaml:1: name: must be a string, got number 3" in text
    assert "colour: unknown key in a thing (did you mean 'color'?)" in text
    assert "title: missing required key" in text
    assert "kind: 'c' is not allowed" in text
    assert "items[1]: must be a whole number" in text
    # every key is there, a rejected one holding its default, so a caller can index it safely
    assert values == {"name": None, "title": None, "kind": None, "items": None, "color": None}
    assert values.rejected == {"name", "title", "kind", "items"}
    assert all("fix:" in str(p) for p in problems)


def test_read_mapping_refuses_empty_text_control_characters_and_long_text():
    problems = Problems()
    doc = load_text("a: '  '\nb: \"x\\u0000y\"\nc: " + "z" * 20 + "\nd: 30\n", "f.yaml", problems)
    fields = (Field("a", str), Field("b", str), Field("c", str, max_length=10), Field("d", int, maximum=24))
    values = read_mapping(doc, (), doc.data, fields, problems, "a thing")
    text = "\n".join(str(p) for p in problems)
    assert "a: must not be empty" in text
    assert "b: contains the control character U+0000" in text
    assert "c: is 20 characters long, more than the 10 BigQuery keeps" in text
    assert "d: 30 is out of range (at most 24)" in text
    assert values.rejected == {"a", "b", "c", "d"}


def test_booleans_are_not_numbers():
    problems = Problems()
    doc = load_text("n: true\n", "f.yaml", problems)
    read_mapping(doc, (), doc.data, (Field("n", int),), problems, "x")
    assert "must be a whole number, got boolean true" in str(next(iter(problems)))
