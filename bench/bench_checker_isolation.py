"""Benchmark: does checking hostile answers slow anyone else down? (issue 12)

    .venv/bin/python bench/bench_checker_isolation.py [--seconds 12]

A server process runs the Django app (config.settings.embedded on a fresh SQLite database
in a temporary folder) under uvicorn, in a thread, the way `make run` serves it. In that
same process, on command, 4 threads check hostile answers with courses.checkers, as the
answer view would: the learner's answer is checked in the server process, so whatever
the check holds (the GIL, CPU) the server's pages compete with. Phases:

1. idle: nothing else runs;
2. hostile: each of the 4 threads checks, again and again, one of the issue's answers
   (`(a+b+c+d)^100`, `((x+1)^100)^100`, `e^e^e^e^e^x`) or an answer against a stored
   numeric key `1E+999999999` (tolerance 0); before this change these took 25 s, 10 s,
   forever, and hours, holding the GIL. Each thread sends its next answer when the last
   is answered, at most 50 a second (PACE_SECONDS);
3. at the limit: each thread sends, again and again, a check that never finishes by
   itself (`math.factorial(10**8)`, C code that would hold the GIL for minutes in-process)
   through the answer checker's worker pool with its limit
   (courses.checkers.EXPRESSION_CHECK_SECONDS): the worst case, a check nobody foresaw.

Meanwhile this process (the client, so the server's GIL does not touch the measurement)
requests an unrelated page, the sign-in page, one request at a time, and records each
latency. Prints p50/p99 per phase and the ratio to idle, the slowest hostile check and
the time of a normal check; writes bench/results/checker-isolation.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "checker-isolation.json"
PAGE = "/accounts/login/"
ATTACKERS = 4
HOSTILE_EXPRESSIONS = ["(a+b+c+d)^100", "((x+1)^100)^100", "e^e^e^e^e^x"]
HOSTILE_NUMERIC_KEY = "1E+999999999"
NEVER_ENDING = 10**8  # math.factorial of this runs for minutes
# Each attacker sends its next answer as soon as the last is answered, but at most 50 a
# second (as fast as a client gets answers over HTTP; a tight loop of in-process calls
# would measure the attack threads' own Python overhead, not the checks).
PACE_SECONDS = 0.02


# --- the server process ----------------------------------------------------------------


def serve(port: int) -> None:
    """Run the app under uvicorn in a thread; take phase commands on stdin, one JSON line
    per command on stdout: {"checks": [[kind, seconds, message], ...]}."""
    import logging
    import threading

    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    import math

    import uvicorn

    from config.asgi import application
    from courses import checkers

    # One warning per refused check would flood the terminal.
    logging.getLogger("courses.checkers").setLevel(logging.ERROR)
    logging.getLogger("common.isolation").setLevel(logging.ERROR)
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    # Start the answer checker's workers (the fork server imports SymPy once).
    checkers.check_answer(snapshot=_expression("2(x+1)"), response="2x+2")
    print(json.dumps({"ready": True}), flush=True)

    def hostile(index: int) -> tuple[str, str]:
        if index == 3:
            snapshot = {"kind": "numeric", "answer": {"value": HOSTILE_NUMERIC_KEY}}
            result = checkers.check_answer(snapshot=snapshot, response="1E+999")
            return "numeric key 1E+999999999", result.message
        answer = HOSTILE_EXPRESSIONS[index]
        result = checkers.check_answer(snapshot=_expression("2x+2"), response=answer)
        return answer, result.message

    def at_limit(_index: int) -> tuple[str, str]:
        try:
            checkers._expression_pool.call(
                math.factorial, NEVER_ENDING, timeout=checkers.EXPRESSION_CHECK_SECONDS
            )
        except Exception as exc:
            return "never-ending check", type(exc).__name__
        return "never-ending check", "finished?"

    for line in sys.stdin:
        phase, seconds = line.split()
        checks: list[list[Any]] = []
        lock = threading.Lock()
        end = time.monotonic() + float(seconds)

        threads = []
        if phase != "idle":
            work = hostile if phase == "hostile" else at_limit
            threads = [
                threading.Thread(target=_attack, args=(work, i, end, checks, lock))
                for i in range(ATTACKERS)
            ]
            for thread in threads:
                thread.start()
        time.sleep(float(seconds))
        for thread in threads:
            thread.join()
        normal = []
        for _ in range(20):
            started = time.monotonic()
            checkers.check_answer(snapshot=_expression("2(x+1)"), response="2x+2")
            normal.append(time.monotonic() - started)
        print(json.dumps({"checks": checks, "normal": normal}), flush=True)
    server.should_exit = True


def _attack(work, index: int, end: float, checks: list, lock) -> None:
    """One attacker: one answer at a time, a new one at most every PACE_SECONDS."""
    while time.monotonic() < end:
        started = time.monotonic()
        kind, message = work(index)
        elapsed = time.monotonic() - started
        with lock:
            checks.append([kind, elapsed, message])
        time.sleep(max(0.0, PACE_SECONDS - elapsed))


def _expression(expected: str) -> dict[str, Any]:
    return {"kind": "expression", "answer": {"expected": expected}, "choices": []}


# --- the client (this process) ---------------------------------------------------------


def measure(server: subprocess.Popen, port: int, phase: str, seconds: float) -> dict:
    import httpx

    server.stdin.write(f"{phase} {seconds}\n")
    server.stdin.flush()
    latencies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        client.get(PAGE)  # connection open before the clock starts
        end = time.monotonic() + seconds - 0.5
        while time.monotonic() < end:
            started = time.perf_counter()
            response = client.get(PAGE)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    report = json.loads(server.stdout.readline())
    checks = report["checks"]
    return {
        "phase": phase,
        "requests": len(latencies),
        "page_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "page_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "page_max_ms": round(max(latencies) * 1000, 2),
        "checks": len(checks),
        "check_max_s": round(max((c[1] for c in checks), default=0.0), 3),
        "check_messages": sorted({f"{c[0]}: {c[2]}" for c in checks}),
        "normal_check_median_ms": round(statistics.median(report["normal"]) * 1000, 2),
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git_commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each phase")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import tempfile

    started = time.perf_counter()
    port = _free_port()
    with tempfile.TemporaryDirectory() as var_dir:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.embedded",
            "EXOCORTEX_VAR_DIR": var_dir,
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            if not json.loads(server.stdout.readline()).get("ready"):
                raise SystemExit("the server did not start")
            phases = {p: measure(server, port, p, args.seconds) for p in ("idle", "hostile")}
            phases["at_limit"] = measure(server, port, "at_limit", args.seconds)
        finally:
            server.stdin.close()
            server.wait(timeout=30)
    elapsed = time.perf_counter() - started

    idle, hostile, limit = phases["idle"], phases["hostile"], phases["at_limit"]
    print(f"unrelated page {PAGE}, one request at a time, {args.seconds:.0f} s per phase:")
    print(
        f"  {'phase':10} {'requests':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99/idle':>8} "
        f"{'checks':>7} {'slowest check s':>15}"
    )
    for phase in phases.values():
        print(
            f"  {phase['phase']:10} {phase['requests']:8d} {phase['page_p50_ms']:8.2f} "
            f"{phase['page_p99_ms']:8.2f} {phase['page_p99_ms'] / idle['page_p99_ms']:8.2f} "
            f"{phase['checks']:7d} {phase['check_max_s']:15.3f}"
        )
    for message in hostile["check_messages"] + limit["check_messages"]:
        print(f"  {message}")
    print(f"normal answer (2x+2 against 2(x+1)): {idle['normal_check_median_ms']:.2f} ms median")
    print(f"{elapsed:.1f} s")

    result = {
        "benchmark": "checker-isolation",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "page": PAGE,
        "attackers": ATTACKERS,
        "phase_seconds": args.seconds,
        "unrelated_page_p99_ms_idle": idle["page_p99_ms"],
        "unrelated_page_p99_ms_under_attack": hostile["page_p99_ms"],
        "unrelated_page_p99_ms_at_limit": limit["page_p99_ms"],
        "p99_ratio_under_attack": round(hostile["page_p99_ms"] / idle["page_p99_ms"], 2),
        "p99_ratio_at_limit": round(limit["page_p99_ms"] / idle["page_p99_ms"], 2),
        "hostile_answer_max_s": hostile["check_max_s"],
        "at_limit_check_max_s": limit["check_max_s"],
        "normal_answer_median_ms": idle["normal_check_median_ms"],
        "phases": phases,
        "duration_s": round(elapsed, 1),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
