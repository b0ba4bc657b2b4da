"""Hard-wrapped documents come back as whole sentences, and files without an extension load."""

from __future__ import annotations

from tools.ingest.loaders import iter_files, load_file
from tools.text.reflow import reflow
from tools.text.sentences import split_sentences

README = """bzip2 is a freely available, patent free, high-quality data
compressor.  It typically compresses files to within 10% to 15%
of the best available techniques.

Installation
============

 - run make, which builds the library
   and the programs;
 - run make install.

    $ make
    $ make install
"""


def test_wrapped_paragraphs_join_and_structure_stays():
    text = reflow(README)
    sentences = split_sentences(text)
    assert "bzip2 is a freely available, patent free, high-quality data compressor." in sentences
    assert "- run make, which builds the library and the programs;" in text
    assert "\nInstallation\n============\n" in text  # the heading is not glued to anything
    assert "    $ make\n    $ make install" in text  # code lines stay lines


def test_fenced_code_is_left_exactly_as_it_is():
    text = "Run:\n```\nls -l\n  grep x\n```\nthen stop."
    assert reflow(text) == text


def test_extensionless_text_files_are_found_and_loaded(tmp_path):
    (tmp_path / "README").write_text(README)
    (tmp_path / "copyright").write_text("Copyright (C) 1996-2010 Julian Seward\n")
    (tmp_path / "blob").write_bytes(b"\x00\x01binary")
    ignored = []
    found = sorted(p.name for p in iter_files([tmp_path], ignored))
    assert found == ["README", "copyright"]
    assert [p.name for p in ignored] == ["blob"]
    (doc,) = load_file(tmp_path / "README")
    assert "high-quality data compressor." in doc.page_content


def test_restructured_text_loads_with_its_title(tmp_path):
    path = tmp_path / "guide.rst"
    path.write_text(
        "The jq Manual\n=============\n\n"
        "jq is a lightweight and flexible\ncommand-line JSON processor.\n"
    )
    (doc,) = load_file(path)
    assert doc.metadata["title"] == "The jq Manual"
    assert "jq is a lightweight and flexible command-line JSON processor." in doc.page_content


def test_html_inline_markup_stays_inside_its_sentence(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>jq</title></head><body><h2>About</h2>"
        "<p>jq is a <b>lightweight</b> and <a href='#'>flexible</a> JSON processor.</p>"
        "<ul><li>fast</li><li>portable</li></ul></body></html>"
    )
    (doc,) = load_file(path)
    assert "jq is a lightweight and flexible JSON processor." in doc.page_content
    assert "## About" in doc.page_content
    assert "fast\n\nportable" in doc.page_content
