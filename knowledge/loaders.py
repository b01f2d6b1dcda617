"""Turns an uploaded file (.md, .txt, .html, .pdf, .docx) into Markdown-ish text and a title."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")


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


def _pdf_text(data: bytes) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError("corrupt_document", f"The PDF could not be read: {exc}") from exc
    return "\n\n".join(pages), str(title) if title else None


def _docx_text(data: bytes) -> tuple[str, str | None]:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
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
    title: str | None = None
    if suffix in (".md", ".markdown", ".txt"):
        text = _decode(data)
    elif suffix in (".html", ".htm"):
        text, title = _html_to_markdown(data)
    elif suffix == ".pdf":
        text, title = _pdf_text(data)
    else:
        text, title = _docx_text(data)
    text = unicodedata.normalize("NFC", text).replace("\x00", "").strip()
    if not text:
        raise DocumentError("empty_document", f"{name!r} contains no text.")
    heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    if heading:
        title = heading.group(1).strip()
    title = title or PurePosixPath(name).stem.replace("-", " ").replace("_", " ").strip()
    return LoadedDocument(doc_id=document_id(name), filename=name, title=title[:300], text=text)
