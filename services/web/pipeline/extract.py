"""Stage 2: turn documentation HTML into clean English paragraphs.

Each HTML page is one *document*: an ordered list of paragraphs. Order matters
because training examples pack consecutive paragraphs of one document together
(see :mod:`pipeline.packing`). Everything here except :func:`extract_corpus` is
pure and unit-tested.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from pipeline.config import PipelineConfig, SourcePackage

log = logging.getLogger("pipeline")

# Elements whose whole content is dropped: code, navigation, page chrome.
SKIP_TAGS = frozenset(
    {
        "script",
        "style",
        "pre",
        "nav",
        "header",
        "footer",
        "head",
        "noscript",
        "table",
        "svg",
        "math",
        "button",
        "form",
        "select",
        "textarea",
    }
)
# CSS classes (DocBook, Publican, Sphinx) marking navigation, code or index noise.
SKIP_CLASSES = frozenset(
    {
        "navheader",
        "navfooter",
        "toc",
        "related",
        "sphinxsidebar",
        "footer",
        "headerlink",
        "highlight",
        "programlisting",
        "screen",
        "literallayout",
        "synopsis",
        "cmdsynopsis",
        "docnav",
        "breadcrumb",
        "indexterm",
        "index",
        "doctest",
        "sig",
        "sidebar-toc",
        "toctree-wrapper",
        "legalnotice",
        "titlepage",
        "contents",
        "topic",
        "footnote",
        "footnotes",
        "mediaobject",
    }
)
SKIP_IDS = frozenset({"navigation", "sidebar", "header", "footer", "searchbox"})
# Elements that end a paragraph.
BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "li",
        "dd",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "ul",
        "ol",
        "dl",
        "br",
        "hr",
        "td",
        "th",
        "tr",
        "body",
        "title",
        "figure",
        "figcaption",
        "caption",
    }
)
VOID_TAGS = frozenset(
    {
        "br",
        "hr",
        "img",
        "meta",
        "link",
        "input",
        "area",
        "base",
        "col",
        "embed",
        "source",
        "track",
        "wbr",
        "param",
    }
)

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z]+(?:'[a-z]+)?")
# Frequent English function words; a paragraph with none of them is rarely prose.
ENGLISH_STOPWORDS = frozenset(
    "the a an and or of to in is are be for this that with on it as by you can not "
    "if from at which when should may must will has have was were these those its "
    "your their there then than also into only use used using".split()
)
_CODE_CHARS = set("{}[]()<>=;$#/\\|_*`~^@%&")


class _ParagraphParser(HTMLParser):
    """Collect text blocks, skipping code, navigation and page chrome."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buf: list[str] = []
        # Open (non-void) elements and whether each one starts a skipped region.
        self._stack: list[tuple[str, bool]] = []
        self._skip_depth = 0

    def _flush(self) -> None:
        if self._buf:
            self.blocks.append("".join(self._buf))
            self._buf = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS and not self._skip_depth:
            self._flush()
        if tag in VOID_TAGS:
            return
        attr = dict(attrs)
        classes = set((attr.get("class") or "").split())
        skip = (
            tag in SKIP_TAGS
            or bool(classes & SKIP_CLASSES)
            or attr.get("id") in SKIP_IDS
            or attr.get("role") == "navigation"
        )
        self._stack.append((tag, skip))
        self._skip_depth += skip

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS and not self._skip_depth:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        # Tolerate unclosed children: pop up to the matching open tag, if any.
        if not any(t == tag for t, _ in self._stack):
            return
        while self._stack:
            t, skip = self._stack.pop()
            self._skip_depth -= skip
            if t == tag:
                break
        if tag in BLOCK_TAGS and not self._skip_depth:
            self._flush()

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_blocks(markup: str) -> list[str]:
    """Raw text blocks of an HTML page in reading order (not yet cleaned)."""
    parser = _ParagraphParser()
    parser.feed(markup)
    parser.close()
    return parser.blocks


def clean_text(text: str) -> str:
    """Unescape leftovers, normalise quotes and collapse whitespace."""
    text = html.unescape(text)
    text = text.replace("\u00a0", " ").replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"').replace("\u00b6", "")
    return _WS.sub(" ", text).strip()


def is_english_prose(text: str, min_chars: int = 40, min_words: int = 6) -> bool:
    """Heuristic filter: long enough, mostly ASCII letters, English, not code."""
    if len(text) < min_chars:
        return False
    words = _WORD.findall(text)
    if len(words) < min_words:
        return False
    ascii_share = sum(c.isascii() for c in text) / len(text)
    if ascii_share < 0.97:
        return False
    letter_share = sum(c.isalpha() or c == " " for c in text) / len(text)
    if letter_share < 0.75:
        return False
    code_share = sum(c in _CODE_CHARS for c in text) / len(text)
    if code_share > 0.05:
        return False
    stop_share = sum(w.lower() in ENGLISH_STOPWORDS for w in words) / len(words)
    if stop_share < 0.15:
        return False
    # Prose ends like a sentence; this drops headings, menu items and captions.
    return text[-1] in '.:!?)"'


def extract_paragraphs(
    markup: str, min_chars: int = 40, min_words: int = 6
) -> list[str]:
    """Clean English paragraphs of one HTML page, in order, without repeats."""
    seen: set[str] = set()
    out = []
    for block in html_to_blocks(markup):
        text = clean_text(block)
        if text in seen or not is_english_prose(text, min_chars, min_words):
            continue
        seen.add(text)
        out.append(text)
    return out


@dataclass(frozen=True)
class Document:
    """One page of one source package: the unit of the train/validation split."""

    source: str
    path: str
    paragraphs: list[str]

    def as_json(self) -> str:
        return json.dumps(
            {"source": self.source, "path": self.path, "paragraphs": self.paragraphs},
            ensure_ascii=False,
        )


def source_pages(tree: Path, pkg: SourcePackage) -> list[Path]:
    """The HTML pages selected by a package's include/exclude globs, sorted."""
    excluded = {p for pattern in pkg.exclude for p in tree.glob(pattern)}
    pages = {p for pattern in pkg.include for p in tree.glob(pattern)} - excluded
    # Resolve symlinks so a page linked under two names is read once.
    unique = {p.resolve(): p for p in sorted(pages) if p.is_file()}
    return sorted(unique.values())


def iter_documents(config: PipelineConfig) -> Iterator[Document]:
    """Documents of every pinned source, in a deterministic order."""
    for pkg in config.sources:
        tree = config.raw_dir / pkg.name
        for page in source_pages(tree, pkg):
            markup = page.read_text(encoding="utf-8", errors="replace")
            paragraphs = extract_paragraphs(
                markup, config.min_paragraph_chars, config.min_paragraph_words
            )
            if paragraphs:
                yield Document(pkg.name, str(page.relative_to(tree)), paragraphs)


def write_documents(documents: Iterable[Document], path: Path) -> dict:
    """Write documents as JSON lines; return corpus statistics."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stats = {"documents": 0, "paragraphs": 0, "bytes": 0}
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for doc in documents:
            fh.write(doc.as_json() + "\n")
            stats["documents"] += 1
            stats["paragraphs"] += len(doc.paragraphs)
            stats["bytes"] += sum(len(p.encode("utf-8")) + 1 for p in doc.paragraphs)
    tmp.replace(path)  # atomic, so a half-written file never counts as "done"
    return stats


def read_documents(path: Path) -> list[Document]:
    """Load the documents written by :func:`write_documents`."""
    with path.open(encoding="utf-8") as fh:
        return [Document(**json.loads(line)) for line in fh if line.strip()]


def extract_corpus(config: PipelineConfig) -> dict:
    """Run stage 2 and return the corpus statistics."""
    stats = write_documents(iter_documents(config), config.paragraphs_path)
    log.info("extracted %s", stats)
    return stats
