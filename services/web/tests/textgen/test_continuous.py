"""Running batches: rows join and leave between chunks, each row's text as alone."""

import dataclasses
import threading

import pytest

from textgen import GenerationSettings, Generator
from textgen.continuous import ContinuousBatch
from textgen.running import StaticBatch
from textgen.settings import Request

from .conftest import TEST_SETTINGS

PROMPTS = [
    "The package manager",
    "Debian is a free operating system",
    "To configure the network, edit the file",
    "man apt",
    "Bugs are reported to the bug tracking system with the reportbug tool.",
]


def _request(mode, index, new_tokens=None):
    seed = 11 * index + 1 if mode == "sample" else None
    return Request(PROMPTS[index], mode=mode, new_tokens=new_tokens, seed=seed)


def _alone(generator, request):
    return generator.generate_ids([request])[0]


def _drain(batch, results, limit=100):
    """Advance until the batch is empty; {key: advance number} of each end."""
    ends = {}
    for number in range(limit):
        if not len(batch):
            return ends
        for done in batch.advance():
            assert done.key not in results
            results[done.key] = done.ids
            ends[done.key] = number
    raise AssertionError("the batch never emptied")


@pytest.mark.parametrize("mode", ["beam", "sample"])
def test_rows_admitted_while_running_equal_alone(tiny_generator, mode):
    batch = tiny_generator.running_batch(8, chunk_steps=3)
    assert isinstance(batch, ContinuousBatch)
    first = _request(mode, 0)
    joining = {"b": _request(mode, 1), "c": _request(mode, 4, new_tokens=9)}
    batch.admit("a", first)
    results = {}
    assert batch.advance() == []  # one chunk: "a" is still running
    assert batch.keys() == ["a"]
    for key, request in joining.items():
        batch.admit(key, request)
    assert len(batch) == 3 and batch.free_rows() == 5
    _drain(batch, results)
    assert results["a"] == _alone(tiny_generator, first)
    for key, request in joining.items():
        assert results[key] == _alone(tiny_generator, request), key


def test_beam_and_sample_rows_run_side_by_side(tiny_generator):
    requests = {
        "beam-short": _request("beam", 3),  # bucket 8
        "beam-long": _request("beam", 4, new_tokens=12),  # bucket 16
        "sample": _request("sample", 2),
        "sample-short": _request("sample", 0, new_tokens=5),
    }
    batch = tiny_generator.running_batch(4, chunk_steps=4)
    for key, request in requests.items():
        batch.admit(key, request)
    assert batch.free_rows() == 0
    results = {}
    _drain(batch, results)
    for key, request in requests.items():
        assert results[key] == _alone(tiny_generator, request), key


def test_a_short_row_leaves_early_and_frees_its_row(tiny_generator):
    batch = tiny_generator.running_batch(2, chunk_steps=2)
    short, long = _request("beam", 0, new_tokens=7), _request("beam", 1)
    batch.admit("short", short)
    batch.admit("long", long)
    results, advances = {}, 0
    while "short" not in results:
        advances += 1
        for done in batch.advance():
            results[done.key] = done.ids
    assert advances == 3  # 7 tokens: the first with the prompt, then 2 a chunk
    assert "long" not in results  # still running
    assert batch.keys() == ["long"] and batch.free_rows() == 1
    later = _request("beam", 3, new_tokens=10)
    batch.admit("later", later)
    _drain(batch, results)
    assert results["short"] == _alone(tiny_generator, short)
    assert results["long"] == _alone(tiny_generator, long)
    assert results["later"] == _alone(tiny_generator, later)


def test_batch_resizes_through_the_compiled_sizes(tiny_model_dir):
    generator = Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4, 8)
    )
    batch = generator.running_batch(8, chunk_steps=2)
    # The first prompt's bucket is 16: the others (8 and 16) join its group,
    # which grows 1 -> 4 -> 8 and shrinks back as rows of 6 to 20 tokens end.
    requests = {
        index: _request("beam", (1, 0, 3, 2)[index % 4], new_tokens=6 + 2 * index)
        for index in range(8)
    }
    results = {}
    batch.admit(0, requests[0])
    batch.advance()
    for index in (1, 2):
        batch.admit(index, requests[index])
    batch.advance()
    for index in range(3, 8):
        batch.admit(index, requests[index])
    _drain(batch, results)
    program = generator.chunk_program("beam")
    assert {size for size, _ in program.chunked} == {1, 4, 8}
    # One trace of each function serves every batch size.
    assert program._chunk_fn.experimental_get_tracing_count() == 1
    assert program._start_fn.experimental_get_tracing_count() == 1
    for index, request in requests.items():
        assert results[index] == _alone(generator, request), index


def test_admit_checks_at_once(tiny_generator):
    batch = tiny_generator.running_batch(1)
    with pytest.raises(ValueError, match="empty"):
        batch.admit("blank", Request("  "))
    assert batch.free_rows() == 1
    batch.admit("a", Request("man apt", new_tokens=3))
    with pytest.raises(RuntimeError):
        batch.admit("a", Request("man apt"))
    with pytest.raises(RuntimeError, match="no free row"):
        batch.admit("b", Request("man apt"))
    results = {}
    _drain(batch, results)
    assert results["a"] == _alone(tiny_generator, Request("man apt", new_tokens=3))


def test_on_compile_names_the_rows_that_wait(tiny_model_dir):
    generator = Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1,)
    )
    batch = generator.running_batch(2, chunk_steps=50)
    batch.admit("x", Request("man apt", new_tokens=4))
    batch.admit("y", Request("The package manager", new_tokens=4))
    waiting = []
    finished = batch.advance(on_compile=waiting.append)
    # Two groups of one row (batch size 1): the first to start and to run
    # a chunk compiles, the second reuses it.
    assert waiting == [["x"], ["x"]]
    assert {done.key for done in finished} == {"x", "y"}
    batch.admit("z", Request("man apt", new_tokens=4))
    waiting.clear()
    batch.advance(on_compile=waiting.append)
    assert waiting == []  # compiled already


def test_static_batch_returns_all_rows_at_once(tiny_generator):
    batch = StaticBatch(tiny_generator, 4)
    requests = {key: _request("beam", key, new_tokens=5 + key) for key in range(3)}
    for key, request in requests.items():
        batch.admit(key, request)
    finished = batch.advance()
    assert len(batch) == 0 and batch.advance() == []
    assert {done.key for done in finished} == set(requests)
    for done in finished:
        assert done.ids == _alone(tiny_generator, requests[done.key])
        assert done.text == tiny_generator.tokenizer.decode(done.ids)


@pytest.mark.parametrize("beams, early_stopping", [(1, True), (2, False)])
def test_greedy_and_non_early_stopping_rows_equal_alone(
    tiny_model_dir, beams, early_stopping
):
    """Greedy search (one beam) runs as rows of one token each; without
    early stopping every row runs in its own group (batch size 1)."""
    settings = GenerationSettings(
        max_new_tokens=12,
        longest=12,
        num_beams=beams,
        no_repeat_ngram_size=2,
        early_stopping=early_stopping,
        min_new_tokens=4,
        length_buckets=(16,),
    )
    generator = Generator.load(str(tiny_model_dir), settings, warmup=False)
    batch = generator.running_batch(4, chunk_steps=3)
    requests = {
        index: _request("beam", index, new_tokens=6 + index) for index in range(3)
    }
    batch.admit(0, requests[0])
    batch.advance()
    batch.admit(1, requests[1])
    batch.admit(2, requests[2])
    results = {}
    _drain(batch, results)
    for index, request in requests.items():
        assert results[index] == _alone(generator, request), index


def test_warmup_running_compiles_every_batch_size(tiny_model_dir):
    generator = Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4)
    )
    generator.warmup_running(buckets=(8,))
    program = generator.chunk_program("beam")
    assert program.started == program.chunked == {(1, 8), (4, 8)}
    batch = generator.running_batch(4)
    for key in range(3):  # bucket 8, a batch of 4
        batch.admit(key, _request("beam", (0, 3)[key % 2], new_tokens=5))
    compiling = []
    results = {}
    while len(batch):
        for done in batch.advance(on_compile=compiling.append):
            results[done.key] = done.ids
    assert compiling == []
    assert results[2] == _alone(generator, _request("beam", 0, new_tokens=5))


def test_a_failed_advance_ends_every_row(tiny_generator, monkeypatch):
    batch = tiny_generator.running_batch(4, chunk_steps=2)
    batch.admit("a", _request("beam", 0))
    batch.advance()
    batch.admit("b", _request("beam", 3))
    program = tiny_generator.chunk_program("beam")

    def fail(*args):
        raise MemoryError("out of memory")

    monkeypatch.setattr(program, "chunk", fail)
    with pytest.raises(MemoryError):
        batch.advance()
    assert len(batch) == 0 and batch.free_rows() == 4
    monkeypatch.undo()
    request = _request("beam", 3, new_tokens=5)
    batch.admit("b", request)
    results = {}
    _drain(batch, results)
    assert results == {"b": _alone(tiny_generator, request)}


def test_a_loaded_worker_warms_its_running_batches(tiny_model_dir):
    """load(warmup=True) compiles what a worker serves with: the running
    programs, batch 1 before it returns, larger sizes in the background;
    meanwhile a new group takes only the sizes compiled so far."""
    settings = GenerationSettings(
        max_new_tokens=6,
        longest=6,
        min_new_tokens=2,
        num_beams=2,
        length_buckets=(8, 16),
        warm_buckets=(8,),
    )
    release = threading.Event()
    original = Generator._compile_running

    def held(self, plan, mode):  # the background part waits to be released
        if any(size > 1 for size, _ in plan):
            release.wait()
        original(self, plan, mode)

    Generator._compile_running = held
    try:
        generator = Generator.load(str(tiny_model_dir), settings, batch_sizes=(1, 2))
        program = generator.chunk_program("beam")
        assert program.chunked == {(1, 8)}
        assert generator.continuous_batch_sizes(8) == (1,)
        assert generator.compiled() == []  # no one-shot program: workers use none
    finally:
        release.set()
        Generator._compile_running = original
    assert generator.wait_warm(timeout=600)
    assert program.chunked == {(1, 8), (2, 8)}
    assert generator.continuous_batch_sizes(8) == (1, 2)


def test_prompts_admitted_together_share_the_widest_bucket(tiny_model_dir):
    """Short beam prompts admitted with a longer one join its group (one
    program of 4 rows at bucket 16), whatever order they came in."""
    generator = Generator.load(
        str(tiny_model_dir), TEST_SETTINGS, warmup=False, batch_sizes=(1, 4)
    )
    batch = generator.running_batch(4, chunk_steps=4)
    requests = {key: _request("beam", key, new_tokens=8) for key in (0, 3, 1)}
    assert [generator.prepare(r.prompt).bucket for r in requests.values()] == [8, 8, 16]
    for key, request in requests.items():
        batch.admit(key, request)
    results = {}
    _drain(batch, results)
    assert generator.chunk_program("beam").chunked == {(4, 16)}
    for key, request in requests.items():
        assert results[key] == _alone(generator, request), key


def test_beam_rows_admitted_in_turns_share_one_group(tiny_model_dir):
    """A short beam prompt opens its group at the widest warm bucket, so a
    longer one admitted a chunk later joins it: one program of 4 rows at
    bucket 16, not a group per bucket.  A sampled row keeps its own."""
    settings = dataclasses.replace(TEST_SETTINGS, warm_buckets=(8, 16))
    generator = Generator.load(
        str(tiny_model_dir), settings, warmup=False, batch_sizes=(1, 4)
    )
    batch = generator.running_batch(4, chunk_steps=2)
    short, long = _request("beam", 3, new_tokens=8), _request("beam", 1, new_tokens=8)
    sample = _request("sample", 0, new_tokens=8)
    assert [generator.prepare(r.prompt).bucket for r in (short, long, sample)] == [
        8,
        16,
        8,
    ]
    batch.admit("short", short)
    batch.advance()
    batch.admit("long", long)
    batch.admit("sample", sample)
    results = {}
    _drain(batch, results)
    assert generator.chunk_program("beam").chunked == {(1, 16), (4, 16)}
    assert generator.chunk_program("sample").chunked == {(1, 8)}
    for key, request in (("short", short), ("long", long), ("sample", sample)):
        assert results[key] == _alone(generator, request), key
