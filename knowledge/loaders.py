"""Turns an uploaded file (.md, .txt, .html, .pdf, .docx) into Markdown-ish text and a title."""

from __future__ import annotations

import io
import re
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
# Compressed formats (.docx is a zip, PDF streams are deflated) may unpack to at most this many
# times the upload limit: a 300 KB .docx that inflates to 300 MB is refused before it is parsed.
MAX_UNPACK_RATIO = 10
# A zip with more members than any real .docx has is a bomb of another kind (many tiny entries).
MAX_ZIP_MEMBERS = 10_000
# A PDF's text is extracted page by page in pure Python: a tiny file with a huge content stream is a
# CPU bomb. Real pages hold far fewer tokens than this, and reading stops between pages after this time.
PDF_MAX_TOKENS_PER_STREAM = 300_000
PDF_MAX_SECONDS = 30
# A PDF metadata title that is really a file name ("Microsoft Word - refunds.docx") is no title.
_FILE_NAME_TITLE = re.compile(r"\.(docx?|pdf|txt|md|html?|odt|rtf|pages)$", re.IGNORECASE)


class DocumentError(ValueError):
    """A document cannot be accepted; `status` is the HTTP status a client should see."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class LoadedDocument:
    doc_id: str
    filename: str
    title: str
    text: str


def check_filename(filename: str) -> str:
    """Return the NFC-normalised name, or raise if it has a path, control or invisible characters."""
    if not isinstance(filename, str) or not filename.strip():
        raise DocumentError("invalid_filename", "The file needs a name.")
    name = unicodedata.normalize("NFC", filename.strip())
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise DocumentError(
            "invalid_filename", f"The file name {filename!r} must not contain a path or start with '.'."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise DocumentError(
            "invalid_filename",
            f"The file name {filename!r} contains control or invisible characters; rename the file.",
        )
    if len(name) > 200:
        raise DocumentError("invalid_filename", "The file name is longer than 200 characters.")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            "unsupported_type",
            f"{name!r} is not a supported type; use one of {', '.join(SUPPORTED_SUFFIXES)}.",
            status=415,
        )
    return name


def document_id(filename: str) -> str:
    """A stable id from the file name: 'Returns Policy.md' → 'returns-policy'."""
    stem = PurePosixPath(filename).stem
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")[:120]
    if not slug:
        import hashlib

        slug = "doc-" + hashlib.sha256(stem.encode()).hexdigest()[:10]
    return slug


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("corrupt_document", "The text file is not valid UTF-8 or Windows-1252.")


def _html_to_markdown(data: bytes) -> tuple[str, str | None]:
    import html2text
    from bs4 import BeautifulSoup

    html = _decode(data)
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else None
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_links = True
    return converter.handle(str(soup)), title


def _too_large_unpacked(name: str, size: int | None, limit: int, why: str = "") -> DocumentError:
    if size is None:
        message = f"{name!r} unpacks to more than the limit for unpacked content ({limit} bytes)"
        message += f": {why}" if why else "."
    else:
        message = f"{name!r} unpacks to {size} bytes; the limit for unpacked content is {limit} bytes."
    return DocumentError("document_too_large", message, status=413)


def _pdf_text(name: str, data: bytes, *, max_unpacked: int) -> tuple[str, str | None]:
    """The text of every page and the metadata title; refuses PDFs that unpack past the limit."""
    from pypdf import PdfReader, apply_configuration, get_configuration
    from pypdf.errors import LimitReachedError, PdfReadError

    # pypdf caps each decompressed stream (75 MB by default); lower every such cap to our limit,
    # for this call only (pypdf keeps its configuration in a context variable).
    defaults = get_configuration()
    caps = {
        field: min(getattr(defaults, field), max_unpacked)
        for field in (
            "maximum_declared_stream_length",
            "array_based_stream_maximum_output_length",
            "zlib_maximum_output_length",
            "lzw_maximum_output_length",
            "run_length_maximum_output_length",
            "brotli_maximum_output_length",
            "jbig2_maximum_output_length",
            "stream_decoding_work_maximum_length",
        )
    }
    caps["stream_parsing_work_maximum_count"] = min(
        defaults.stream_parsing_work_maximum_count, PDF_MAX_TOKENS_PER_STREAM
    )
    pages: list[str] = []
    total = 0
    started = time.monotonic()
    try:
        with apply_configuration(**caps):
            reader = PdfReader(io.BytesIO(data))
            metadata = reader.metadata
            title = metadata.title if metadata is not None else None
            # The text of all pages together is capped too: many pages may share one stream.
            for page in reader.pages:
                text = page.extract_text() or ""
                total += len(text)
                if total > max_unpacked:
                    raise _too_large_unpacked(name, None, max_unpacked, "its text is longer")
                if time.monotonic() - started > PDF_MAX_SECONDS:
                    raise DocumentError(
                        "document_too_large",
                        f"{name!r} takes longer than {PDF_MAX_SECONDS} s to read; split it into smaller files.",
                        status=413,
                    )
                pages.append(text)
    except LimitReachedError as exc:
        raise _too_large_unpacked(name, None, max_unpacked, str(exc)) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        if isinstance(exc, DocumentError):
            raise
        raise DocumentError("corrupt_document", f"The PDF could not be read: {exc}") from exc
    title = str(title).strip() if title else ""
    if title.lower() in ("", "untitled") or _FILE_NAME_TITLE.search(title):
        title = ""
    return "\n\n".join(pages), title or None


def check_zip_size(name: str, data: bytes, *, max_unpacked: int) -> None:
    """Refuse a zip-based document (.docx and kin) whose members unpack past `max_unpacked` bytes.

    The sizes come from the zip's central directory; Python's zipfile never inflates a member past
    its declared size (a lying member fails its CRC check instead), so the sum is a real bound.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise DocumentError("corrupt_document", f"{name!r} is not a valid zip-based document: {exc}") from exc
    if len(members) > MAX_ZIP_MEMBERS:
        raise DocumentError(
            "document_too_large",
            f"{name!r} holds {len(members)} files; the limit is {MAX_ZIP_MEMBERS}.",
            status=413,
        )
    total = sum(member.file_size for member in members)
    if total > max_unpacked:
        raise _too_large_unpacked(name, total, max_unpacked)


def _docx_text(name: str, data: bytes, *, max_unpacked: int) -> tuple[str, str | None]:
    import docx

    check_zip_size(name, data, max_unpacked=max_unpacked)
    try:
        document = docx.Document(io.BytesIO(data))
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        EOFError,
        NotImplementedError,  # a compression method zipfile does not support
        RuntimeError,  # an encrypted member
    ) as exc:
        raise DocumentError("corrupt_document", f"The .docx file could not be read: {exc}") from exc
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name or "") if paragraph.style is not None else ""
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            lines.append(f"# {text}")
        elif level:
            lines.append(f"{'#' * min(6, int(level.group(1)))} {text}")
        else:
            lines.append(text)
    title = document.core_properties.title or None
    return "\n\n".join(lines), title


def _first_line_title(text: str, *, max_chars: int = 80) -> str | None:
    """The first non-empty line when it is short enough to be a heading, else None."""
    for line in text.splitlines():
        line = " ".join(line.lstrip("#").split())
        if line:
            return line if len(line) <= max_chars else None
    return None


def load_document(filename: str, data: bytes, *, max_bytes: int) -> LoadedDocument:
    """Parse an upload; raises DocumentError for bad names, types, sizes and contents."""
    name = check_filename(filename)
    if len(data) > max_bytes:
        raise DocumentError(
            "file_too_large", f"{name!r} is {len(data)} bytes; the limit is {max_bytes}.", status=413
        )
    if not data.strip():
        raise DocumentError("empty_document", f"{name!r} is empty.")
    suffix = PurePosixPath(name).suffix.lower()
    max_unpacked = max_bytes * MAX_UNPACK_RATIO
    title: str | None = None
    if suffix in (".md", ".markdown", ".txt"):
        text = _decode(data)
    elif suffix in (".html", ".htm"):
        text, title = _html_to_markdown(data)
    elif suffix == ".pdf":
        text, title = _pdf_text(name, data, max_unpacked=max_unpacked)
    else:
        text, title = _docx_text(name, data, max_unpacked=max_unpacked)
    text = unicodedata.normalize("NFC", text).replace("\x00", "").strip()
    if not text:
        raise DocumentError("empty_document", f"{name!r} contains no text.")
    if suffix == ".pdf":
        # A PDF has no Markdown headings: its metadata title, else its first line.
        title = title or _first_line_title(text)
    else:
        heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
        if heading:
            title = heading.group(1).strip()
    title = title or PurePosixPath(name).stem.replace("-", " ").replace("_", " ").strip()
    return LoadedDocument(doc_id=document_id(name), filename=name, title=title[:300], text=text)
