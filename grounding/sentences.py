"""Splits Markdown sources and model replies into sentences, and tidies a generated reply into whole ones."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grounding.facts import tokens

# Words that end with a full stop without ending the sentence ("9:00 a.m. Pacific", "e.g. a kettle").
_ABBREVIATIONS = {
    "a.m",
    "p.m",
    "e.g",
    "i.e",
    "etc",
    "vs",
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "no",
    "u.s",
    "p.o",
    "approx",
    "incl",
    "inc",
    "ltd",
    "co",
}
# Words that start a sentence, so an abbreviation before them ends one: "… 10 a.m. to 6 p.m. It is
# closed on Sundays." (but "9:00 a.m. Pacific").
_STARTER = re.compile(r"(?:It|We|You|The|Our|This|That|These|They|There|If|Please|Your|For|On|In)\b")
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]*]*\s+")
_END = re.compile(r"[.!?…][\"'”’)\]*_]*$")
_BULLET = re.compile(r"^(\s*)([-*+•]|\d{1,2}[.)])\s+(.*)$")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*$")
_TABLE_SEPARATOR = re.compile(r"^:?-{2,}:?$")
_YES_NO_ONLY = re.compile(r"^(yes|no|yep|nope|yeah|sure|correct|right)\s*[.!]?$", re.IGNORECASE)
# Words that cannot end a finished sentence: a reply that stops on one was cut off.
_DANGLING = {"and", "or", "the", "a", "an", "to", "of", "for", "with", "in", "on", "at", "by", "your", "our"}


@dataclass(frozen=True)
class Unit:
    """One sentence (or list item, or table row) with where it sits in its text.

    `raw` is the text as written (Markdown kept), `text` the plain sentence, `context` the sentence
    with its heading or list lead-in ("What It Doesn't Cover: water damage") for matching; `heading`
    the heading it stands under whether or not `context` names it.
    """

    raw: str
    text: str
    context: str
    block: int
    prefix: str = ""
    heading: str = ""  # the heading the sentence stands under, in a source


def plain(markdown: str) -> str:
    """Inline Markdown removed: emphasis, code, links, HTML tags."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(r"<[^>]{1,80}>", " ", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    text = re.sub(r"(?<!\w)_(.+?)_(?!\w)", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph, as written; abbreviations and decimals do not split."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        following = paragraph[end : end + 1]
        if following and not (following.isupper() or following.isdigit() or following in "\"'“‘(*[-"):
            continue
        words = paragraph[start : match.start() + 1].split()
        last = words[-1].lower().rstrip(".").strip("(\"'“*") if words else ""
        if match.group().startswith(".") and last in _ABBREVIATIONS and not _STARTER.match(paragraph, end):
            continue
        piece = paragraph[start:end].strip()
        if piece:
            out.append(piece)
        start = end
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _blocks(text: str) -> list[tuple[str, str]]:
    """(prefix, text) for each paragraph, list item, heading ('#') or table row ('|') of the text."""
    blocks: list[tuple[str, str]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(("", " ".join(paragraph)))
            paragraph.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
            blocks.append(("\n", ""))
            continue
        if _HEADING.match(stripped):
            flush()
            blocks.append(("#", _HEADING.match(stripped).group(1)))  # type: ignore[union-attr]
            continue
        if stripped.startswith("|") and stripped.count("|") >= 2:
            flush()
            blocks.append(("|", stripped))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            flush()
            marker = bullet.group(2)
            blocks.append((("- " if not marker[0].isdigit() else marker + " "), bullet.group(3).strip()))
            continue
        if blocks and blocks[-1][0] not in ("", "\n", "#", "|") and not paragraph and line[:1].isspace():
            # An indented line continues the list item above it.
            prefix, previous = blocks.pop()
            blocks.append((prefix, f"{previous} {stripped}"))
            continue
        paragraph.append(stripped)
    flush()
    return blocks


def _table_cells(row: str) -> list[str]:
    return [plain(cell) for cell in row.strip().strip("|").split("|")]


def split_markdown(text: str) -> list[Unit]:
    """Every sentence of a Markdown text: paragraphs by sentence, each list item and table row as one.

    A table row becomes "Standard — Cost: CA$14.99; Delivery time: 5–10 business days"; a list item
    is matched with its lead-in ("We accept: PayPal") or, without one, its heading.
    """
    units: list[Unit] = []
    heading = ""
    lead_in = ""
    header: list[str] | None = None
    block = 0
    for prefix, body in _blocks(text):
        if prefix == "\n":
            header = None
            continue
        block += 1
        if prefix == "#":
            heading, lead_in, header = plain(body), "", None
            continue
        if prefix == "|":
            cells = _table_cells(body)
            if all(_TABLE_SEPARATOR.match(c.replace(" ", "")) for c in cells if c):
                continue
            if header is None:
                header = cells
                continue
            pairs = [f"{h}: {c}" for h, c in zip(header[1:], cells[1:], strict=False) if c]
            row = f"{cells[0]} — {'; '.join(pairs)}" if pairs else cells[0]
            context = f"{heading}: {row}" if heading else row
            units.append(Unit(raw=row, text=row, context=context, block=block, prefix="- ", heading=heading))
            continue
        header = None
        sentences = split_sentences(body)
        for i, raw in enumerate(sentences):
            sentence = plain(raw)
            if not sentence:
                continue
            context = sentence
            if prefix and i == 0:
                intro = lead_in or heading
                if intro:
                    context = f"{intro}: {sentence}"
            elif not prefix and heading and len(sentence.split()) < 6:
                context = f"{heading}: {sentence}"
            units.append(
                Unit(raw=raw, text=sentence, context=context, block=block, prefix=prefix, heading=heading)
            )
        if not prefix:
            last = plain(sentences[-1]) if sentences else ""
            lead_in = last[:-1] if last.endswith(":") else ""
    return units


def checkable_units(text: str) -> list[Unit]:
    """The sentences of a source that a reply is checked against and a question matched with: those
    of two words or more."""
    return [u for u in split_markdown(text) if len(tokens(u.text)) >= 2]


def split_reply(text: str) -> list[Unit]:
    """The sentences of a model reply; a bare "Yes." or "No." is joined to the sentence after it."""
    units = split_markdown(text)
    merged: list[Unit] = []
    carry: Unit | None = None
    for unit in units:
        if carry is not None:
            unit = Unit(
                raw=f"{carry.raw} {unit.raw}",
                text=f"{carry.text} {unit.text}",
                context=f"{carry.text} {unit.context}",
                block=unit.block,
                prefix=unit.prefix,
            )
            carry = None
        if _YES_NO_ONLY.match(unit.text):
            carry = unit
            continue
        merged.append(unit)
    if carry is not None:
        merged.append(carry)
    return merged


def join_units(units: list[Unit]) -> str:
    """Text again from units: sentences of a block joined by spaces, list items on their own lines."""
    parts: list[str] = []
    previous: Unit | None = None
    number = 0
    for unit in units:
        # Numbered items are numbered again: with item 1 dropped, "2." would be a stray number.
        marker = re.match(r"^\d{1,2}([.)]) $", unit.prefix)
        number = number + 1 if marker and previous is not None and previous.prefix else 1 if marker else 0
        if marker:
            unit = Unit(unit.raw, unit.text, unit.context, unit.block, f"{number}{marker.group(1)} ")
        if previous is None:
            parts.append(unit.prefix + unit.raw)
        elif unit.block == previous.block:
            parts.append(" " + unit.raw)
        elif unit.prefix and previous.prefix:
            parts.append("\n" + unit.prefix + unit.raw)
        else:
            parts.append("\n\n" + unit.prefix + unit.raw)
        previous = unit
    return "".join(parts).strip()


def sentence_key(text: str) -> str:
    """What two sentences share when one repeats the other: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9$%]+", plain(text).lower()))


def is_cut_off(unit: Unit, previous: Unit | None) -> bool:
    text = unit.text.rstrip()
    if _END.search(text) or text.endswith((":", ")", "”", '"')):
        return False
    last_word = re.sub(r"\W+$", "", text).rsplit(" ", 1)[-1].lower()
    if text.endswith((",", ";", "-", "—", "–", "(")) or last_word in _DANGLING:
        return True
    if unit.prefix:
        # List items are often written without full stops: a complete-looking item in a list of
        # such items is whole.
        return not (previous is not None and previous.prefix and not _END.search(previous.text))
    return True


def finish_sentences(text: str) -> str:
    """The reply with a cut-off last sentence removed and repeated paragraphs and sentences dropped."""
    if not text or not text.strip():
        return ""
    units = [u for u in split_reply(text.strip()) if u.text]
    if not units:
        return ""
    if len(units) > 1 and is_cut_off(units[-1], units[-2]):
        units.pop()
    elif len(units) == 1 and is_cut_off(units[0], None):
        # One sentence with no end: keep it unless it stops on a comma or a word like "the".
        last_word = re.sub(r"\W+$", "", units[0].text).rsplit(" ", 1)[-1].lower()
        if units[0].text.rstrip().endswith((",", ";", "-", "—", "–", "(")) or last_word in _DANGLING:
            return ""
    seen: set[str] = set()
    kept: list[Unit] = []
    for unit in units:
        key = sentence_key(unit.text)
        if key and key in seen:
            continue
        seen.add(key)
        kept.append(unit)
    return join_units(kept)


def is_repeating(text: str, *, window: int = 12) -> bool:
    """Whether a generation in progress has started repeating itself (a sentence or a run of words).

    Meant to be called on the text streamed so far; a True answer means: stop generating and send
    `finish_sentences` of it.
    """
    if not text:
        return False
    units = [u for u in split_reply(text) if u.text]
    complete = [u for u in units if _END.search(u.text.rstrip())]
    if len(complete) >= 2:
        keys = [sentence_key(u.text) for u in complete]
        if keys[-1] and len(keys[-1].split()) >= 3 and keys[-1] in keys[:-1]:
            return True
    words = re.findall(r"[a-z0-9$%]+", text.lower())
    if len(words) >= 2 * window:
        tail = words[-window:]
        for start in range(len(words) - 2 * window + 1):
            if words[start : start + window] == tail:
                return True
    return False


def without_dangling_lead_ins(units: list[Unit]) -> list[Unit]:
    """A kept "Here is what you need:" whose list was dropped would dangle: it goes too."""
    out: list[Unit] = []
    for n, unit in enumerate(units):
        following = units[n + 1] if n + 1 < len(units) else None
        if unit.text.rstrip().endswith(":") and (following is None or not following.prefix):
            continue
        out.append(unit)
    return out
