"""Loading files: each format gives text, source and title; each bad file a clear LoaderError."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from tools.ingest.loaders import LoaderError, iter_files, load_file


def make_pdf(text: str, title: str | None = None, password: str | None = None) -> bytes:
    """A one-page PDF whose page shows ``text`` in Helvetica."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    content.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(content)
    if title:
        writer.add_metadata({"/Title": title})
    if password:
        writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_markdown_title_is_first_heading(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("Intro line\n\n## Volcanoes of Italy\n\nEtna is active.\n", encoding="utf-8")
    [doc] = load_file(path)
    assert doc.metadata["title"] == "Volcanoes of Italy"
    assert doc.metadata["source"] == str(path.absolute())
    assert "Etna is active." in doc.page_content


def test_text_title_is_file_stem(tmp_path):
    path = tmp_path / "bread_notes.txt"
    path.write_text("Sourdough needs a starter.", encoding="utf-8")
    [doc] = load_file(path)
    assert doc.metadata["title"] == "bread_notes"
    assert doc.page_content == "Sourdough needs a starter."


def test_html_drops_scripts_and_uses_title(tmp_path):
    path = tmp_path / "page.htm"
    path.write_text(
        "<html><head><title>Tea Guide</title><style>p{color:red}</style></head>"
        "<body><script>alert('x')</script><p>Green tea is unoxidised.</p></body></html>",
        encoding="utf-8",
    )
    [doc] = load_file(path)
    assert doc.metadata["title"] == "Tea Guide"
    assert "Green tea is unoxidised." in doc.page_content
    assert "alert" not in doc.page_content and "color" not in doc.page_content


def test_pdf_text_and_metadata_title(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf("Hello from the PDF", title="Annual Report"))
    [doc] = load_file(path)
    assert doc.metadata["title"] == "Annual Report"
    assert doc.metadata["pages"] == 1
    assert "Hello from the PDF" in doc.page_content


def test_pdf_without_title_uses_stem(tmp_path):
    path = tmp_path / "memo.pdf"
    path.write_bytes(make_pdf("Short memo"))
    assert load_file(path)[0].metadata["title"] == "memo"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"   \n\n  ", "no text"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin1.txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), "not valid UTF-8"),
        ("image.png", b"\x89PNG", "unsupported file type '.png'"),
    ],
)
def test_bad_text_files_raise_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=message) as info:
        load_file(path)
    assert info.value.path == str(path.absolute())
    assert "\n" not in str(info.value)


def test_encrypted_pdf(tmp_path):
    path = tmp_path / "secret.pdf"
    path.write_bytes(make_pdf("Top secret", password="hunter2"))
    with pytest.raises(LoaderError, match="encrypted PDF"):
        load_file(path)


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "broken.pdf"
    data = make_pdf("Will be cut")
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoaderError, match="corrupt"):
        load_file(path)


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("secret", encoding="utf-8")

    # chmod 000 does not stop root (CI containers), so simulate the OS refusing the read.
    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", refuse)
    with pytest.raises(LoaderError, match="permission denied"):
        load_file(path)


def test_iter_files_recurses_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / ".hidden.md").write_text("h")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.txt").write_text("g")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    # A symlink loop back to the root must not be followed.
    (tmp_path / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    files = list(iter_files([tmp_path]))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.txt", "b/z.md"]


def test_iter_files_yields_explicit_files_once(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("x")
    assert list(iter_files([path, path, tmp_path])) == [path.absolute()]


def _make_docx(path):
    import docx

    document = docx.Document()
    document.core_properties.title = "Zebra handbook"
    document.add_heading("Zebra handbook", level=0)
    document.add_heading("Habitat", level=1)
    document.add_paragraph("Zebras live in the grasslands of East Africa.")
    document.add_paragraph("Plains zebra", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Species", "Stripes"
    table.cell(1, 0).text, table.cell(1, 1).text = "Grevy's zebra", "narrow"
    document.save(path)


def test_word_documents_keep_headings_lists_and_tables(tmp_path):
    from tools.ingest.loaders import load_file

    path = tmp_path / "zebras.docx"
    _make_docx(path)
    (doc,) = load_file(path)
    assert doc.metadata["title"] == "Zebra handbook"
    assert doc.page_content.split("\n\n") == [
        "# Zebra handbook",
        "## Habitat",
        "Zebras live in the grasslands of East Africa.",
        "- Plains zebra",
        "| Species | Stripes |",
        "| Grevy's zebra | narrow |",
    ]


def test_a_word_file_that_is_not_one_is_a_clear_error(tmp_path):
    from tools.ingest.loaders import LoaderError, load_file

    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LoaderError, match="corrupt or unreadable Word file"):
        load_file(path)


def test_an_ingested_word_file_is_cited_with_its_section(tmp_path, embeddings):
    from arag.turn import run_turn
    from graph.builder import build_graph
    from graph.config import Context
    from tests.runs import run
    from tools.ingest.pipeline import ingest

    _make_docx(tmp_path / "zebras.docx")
    report = ingest([str(tmp_path / "zebras.docx")], str(tmp_path / "data"), embeddings)
    assert report.files_ok == 1
    ctx = Context(data_dir=str(tmp_path / "data"), model="offline")
    turn = {"messages": [("user", "Where do zebras live?")]}
    result = run(run_turn(build_graph(chat_model=None), turn, context=ctx))
    assert "grasslands of East Africa" in result.answer
    assert result.citations[0]["source"] == "zebras.docx"
    assert "Habitat" in result.citations[0].get("section", "")
