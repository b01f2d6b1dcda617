"""The knowledge base on real Chroma, embedded and a `chroma run` server: ingest, replace, delete, search."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from knowledge import DocumentError, KnowledgeBase
from knowledge.loaders import load_document
from knowledge.store import make_chroma_client
from settings import Settings
from storage import make_engine, migrate
from tests.integration.conftest import ADMIN
from tests.utils.server import running_chroma

DEMO = Path(__file__).resolve().parents[2] / "knowledge" / "demo"

ARTICLE = """# Gift Wrapping

## Options
We wrap any order in recycled kraft paper for $4.50 per item. Choose "Gift wrap" at checkout.

## Gift messages
A handwritten card with your message (up to 200 characters) is free with gift wrapping.
"""


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_chroma(tmp_path_factory.mktemp("chroma-server") / "db") as url:
        yield url


@pytest.fixture(params=["embedded", "server"])
def kb(request: pytest.FixtureRequest, embedder, data_dir: Path) -> KnowledgeBase:
    chroma_url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    settings = Settings(data_dir=data_dir, chroma_url=chroma_url)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    # A collection per test: the server is shared by the module.
    return KnowledgeBase(
        engine=engine,
        chroma=make_chroma_client(settings),
        embedder=embedder,
        uploads_dir=data_dir / "uploads",
        max_upload_bytes=200_000,
        collection=f"kb_{data_dir.parent.name[-40:]}".replace("-", "_"),
    )


def store_is_consistent(kb: KnowledgeBase) -> None:
    documents = kb.documents()
    assert kb.chunk_count() == sum(d["chunks"] for d in documents)
    for d in documents:
        ids = kb._collection.get(where={"document": d["id"]})["ids"]
        assert sorted(ids) == sorted(f"{d['id']}:{n}" for n in range(d["chunks"]))
    # Every sentence row belongs to a chunk that exists, and every document has its sentences.
    sentences = kb._sentences._collection.get(include=["metadatas"])["metadatas"]
    assert {m["chunk_id"] for m in sentences} <= set(kb._collection.get()["ids"])
    assert {m["document"] for m in sentences} == {d["id"] for d in documents}


def test_ingest_search_and_cite(kb: KnowledgeBase) -> None:
    result = kb.ingest("gift-wrapping.md", ARTICLE.encode())
    assert (result.document, result.title, result.status) == ("gift-wrapping", "Gift Wrapping", "added")
    assert result.chunks >= 2
    kb.ingest("returns-policy.md", (DEMO / "returns-policy.md").read_bytes())

    hits = kb.search("how much does gift wrap cost?", k=3)
    assert hits[0].document == "gift-wrapping" and hits[0].title == "Gift Wrapping"
    assert "$4.50" in hits[0].text and hits[0].section == "Options"
    assert hits == sorted(hits, key=lambda c: -c.score)
    assert kb.retrieve("what is the capital of Mongolia?") == []
    store_is_consistent(kb)


def test_a_question_one_sentence_answers_finds_its_chunk(kb: KnowledgeBase) -> None:
    # The Contact Support chunk that holds the e-mail reply time is about e-mail, chat and phone
    # together: as a whole it is below the relevance threshold for this question, its sentence is not.
    kb.ingest("contact-support.md", (DEMO / "contact-support.md").read_bytes())
    question = "how long does it take you guys to answer emails"
    hits = kb.retrieve(question)
    assert hits and "within 1 business day" in hits[0].text
    assert hits[0].score >= kb.threshold
    assert kb.retrieve("what is the capital of Mongolia?") == []


def test_a_knowledge_base_indexed_before_the_sentence_index_gets_one_at_start(kb: KnowledgeBase) -> None:
    kb.ingest("contact-support.md", (DEMO / "contact-support.md").read_bytes())
    name = kb._sentences._collection.name
    kb._chroma.delete_collection(name)
    reopened = KnowledgeBase(
        engine=kb._sessions.kw["bind"],
        chroma=kb._chroma,
        embedder=kb._embedder,
        uploads_dir=kb._uploads,
        max_upload_bytes=200_000,
        collection=kb._collection.name,
    )
    assert reopened._sentences.count() > 0
    assert (
        "within 1 business day"
        in reopened.retrieve("how long does it take you guys to answer emails")[0].text
    )
    store_is_consistent(reopened)


def test_an_empty_knowledge_base_finds_nothing_in_every_mode_then_finds_what_is_added(
    kb: KnowledgeBase,
) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        assert kb.search("how much does gift wrap cost?", mode=mode) == []
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    for mode in ("dense", "bm25", "hybrid"):
        assert kb.search("how much does gift wrap cost?", k=1, mode=mode)[0].document == "gift-wrapping"


def test_the_same_document_again_changes_nothing(kb: KnowledgeBase) -> None:
    first = kb.ingest("gift-wrapping.md", ARTICLE.encode())
    before = kb._collection.get(include=["documents"])
    again = kb.ingest("gift-wrapping.md", ARTICLE.encode())
    assert again.status == "unchanged" and again.chunks == first.chunks
    assert kb._collection.get(include=["documents"]) == before


def test_a_changed_document_replaces_its_chunks(kb: KnowledgeBase) -> None:
    kb.ingest("gift-wrapping.md", (ARTICLE + "\n## Extra\n" + "More text about ribbons. " * 80).encode())
    longer = kb.documents()[0]["chunks"]
    result = kb.ingest("gift-wrapping.md", ARTICLE.replace("$4.50", "$6.00").encode())
    assert result.status == "updated" and result.chunks < longer
    texts = " ".join(kb._collection.get(where={"document": "gift-wrapping"})["documents"])
    assert "$6.00" in texts and "$4.50" not in texts and "ribbons" not in texts
    store_is_consistent(kb)


def test_deleting_a_document_removes_every_chunk(kb: KnowledgeBase) -> None:
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    kb.ingest("refunds.md", (DEMO / "refunds.md").read_bytes())
    assert kb.delete("gift-wrapping") is True
    assert kb._collection.get(where={"document": "gift-wrapping"})["ids"] == []
    assert [d["id"] for d in kb.documents()] == ["refunds"]
    assert kb.delete("gift-wrapping") is False
    store_is_consistent(kb)


def test_reindex_rebuilds_from_the_saved_upload(kb: KnowledgeBase) -> None:
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    kb._collection.delete(ids=["gift-wrapping:0"])
    result = kb.reindex("gift-wrapping")
    assert result.chunks == kb.documents()[0]["chunks"]
    store_is_consistent(kb)


def pdf_bytes(text: str, *, title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Store Hours", level=1)
    document.add_paragraph("Our Portland showroom is open 10am to 6pm, Tuesday to Saturday.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "data", "title", "fact"),
    [
        ("store-hours.txt", b"Our showroom opens at 10am, Tuesday to Saturday.", "store hours", "10am"),
        (
            "store-hours.html",
            b"<html><head><title>Store Hours</title><script>evil()</script></head>"
            b"<body><h1>Store Hours</h1><p>Open 10am&nbsp;to 6pm.</p></body></html>",
            "Store Hours",
            "10am",
        ),
        (
            "store-hours.pdf",
            pdf_bytes("Opening Times\nStore hours: the showroom opens at 10am."),
            "Opening Times",
            "10am",
        ),
        ("store-hours.docx", docx_bytes(), "Store Hours", "10am to 6pm"),
    ],
)
def test_every_supported_type_is_indexed(
    kb: KnowledgeBase, filename: str, data: bytes, title: str, fact: str
) -> None:
    result = kb.ingest(filename, data)
    assert result.title == title
    hit = kb.search("when does the showroom open?", k=1)[0]
    assert hit.document == "store-hours" and fact in hit.text
    assert "evil" not in hit.text


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("notes.exe", b"MZ...", "unsupported_type"),
        ("empty.md", b"", "empty_document"),
        ("blank.txt", b"   \n\n ", "empty_document"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "corrupt_document"),
        ("broken.docx", b"PK\x03\x04 not a zip", "corrupt_document"),
        ("big.md", b"# Big\n" + b"x" * 200_001, "file_too_large"),
        ("../etc/passwd.md", b"# hi", "invalid_filename"),
        ("dir\\evil.md", b"# hi", "invalid_filename"),
        ("bidi\u202egnp.md", b"# hi", "invalid_filename"),
        ("nul\x00.md", b"# hi", "invalid_filename"),
        (".hidden.md", b"# hi", "invalid_filename"),
    ],
)
def test_bad_documents_are_refused_and_nothing_is_half_indexed(
    kb: KnowledgeBase, filename: str, data: bytes, code: str
) -> None:
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    with pytest.raises(DocumentError) as error:
        kb.ingest(filename, data)
    assert error.value.code == code and str(error.value)
    assert [d["id"] for d in kb.documents()] == ["gift-wrapping"]
    store_is_consistent(kb)


def test_the_same_content_under_another_name_is_a_duplicate(kb: KnowledgeBase) -> None:
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    with pytest.raises(DocumentError) as error:
        kb.ingest("gift-wrapping-copy.md", ARTICLE.encode())
    assert error.value.code == "duplicate_document" and error.value.status == 409
    assert len(kb.documents()) == 1


def test_unicode_names_get_stable_ids(kb: KnowledgeBase) -> None:
    result = kb.ingest("Rückgabe Übersicht.md", "# Rückgabe\n\nInnerhalb von 30 Tagen.".encode())
    assert result.document == "ruckgabe-ubersicht"
    assert kb.documents()[0]["filename"] == "Rückgabe Übersicht.md"


def test_a_pdf_title_comes_from_its_metadata_else_its_first_line(kb: KnowledgeBase) -> None:
    body = "Returns are free within 30 days of delivery."
    titled = kb.ingest("doc-1234.pdf", pdf_bytes(f"Returns\n{body}", title="Returns and Refunds"))
    assert titled.title == "Returns and Refunds"
    first_line = kb.ingest("scan-0001.pdf", pdf_bytes(f"Shipping to Canada\n{body} Ship anywhere."))
    assert first_line.title == "Shipping to Canada"
    # A first line too long to be a heading is no title: the file name is used.
    prose = kb.ingest("care-guide.pdf", pdf_bytes("Wool " + "needs gentle washing and drying flat. " * 8))
    assert prose.title == "care guide"
    assert {d["title"] for d in kb.documents()} == {"Returns and Refunds", "Shipping to Canada", "care guide"}


def zip_bomb_docx(unpacked_bytes: int) -> bytes:
    """A real .docx whose document.xml holds one text run of `unpacked_bytes` letters."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes())) as source, zipfile.ZipFile(out, "w") as bomb:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(
                    b"</w:body>", b"<w:p><w:r><w:t>" + b"A" * unpacked_bytes + b"</w:t></w:r></w:p></w:body>"
                )
            bomb.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def raw_pdf(content: bytes, *, pages: int = 1) -> bytes:
    """A PDF of `pages` pages that all show one content stream, `content` deflated."""
    stream = zlib.compress(content, 9)
    kids = b" ".join(b"%d 0 R" % (5 + n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ] + [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>"
    ] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


BOMBS = {
    # Central-directory sizes over 10 × the 200 KB upload limit.
    "bomb.docx": lambda: zip_bomb_docx(3_000_000),
    # A content stream past the limit (and past pypdf's own 75 MB cap on one stream).
    "stream-bomb.pdf": lambda: raw_pdf(b" " * 80_000_000),
}


@pytest.mark.parametrize("filename", list(BOMBS))
def test_documents_that_unpack_past_the_limit_are_refused(kb: KnowledgeBase, filename: str) -> None:
    data = BOMBS[filename]()
    assert len(data) < 200_000
    kb.ingest("gift-wrapping.md", ARTICLE.encode())
    with pytest.raises(DocumentError) as error:
        kb.ingest(filename, data)
    assert (error.value.code, error.value.status) == ("document_too_large", 413)
    assert "unpacks to" in str(error.value) and filename in str(error.value)
    assert [d["id"] for d in kb.documents()] == ["gift-wrapping"]
    store_is_consistent(kb)


@pytest.mark.parametrize(
    ("content", "pages", "max_bytes", "why"),
    [
        # Pages that share one stream, under the limit alone, whose text together is past it.
        ((b"(" + b"Refund policy text. " * 50 + b") Tj ") * 150, 2, 20_000, "its text is longer"),
        # More tokens than any real page: 3 KB that pypdf would parse for about 40 s under its own limit.
        (b"(a) Tj " * 250_000, 1, 200_000, "tokens"),
    ],
    ids=["text", "tokens"],
)
def test_pdf_bombs_are_refused(content: bytes, pages: int, max_bytes: int, why: str) -> None:
    bomb = raw_pdf(b"BT /F1 12 Tf 72 700 Td " + content + b"ET", pages=pages)
    with pytest.raises(DocumentError) as error:
        load_document("bomb.pdf", bomb, max_bytes=max_bytes)
    assert (error.value.code, error.value.status) == ("document_too_large", 413)
    assert why in str(error.value)


def test_an_uploaded_docx_bomb_is_a_json_413(make_client) -> None:
    client = make_client(demo_data=False, max_upload_bytes=300_000)
    bomb = zip_bomb_docx(30_000_000)  # 30 MB of text in a file of about 30 KB
    answer = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("handbook.docx", bomb)})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "document_too_large"
    assert client.get("/api/v1/admin/documents", auth=ADMIN).json() == {"documents": []}
