"""Which words two texts share, fast enough for 100,000-character bodies.

`opcodes(a, b)` answers like difflib's `SequenceMatcher(None, a, b,
autojunk=False).get_opcodes()` on two lists of words: equal runs, and what to
replace, delete or insert between them. SequenceMatcher alone takes about 2 s
on two 17,000-word bodies (each common word is compared with every place it
occurs), so the lists are first cut into small regions by anchors (patience
diff, as in Bazaar and git):

1. a common prefix and suffix are equal as they stand;
2. in what is left, words that occur exactly once in each side and keep
   their order (the longest increasing run of them) are matched, and the
   regions between them are cut again the same way;
3. a region with no such word goes to SequenceMatcher, unless that would
   take the whole diff past `MATCHER_STEPS`: then it is replaced as a whole.
   Past `ANCHOR_VISITS` words counted in step 2, regions skip to step 3.

Every equal run reported is truly equal, so provenance never credits a
changed word to the model; step 3's cut-off only makes a region's diff
coarser (for adversarial text such as ten words repeated at random).

Pure functions only: no Flask, no database.
"""

from bisect import bisect_left
from collections import Counter
from difflib import SequenceMatcher

# SequenceMatcher steps allowed in one diff, counted as the pairs of equal
# words its first pass over a region looks at (its later passes look again,
# so the real work is a few times more). 50,000 is some 50 ms of CPython on
# regions of a few common words; prose between unique words costs far less.
MATCHER_STEPS = 50_000
# Words counted while looking for anchors, over all regions: some 40 passes
# over two 17,000-word bodies; prose needs a few.
ANCHOR_VISITS = 1_500_000


class _Budget:
    """What one diff may still spend."""

    def __init__(self):
        self.matcher_steps = MATCHER_STEPS
        self.anchor_visits = ANCHOR_VISITS


def opcodes(a, b):
    """(tag, i1, i2, j1, j2) tuples turning list `a` into list `b`, in order."""
    codes, i, j = [], 0, 0
    for ai, bj, size in [*matching_blocks(a, b), (len(a), len(b), 0)]:
        if i < ai and j < bj:
            codes.append(("replace", i, ai, j, bj))
        elif i < ai:
            codes.append(("delete", i, ai, j, bj))
        elif j < bj:
            codes.append(("insert", i, ai, j, bj))
        if size:
            codes.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return codes


def matching_blocks(a, b):
    """(i, j, size) with a[i:i+size] == b[j:j+size], increasing, merged."""
    found, regions, budget = [], [(0, len(a), 0, len(b))], _Budget()
    while regions:
        found += _region(a, b, *regions.pop(), regions, budget)
    return _merged(sorted(found))


def _region(a, b, a1, a2, b1, b2, regions, budget):
    """Blocks of one region; regions still to cut are pushed on `regions`."""
    blocks = []
    head = _common_length(a, b, a1, a2, b1, b2, step=1)
    if head:
        blocks.append((a1, b1, head))
        a1, b1 = a1 + head, b1 + head
    tail = _common_length(a, b, a2 - 1, a1 - 1, b2 - 1, b1 - 1, step=-1)
    if tail:
        blocks.append((a2 - tail, b2 - tail, tail))
        a2, b2 = a2 - tail, b2 - tail
    if a1 == a2 or b1 == b2:
        return blocks
    budget.anchor_visits -= (a2 - a1) + (b2 - b1)
    anchors = _unique_anchors(a, b, a1, a2, b1, b2) if budget.anchor_visits > 0 else []
    if not anchors:
        return blocks + _matched(a, b, a1, a2, b1, b2, budget)
    edges = [(a1 - 1, b1 - 1), *anchors, (a2, b2)]
    for (i, j), (next_i, next_j) in zip(edges, edges[1:], strict=False):
        regions.append((i + 1, next_i, j + 1, next_j))
    return blocks + [(i, j, 1) for i, j in anchors]


def _common_length(a, b, i, i_stop, j, j_stop, step):
    """How many items match from (i, j) walking by `step`, before the stops."""
    size = 0
    while i != i_stop and j != j_stop and a[i] == b[j]:
        i, j, size = i + step, j + step, size + 1
    return size


def _unique_anchors(a, b, a1, a2, b1, b2):
    """(i, j) of words once in each region, in the longest order-keeping run."""
    a_count, b_count = Counter(a[a1:a2]), Counter(b[b1:b2])
    b_index = {b[j]: j for j in range(b1, b2) if b_count[b[j]] == 1}
    pairs = [
        (i, b_index[a[i]])
        for i in range(a1, a2)
        if a_count[a[i]] == 1 and a[i] in b_index
    ]
    return _longest_increasing(pairs)


def _longest_increasing(pairs):
    """The longest subsequence of `pairs` (ordered by i) increasing in j."""
    tails, tail_at, previous = [], [], [None] * len(pairs)
    for index, (_, j) in enumerate(pairs):
        place = bisect_left(tails, j)
        previous[index] = tail_at[place - 1] if place else None
        if place == len(tails):
            tails.append(j)
            tail_at.append(index)
        else:
            tails[place], tail_at[place] = j, index
    run, index = [], tail_at[-1] if tail_at else None
    while index is not None:
        run.append(pairs[index])
        index = previous[index]
    return run[::-1]


def _matched(a, b, a1, a2, b1, b2, budget):
    """SequenceMatcher's blocks for a region, or none if over the budget."""
    b_count = Counter(b[b1:b2])
    cost = sum(b_count[word] for word in a[a1:a2])
    if cost > budget.matcher_steps:
        return []
    budget.matcher_steps -= cost
    matcher = SequenceMatcher(None, a[a1:a2], b[b1:b2], autojunk=False)
    return [
        (a1 + i, b1 + j, size) for i, j, size in matcher.get_matching_blocks() if size
    ]


def _merged(blocks):
    """Adjacent blocks joined into one."""
    merged = []
    for i, j, size in blocks:
        if (
            merged
            and merged[-1][0] + merged[-1][2] == i
            and merged[-1][1] + merged[-1][2] == j
        ):
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
        else:
            merged.append((i, j, size))
    return merged
