"""Run untrusted-input work in worker processes that a hard time and memory limit stop.

A thread in the web server cannot be stopped, and CPU-bound Python holds the GIL, so
work whose cost depends on what a user typed (SymPy on a learner's expression) runs in
a small pool of worker processes instead. Each call goes to an idle worker; when it has
no result by its deadline the worker is killed (SIGKILL) and a fresh one takes its place
on the next call. Workers cap their address space (RLIMIT_AS) and, as a second guard
that holds even if the parent dies, their CPU time per call (RLIMIT_CPU).

Workers come from the "forkserver" start method: the web server is threaded (Daphne,
Channels), and forking a threaded process is unsafe. The fork server imports the
`preload` modules once, so a replacement worker starts in milliseconds. The function a
worker runs, its arguments and its result must pickle, and its module must import
without Django settings. As with "spawn", a worker imports the parent's main script as
`__mp_main__` (not `python -m` modules): scripts that use a pool keep their work under
`if __name__ == "__main__":`. Workers run at a lower CPU priority (`nice`), so that
while they are busy the web server's own threads come first.

The pool is thread-safe; its calls block, so async code calls them through
`asgiref.sync.sync_to_async`. No process is started until the first call.
"""

import logging
import math
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

# The pool's first start is not part of a call's time limit, this bounds it instead: it
# also starts the fork server, which imports the preloaded modules (about 1 s for
# SymPy); later ones fork it (milliseconds).
START_TIMEOUT_SECONDS = 60.0


class IsolationError(Exception):
    """The call produced no result."""


class WorkerTimeout(IsolationError):
    """The call ran past its time limit; its worker was killed."""


class WorkerCrashed(IsolationError):
    """The worker died or ran out of memory during the call; it was replaced."""


class PoolBusy(IsolationError):
    """Every worker stayed busy until the call's time limit."""


class _Worker:
    def __init__(self, process: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """At most `size` worker processes, each limited to `memory_bytes` of address space.

    Workers start on demand and live until they time out, crash, or the pool closes.
    """

    def __init__(
        self, *, size: int, memory_bytes: int, preload: Sequence[str] = (), nice: int = 0
    ) -> None:
        self.size = size
        self.memory_bytes = memory_bytes
        self.preload = list(preload)
        self.nice = nice
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._free = threading.BoundedSemaphore(self.size)
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._started = False

    def call(self, function: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """`function(*args)` in a worker: its result, or the exception it raised.

        Raises PoolBusy when no worker frees up within `timeout` seconds, WorkerTimeout
        when the result does not come within `timeout` seconds of the call (waiting for
        a free worker and starting one included, except the pool's first start: see
        START_TIMEOUT_SECONDS), WorkerCrashed when the worker dies.
        """
        if self._pid != os.getpid():
            # A forked copy of a process that used the pool: the workers are the
            # parent's. Start afresh (no thread of this process can hold the lock yet).
            self._reset()
        called = time.monotonic()
        if not self._free.acquire(timeout=timeout):
            raise PoolBusy(f"no worker free within {timeout} s")
        try:
            if time.monotonic() - called >= timeout:
                raise PoolBusy(f"no worker free within {timeout} s")
            first_start = not self._started
            worker = self._checkout()
            if first_start:
                called = time.monotonic()
            remaining = timeout - (time.monotonic() - called)
            try:
                if remaining <= 0:
                    raise PoolBusy(f"no worker started within {timeout} s")
                worker.conn.send((function, args, math.ceil(timeout) + 1))
                ready = worker.conn.poll(remaining)
                outcome, value = worker.conn.recv() if ready else (None, None)
            except (EOFError, OSError) as exc:
                self._discard(worker)
                raise WorkerCrashed(f"worker {worker.process.pid} died") from exc
            except PoolBusy:
                self._checkin(worker)
                raise
            except Exception as exc:  # the call does not pickle, or its reply does not
                self._checkin(worker)  # unpickle here: nothing half-sent, the worker is fine
                raise IsolationError(f"call or reply does not pickle: {exc!r}") from exc
            if not ready:
                self._discard(worker)
                raise WorkerTimeout(f"no result within {timeout} s")
            if outcome == "memory":
                self._discard(worker)  # its heap may be left fragmented
                raise WorkerCrashed(f"worker {worker.process.pid} ran out of memory")
            self._checkin(worker)
        finally:
            self._free.release()
        if outcome == "error":
            raise value
        return value

    def close(self) -> None:
        """Kill every worker; later calls start new ones."""
        with self._lock:
            workers, self._workers, self._idle = list(self._workers), set(), []
        for worker in workers:
            worker.kill()

    def _checkout(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        worker = self._start()
        with self._lock:
            self._workers.add(worker)
        return worker

    def _checkin(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:  # not closed meanwhile
                self._idle.append(worker)
                return
        worker.kill()

    def _discard(self, worker: _Worker) -> None:
        logger.warning("killing worker process %s", worker.process.pid)
        with self._lock:
            self._workers.discard(worker)
        worker.kill()

    def _start(self) -> _Worker:
        context = multiprocessing.get_context("forkserver")
        if self.preload:
            # Only takes effect if this process has not started its fork server yet.
            context.set_forkserver_preload(self.preload)
        parent_conn, child_conn = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child_conn, self.memory_bytes, self.nice),
            daemon=True,
            name="isolated",
        )
        process.start()
        self._started = True
        child_conn.close()
        worker = _Worker(process, parent_conn)
        try:
            if not parent_conn.poll(START_TIMEOUT_SECONDS):
                raise WorkerCrashed("worker did not start")
            parent_conn.recv()  # "ready": its limits are in place
        except (EOFError, OSError) as exc:
            worker.kill()
            raise WorkerCrashed("worker died while starting") from exc
        except WorkerCrashed:
            worker.kill()
            raise
        return worker


def _serve(conn: Connection, memory_bytes: int, nice: int) -> None:
    """A worker's loop: run each (function, args, cpu seconds) it receives, reply with
    ("ok", result), ("error", exception) or ("memory", None); exit when the pool goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the server; it kills us
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if nice:
        os.nice(nice)
    conn.send("ready")
    while True:
        try:
            function, args, cpu_seconds = conn.recv()
        except (EOFError, OSError):
            return
        _limit_cpu(cpu_seconds)
        try:
            reply = ("ok", function(*args))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:
            reply = ("error", exc)
        try:
            conn.send(reply)
        except Exception as exc:  # the result or exception does not pickle
            conn.send(("error", IsolationError(f"unpicklable reply: {exc!r}")))


def _limit_cpu(seconds: int) -> None:
    """SIGXCPU (which ends the process) once this call has used `seconds` of CPU."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    limit = used + seconds
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))
