"""The demo team's documents: the Jargon File's entries as prose."""

from docdraft.training.demo import lexicon_entries

LEXICON = """\
Glossary

   0

   :gobble: vt.

   1. To consume, usu.: used with ‘up’. “The output spy gobbles characters
   out of a {tty} output buffer.”

   2. To obtain, usu.: used with ‘down’. See also {snarf}.

   :goat file:

   [proposed] A sacrificial file used to test a computer virus.

   :heading only: n.

Appendix\u00a0A.\u00a0Hacker Folklore

   :not an entry: n.

   Folklore is not in the lexicon.
"""


def test_entries_are_definitions_without_the_dictionary_layout():
    assert lexicon_entries(LEXICON) == [
        (
            "gobble",
            "To consume, usu.: used with ‘up’. “The output spy gobbles "
            "characters out of a tty output buffer.” "
            "To obtain, usu.: used with ‘down’. See also snarf.",
        ),
        ("goat file", "A sacrificial file used to test a computer virus."),
    ]
