"""CTranslate2's running batch: rows start while others decode, leave when done.

Every row's ids must be exactly `generate([request])` alone, in beam and in
sample mode.  One test holds a row in the middle of its decoding (ct2 calls
back on its own thread after every sampled token, and the test's callback
waits there) so that "starts without waiting" and "leaves at once" are
checked by the order of events, not by timing.
"""

import shutil
import threading

import pytest

from textgen import ct2_submission, load_generator
from textgen.backends import CT2RunningBatch
from textgen.ct2 import SeedHold
from textgen.running import RunningBatch
from textgen.settings import Request

from .conftest import TEST_SETTINGS

PROMPTS = [
    "The package manager",
    "man apt",
    "To configure the network, edit the file and restart",
    "Users and groups are managed with adduser",
    "The kernel loads modules at boot. A module",
]
# Enough advances for any tiny-model row to end (each waits up to chunk_s);
# the bound only keeps a broken batch from hanging the suite.
MAX_ADVANCES = 600


@pytest.fixture(scope="module")
def ct2(tiny_model_dir, tmp_path_factory):
    """CTranslate2 on a private copy of the tiny model (float32)."""
    target = tmp_path_factory.mktemp("ct2-running") / "tiny"
    shutil.copytree(tiny_model_dir, target)
    return load_generator(
        str(target), TEST_SETTINGS, "ctranslate2", compute_type="float32"
    )


def mixed_requests() -> list[Request]:
    """Beam and seeded sample requests of several prompts and lengths."""
    requests = []
    for i, prompt in enumerate(PROMPTS):
        requests.append(Request(prompt, new_tokens=(6, 20, 11, 30, 8)[i]))
        requests.append(
            Request(prompt, new_tokens=(20, 7, 30, 9, 14)[i], mode="sample", seed=i)
        )
    return requests


def advance_until(batch, key) -> list:
    """Advance until `key` has ended; every row that ended on the way."""
    ended = []
    for _ in range(MAX_ADVANCES):
        ended += batch.advance()
        if key in [row.key for row in ended]:
            return ended
    raise AssertionError(f"{key!r} never ended")


def test_ct2_offers_its_own_running_batch(ct2):
    batch = ct2.running_batch(3)
    assert isinstance(batch, CT2RunningBatch) and isinstance(batch, RunningBatch)
    assert (len(batch), batch.free_rows(), batch.keys()) == (0, 3, [])
    assert batch.advance() == []  # nothing in flight: nothing to wait for


def test_every_row_equals_generate_alone_in_both_modes(ct2):
    requests = mixed_requests()
    alone = [ct2.generate_ids([request])[0] for request in requests]
    texts = [ct2.generate([request])[0] for request in requests]
    batch = ct2.running_batch(4)
    waiting = list(enumerate(requests))
    finished = {}
    for _ in range(MAX_ADVANCES):
        while waiting and batch.free_rows():
            batch.admit(*waiting.pop(0))
        for row in batch.advance():
            finished[row.key] = row
        if not waiting and not len(batch):
            break
    assert sorted(finished) == list(range(len(requests)))
    assert [finished[i].ids for i in range(len(requests))] == alone
    assert [finished[i].text for i in range(len(requests))] == texts


def test_a_row_admitted_while_another_decodes_starts_and_leaves_first(ct2, monkeypatch):
    held = Request(PROMPTS[2], new_tokens=20, mode="sample", seed=5)
    quick = Request(PROMPTS[0], new_tokens=6)
    held_alone = ct2.generate_ids([held])[0]
    quick_alone = ct2.generate_ids([quick])[0]
    decoding, gate = threading.Event(), threading.Event()
    on_token = SeedHold.on_token

    def hold_mid_decoding(self, step):
        go_on = on_token(self, step)  # gives the seed back first
        if step.step == self.forced_steps + 2:  # the one seeded row: "held"
            decoding.set()
            gate.wait(timeout=60)
        return go_on

    monkeypatch.setattr(SeedHold, "on_token", hold_mid_decoding)
    batch = ct2.running_batch(2)
    try:
        batch.admit("held", held)
        assert batch.advance() == []  # started, then held by its callback
        assert decoding.wait(timeout=60)
        batch.admit("quick", quick)
        assert batch.keys() == ["held", "quick"] and batch.free_rows() == 0
        ended = advance_until(batch, "quick")
        assert [row.key for row in ended] == ["quick"]
        assert ended[0].ids == quick_alone
        assert batch.keys() == ["held"] and batch.free_rows() == 1
    finally:
        gate.set()
    (row,) = advance_until(batch, "held")
    assert row.ids == held_alone and len(batch) == 0


def test_a_seeded_row_keeps_the_seed_until_its_first_drawn_token(ct2, monkeypatch):
    first = Request(PROMPTS[3], new_tokens=10, mode="sample", seed=11)
    second = Request(PROMPTS[4], new_tokens=10, mode="sample", seed=12)
    alone = [ct2.generate_ids([request])[0] for request in (first, second)]
    forcing, gate = threading.Event(), threading.Event()
    on_token = SeedHold.on_token

    def hold_on_a_forced_token(self, step):
        # Step 0 replays a prompt token (split_prompt): nothing drawn yet.
        # The first row to get there is "first": "second" cannot start before.
        if step.step == 0 and not forcing.is_set():
            forcing.set()
            gate.wait(timeout=60)
        return on_token(self, step)

    monkeypatch.setattr(SeedHold, "on_token", hold_on_a_forced_token)
    batch = ct2.running_batch(2)
    try:
        batch.admit("first", first)
        batch.advance()
        assert forcing.wait(timeout=60)
        batch.admit("second", second)
        assert batch.advance() == []  # the second waits for the seed
        assert ct2_submission.SEED_LOCK.locked()
    finally:
        gate.set()
    ended = advance_until(batch, "first")
    if "second" not in [row.key for row in ended]:
        ended += advance_until(batch, "second")
    assert {row.key: row.ids for row in ended} == dict(first=alone[0], second=alone[1])
    assert not ct2_submission.SEED_LOCK.locked()


def test_admit_refuses_like_generate_and_keeps_the_row_free(ct2):
    batch = ct2.running_batch(1)
    with pytest.raises(ValueError):
        batch.admit("empty", Request(""))
    assert batch.free_rows() == 1
    batch.admit("one", Request(PROMPTS[1], new_tokens=5))
    with pytest.raises(RuntimeError, match="already"):
        batch.admit("one", Request(PROMPTS[0]))
    with pytest.raises(RuntimeError, match="no free row"):
        batch.admit("two", Request(PROMPTS[0]))
    assert [row.key for row in advance_until(batch, "one")] == ["one"]
    assert batch.free_rows() == 1


def test_replica_pool_is_shared_by_batches_of_one_shape(ct2):
    first, second = ct2.running_batch(2), ct2.running_batch(2)
    assert first.replicas is second.replicas
    assert ct2.running_batch(3).replicas is not first.replicas
    assert first.replicas.num_generators == 2


def test_the_bench_arrival_driver_serves_every_request_in_both_ways(ct2):
    from bench.arrivals import FIGURES, poisson_arrivals, serve, warm_up
    from textgen.running import StaticBatch

    requests = mixed_requests()
    arrivals = poisson_arrivals(len(requests), span_s=0.2, seed=1)
    assert arrivals == sorted(arrivals) and arrivals[0] > 0
    assert arrivals == poisson_arrivals(len(requests), span_s=0.2, seed=1)
    alone = [ct2.generate([request])[0] for request in requests]
    figures, texts = serve(ct2.running_batch(3), requests, arrivals)
    assert texts == alone and figures["batch"] == "CT2RunningBatch"
    assert figures["compiles"] == 0  # nothing to compile: no warm-up runs
    assert warm_up(lambda: ct2.running_batch(3), requests, arrivals, 3) == 0
    assert all(figures[name] >= 0 for name in FIGURES)
    assert figures["wait_p95_s"] <= figures["latency_p95_s"]
    static, _ = serve(StaticBatch(ct2, 3), requests, arrivals)
    assert static["batch"] == "StaticBatch" and static["docs"] == len(requests)
