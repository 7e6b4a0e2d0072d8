"""common.isolation: work in killable worker processes with time and memory limits.

The functions the workers run live at the top of this module: a worker imports it by
name, so it must import without Django (it does: pytest and common.isolation only).
"""

import os
import threading
import time

import pytest

from common.isolation import (
    IsolationError,
    PoolBusy,
    WorkerCrashed,
    WorkerPool,
    WorkerTimeout,
)

MEMORY = 512 * 1024 * 1024


def add(a, b):
    return a + b


def worker_pid():
    return os.getpid()


def fail(message):
    raise ValueError(message)


def spin(seconds):
    """Burn CPU (holding the worker's GIL) for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return "finished"


def allocate(size):
    return len(bytearray(size))


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("no pickling")


def raise_unpicklable():
    raise Unpicklable("x")


@pytest.fixture
def pool():
    pool = WorkerPool(size=2, memory_bytes=MEMORY)
    yield pool
    pool.close()


def test_call_returns_the_result_from_another_process(pool):
    assert pool.call(add, 2, 3, timeout=30) == 5
    assert pool.call(worker_pid, timeout=5) != os.getpid()


def test_idle_worker_is_reused(pool):
    first = pool.call(worker_pid, timeout=30)
    assert pool.call(worker_pid, timeout=5) == first


def test_exception_of_the_function_is_raised_in_the_caller(pool):
    with pytest.raises(ValueError, match=r"^bad input$"):
        pool.call(fail, "bad input", timeout=30)
    # The worker survives its function's exceptions.
    assert pool.call(add, 1, 1, timeout=5) == 2


def test_exception_that_does_not_pickle_becomes_isolation_error(pool):
    with pytest.raises(IsolationError, match="unpicklable reply"):
        pool.call(raise_unpicklable, timeout=30)
    assert pool.call(add, 1, 1, timeout=5) == 2


def test_timeout_kills_the_worker_and_a_new_one_takes_its_place(pool):
    first = pool.call(worker_pid, timeout=30)  # started outside the timed part
    started = time.monotonic()
    with pytest.raises(WorkerTimeout):
        pool.call(spin, 60, timeout=0.5)
    assert time.monotonic() - started < 3
    # The worker that ran past its limit is gone, not left spinning.
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    second = pool.call(worker_pid, timeout=30)
    assert second != first
    assert pool.call(spin, 0.01, timeout=30) == "finished"


def test_pool_serves_other_calls_while_one_runs_out_its_time(pool):
    pool.call(worker_pid, timeout=30)
    pool.call(add, 0, 0, timeout=30)
    outcome = {}

    def attack():
        try:
            pool.call(spin, 60, timeout=2)
        except WorkerTimeout as exc:
            outcome["attack"] = exc

    thread = threading.Thread(target=attack)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert pool.call(add, 20, 22, timeout=30) == 42
    assert time.monotonic() - started < 1.5  # the other worker answered, no waiting
    thread.join(10)
    assert isinstance(outcome["attack"], WorkerTimeout)


def test_memory_limit_ends_the_call_with_worker_crashed(pool):
    with pytest.raises(WorkerCrashed):
        pool.call(allocate, 2 * MEMORY, timeout=30)
    assert pool.call(allocate, 1024, timeout=30) == 1024


def test_busy_pool_refuses_within_the_timeout():
    pool = WorkerPool(size=1, memory_bytes=MEMORY)
    try:
        pool.call(worker_pid, timeout=30)
        thread = threading.Thread(target=lambda: pool.call(spin, 1.5, timeout=30))
        thread.start()
        time.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(PoolBusy):
            pool.call(add, 1, 1, timeout=0.3)
        assert time.monotonic() - started < 1.2
        thread.join(10)
        assert pool.call(add, 1, 1, timeout=30) == 2
    finally:
        pool.close()


def test_close_kills_every_worker_and_later_calls_start_new_ones(pool):
    first = pool.call(worker_pid, timeout=30)
    pool.close()
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    assert pool.call(worker_pid, timeout=30) != first
