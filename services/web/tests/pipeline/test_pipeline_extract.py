"""Paragraph extraction and cleaning (pipeline.extract)."""

from pipeline.extract import (
    Document,
    clean_text,
    extract_paragraphs,
    html_to_blocks,
    is_english_prose,
    read_documents,
    write_documents,
)

PROSE_1 = (
    "The Debian project is an association of individuals who have made common "
    "cause to create a free operating system."
)
PROSE_2 = (
    "Packages are installed with the apt command, which also resolves the "
    "dependencies of the package for you."
)

PAGE = f"""<html><head><title>Chapter 1. Introduction to Debian</title>
<style>p {{ color: red }}</style><script>var x = "{PROSE_2}";</script></head>
<body>
<div class="navheader"><p>Prev Chapter 1. Introduction to Debian and the rest
of it.</p></div>
<h1>Introduction</h1>
<p>{PROSE_1}</p>
<pre class="programlisting">$ apt-get install hello &amp;&amp; echo "this is code,
not prose, and must go."</pre>
<div class="highlight"><pre>for package in packages: print(package)</pre></div>
<p>Packages are installed with the <code class="command">apt</code> command,
   which also resolves the dependencies of the package for you.</p>
<p>{PROSE_1}</p>
<ul><li>Short item.</li></ul>
<p>Die Pakete werden mit dem Befehl apt installiert und die Abh&auml;ngigkeiten
werden aufgel&ouml;st.</p>
<div class="navfooter"><p>Next is the chapter about the packaging system of the
distribution.</p></div>
</body></html>"""


def test_extract_keeps_prose_in_order_and_drops_noise():
    assert extract_paragraphs(PAGE) == [PROSE_1, PROSE_2]


def test_inline_markup_is_kept_as_text():
    blocks = html_to_blocks("<p>Run <code>apt</code> <em>now</em>.</p>")
    assert [clean_text(b) for b in blocks] == ["Run apt now."]


def test_unclosed_and_void_tags_do_not_break_skipping():
    markup = "<p>one<br>two<img src=x></p><pre>code<p>more code</pre><p>after</p>"
    assert [clean_text(b) for b in html_to_blocks(markup) if b.strip()] == [
        "one",
        "two",
        "after",
    ]


def test_clean_text_normalises_whitespace_quotes_and_entities():
    assert clean_text("  it\u2019s\n\t a\u00a0 \u201ctest\u201d &amp; more\u00b6 ") == (
        'it\'s a "test" & more'
    )


def test_is_english_prose_filters():
    assert is_english_prose(PROSE_1)
    assert not is_english_prose("Too short to count.")
    assert not is_english_prose("Chapter 2 Debian package management tools")  # heading
    assert not is_english_prose("x = {'a': [1, 2]}; y = f(x) if x else g(x) / 2;")
    assert not is_english_prose(
        "Debian est un système d'exploitation libre, développé par des bénévoles."
    )


def test_documents_round_trip(tmp_path):
    docs = [
        Document("pkg", "a.html", [PROSE_1, PROSE_2]),
        Document("pkg", "b.html", ["x"]),
    ]
    stats = write_documents(docs, tmp_path / "docs.jsonl")
    assert stats["documents"] == 2 and stats["paragraphs"] == 3
    assert stats["bytes"] == len(PROSE_1) + len(PROSE_2) + 1 + 3
    assert read_documents(tmp_path / "docs.jsonl") == docs
