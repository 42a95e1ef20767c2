"""Word diffs and machine provenance, on plain strings."""

from docdraft import words


def test_diff_marks_deleted_and_inserted_words():
    parts = words.diff_words("the quick brown fox", "the slow brown fox jumps")
    assert [(p.op, p.text) for p in parts] == [
        ("equal", "the"),
        ("delete", "quick"),
        ("insert", "slow"),
        ("equal", "brown fox"),
        ("insert", "jumps"),
    ]


def test_diff_of_equal_texts_is_one_equal_part():
    assert [p.op for p in words.diff_words("a b c", "a b c")] == ["equal"]


def test_appended_machine_text_is_one_span_without_leading_space():
    body = "Debian is"
    spans = words.append_spans(body, [], " a free operating system.", 7)
    text = body + " a free operating system."
    assert spans == [[10, len(text), 7]]
    assert words.machine_share(text, spans) == (4, 6)


def test_editing_half_the_machine_words_keeps_the_other_half():
    body = "Intro."
    machine = " one two three four five six seven eight"
    text = body + machine
    spans = words.append_spans(body, [], machine, 3)
    edited = "Intro. one TWO three FOUR five SIX seven EIGHT"
    carried = words.carry_spans(text, spans, edited)
    owners = words.word_owners(edited, carried)
    assert owners == [None, 3, None, 3, None, 3, None, 3, None]
    assert words.machine_share(edited, carried) == (4, 9)


def test_a_word_changed_inside_is_no_longer_machine_written():
    spans = [[0, 11, 1]]
    carried = words.carry_spans("hello world", spans, "hello worlds")
    assert words.word_owners("hello worlds", carried) == [1, None]


def test_moved_text_keeps_provenance_of_the_surviving_run():
    text = "A B C D"
    spans = [[0, 7, 5]]
    new = "X A B C D"
    assert words.word_owners(new, words.carry_spans(text, spans, new)) == [
        None,
        5,
        5,
        5,
        5,
    ]


def test_segments_cover_the_whole_text_in_order():
    text = "mine, then model words, then mine"
    spans = [[11, 22, 9]]
    segments = words.segments(text, spans)
    assert "".join(s.text for s in segments) == text
    assert [(s.text, s.autodoc_id) for s in segments] == [
        ("mine, then ", None),
        ("model words", 9),
        (", then mine", None),
    ]


def test_empty_text_has_no_words_and_zero_share():
    assert words.machine_share("", []) == (0, 0)
    assert words.segments("", []) == []
