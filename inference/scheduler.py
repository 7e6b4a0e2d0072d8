"""Admission scheduler in front of the engine: classes, fair share, deadlines, preemption.

Pure logic with no engine, no asyncio and no clock of its own: callers pass `now`
(monotonic seconds) and apply the returned `Decision`. That keeps every policy decision
unit-testable in microseconds.

Why this exists on top of vLLM's own priority scheduling: vLLM orders only its *waiting*
queue. Once a flood of grading requests is running, each engine step carries all of them,
and a chat request that arrives later waits for those big steps however high its priority.
So we decide *what enters the engine*:

* interactive classes (voice, chat) are admitted at once (up to a generous cap);
* batch classes (grading, authoring) fill `batch_inflight` slots while no interactive
  traffic has been seen for `active_window_s` (a grading flood at night runs at full
  batch width), and only `batch_inflight_active` slots while interactive traffic is
  active: on a CPU every engine step costs a fixed ~30 ms plus ~1 ms per sequence, and a
  chat that arrives mid-step waits for that step, so the batch width bounds chat latency;
* while an interactive request waits for its first token, batch work is held to
  `batch_inflight_interactive` slots and (with `preempt`) the excess running batch
  requests are preempted: the engine layer aborts them and later resumes each from its
  generated prefix, which the engine's prefix cache makes cheap. This matters most when
  the first chat after a quiet period meets a full-width batch.

Within a class, tenants share by weighted fair queuing (self-clocked: a ticket's tag is
`max(virtual_time, tenant's last tag) + cost / weight`, lowest tag first), so one school's
flood cannot starve another's. A queued ticket whose deadline passes is expired instead of
being run late; a ticket that has started once is exempt (its work is already paid for).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum


class RequestClass(IntEnum):
    """Request classes; the value doubles as vLLM's priority (lower runs first)."""

    VOICE = 0
    CHAT = 1
    GRADING = 2
    AUTHORING = 3

    @classmethod
    def parse(cls, name: str) -> RequestClass:
        """Class from its lower-case name; raises ValueError for an unknown name."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(c.label for c in cls)
            raise ValueError(f"unknown request class {name!r} (known: {known})") from None

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def interactive(self) -> bool:
        """A person is waiting for the first token."""
        return self <= RequestClass.CHAT


INTERACTIVE = (RequestClass.VOICE, RequestClass.CHAT)
BATCH = (RequestClass.GRADING, RequestClass.AUTHORING)


class TicketState(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PREEMPTING = "preempting"  # told to leave the engine; waiting for on_preempted()
    DONE = "done"


@dataclass(eq=False)
class Ticket:
    """One request as the scheduler sees it.

    `cost` is the estimated work in tokens (prompt + max output); it weighs the fair
    share. `deadline` is absolute (same clock as `now`), or None for no deadline.
    `preemptible` is False for requests that cannot be resumed from a token prefix
    (structured output, whose grammar state would restart; multimodal input).
    """

    id: str
    cls: RequestClass
    tenant: str = "default"
    cost: float = 1.0
    arrival: float = 0.0
    deadline: float | None = None
    preemptible: bool = True
    state: TicketState = TicketState.QUEUED
    tag: float = 0.0
    started: bool = False  # has run at least once; deadlines no longer apply
    first_token: bool = False
    admitted_at: float = 0.0
    preemptions: int = 0
    _seq: int = 0


class QueueFull(Exception):
    """The class queue is at its limit; retry after `retry_after` seconds."""

    def __init__(self, cls: RequestClass, retry_after: float) -> None:
        super().__init__(f"{cls.label} queue is full; retry in about {retry_after:.0f}s")
        self.cls = cls
        self.retry_after = retry_after


@dataclass
class Decision:
    """What the engine layer must do now: start `admit`, abort-and-requeue `preempt`,
    fail `expired` with a deadline error."""

    admit: list[Ticket] = field(default_factory=list)
    preempt: list[Ticket] = field(default_factory=list)
    expired: list[Ticket] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.admit or self.preempt or self.expired)


@dataclass(frozen=True)
class ClassStats:
    queued: int
    running: int
    estimated_wait_s: float


@dataclass(frozen=True)
class SchedulerPolicy:
    batch_inflight: int = 64
    batch_inflight_active: int = 8
    batch_inflight_interactive: int = 8
    active_window_s: float = 10.0
    interactive_inflight: int = 64
    preempt: bool = True
    queue_limit: Mapping[RequestClass, int] = field(
        default_factory=lambda: dict.fromkeys(RequestClass, 1024)
    )
    tenant_weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_inflight < 1 or self.interactive_inflight < 1:
            raise ValueError("inflight limits must be >= 1")
        if not 1 <= self.batch_inflight_active <= self.batch_inflight:
            raise ValueError("batch_inflight_active must be in [1, batch_inflight]")
        if not 0 <= self.batch_inflight_interactive <= self.batch_inflight_active:
            raise ValueError("batch_inflight_interactive must be in [0, batch_inflight_active]")


class FairQueue:
    """Weighted fair queue over tenants for one class (self-clocked fair queuing)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._weights = weights
        self._heap: list[tuple[float, int, Ticket]] = []
        self._last_tag: dict[str, float] = {}
        self._vtime = 0.0
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def push(self, ticket: Ticket, seq: int) -> None:
        """Queue a new ticket, giving it its fair-share tag."""
        weight = self._weights.get(ticket.tenant, 1.0)
        start = max(self._vtime, self._last_tag.get(ticket.tenant, 0.0))
        ticket.tag = start + ticket.cost / weight
        self._last_tag[ticket.tenant] = ticket.tag
        self._insert(ticket, seq)

    def requeue(self, ticket: Ticket, seq: int) -> None:
        """Put a preempted ticket back with its old tag, so it resumes first."""
        self._insert(ticket, seq)

    def _insert(self, ticket: Ticket, seq: int) -> None:
        ticket._seq = seq
        heapq.heappush(self._heap, (ticket.tag, seq, ticket))
        self._live += 1

    def _drop_dead(self) -> None:
        while self._heap and self._heap[0][2].state is not TicketState.QUEUED:
            heapq.heappop(self._heap)

    def peek(self) -> Ticket | None:
        self._drop_dead()
        return self._heap[0][2] if self._heap else None

    def pop(self) -> Ticket:
        """Remove and return the ticket with the lowest tag. Precondition: len > 0."""
        self._drop_dead()
        _, _, ticket = heapq.heappop(self._heap)
        self._vtime = max(self._vtime, ticket.tag)
        self._live -= 1
        return ticket

    def discard(self, ticket: Ticket) -> None:
        """Forget a queued ticket (lazy: its heap entry is skipped later).

        Precondition: the caller has already moved `ticket.state` away from QUEUED.
        """
        self._live -= 1

    def tickets(self) -> Iterable[Ticket]:
        return (t for _, _, t in self._heap if t.state is TicketState.QUEUED)


class Scheduler:
    """Decides which requests enter the engine, which leave it early, and which expire."""

    # Run-time guesses used for the wait estimate until real requests have been timed.
    _DEFAULT_RUNTIME_S = {
        RequestClass.VOICE: 1.0,
        RequestClass.CHAT: 2.0,
        RequestClass.GRADING: 10.0,
        RequestClass.AUTHORING: 30.0,
    }

    def __init__(self, policy: SchedulerPolicy) -> None:
        self.policy = policy
        self._queues = {c: FairQueue(policy.tenant_weights) for c in RequestClass}
        self._running: dict[str, Ticket] = {}
        self._deadlines: list[tuple[float, int, Ticket]] = []
        self._seq = itertools.count()
        self._admit_order = itertools.count()
        self._order: dict[str, int] = {}
        self._runtime_ewma = dict(self._DEFAULT_RUNTIME_S)
        self.preemptions_total = 0
        self.expired_total = 0
        self._last_interactive = -math.inf

    # --- events --------------------------------------------------------------------------

    def submit(self, ticket: Ticket, now: float) -> None:
        """Queue a new ticket. Raises QueueFull when its class queue is at the limit."""
        queue = self._queues[ticket.cls]
        if len(queue) >= self.policy.queue_limit[ticket.cls]:
            raise QueueFull(ticket.cls, max(1.0, self.estimated_wait(ticket.cls)))
        ticket.state = TicketState.QUEUED
        ticket.arrival = now
        if ticket.cls.interactive:
            self._last_interactive = max(self._last_interactive, now)
        seq = next(self._seq)
        queue.push(ticket, seq)
        if ticket.deadline is not None:
            heapq.heappush(self._deadlines, (ticket.deadline, seq, ticket))

    def cancel(self, ticket: Ticket) -> None:
        """The client went away: forget the ticket wherever it is. Idempotent."""
        if ticket.state is TicketState.QUEUED:
            ticket.state = TicketState.DONE
            self._queues[ticket.cls].discard(ticket)
        else:
            ticket.state = TicketState.DONE
            self._running.pop(ticket.id, None)
            self._order.pop(ticket.id, None)

    def on_first_token(self, ticket: Ticket) -> None:
        ticket.first_token = True

    def on_preempted(self, ticket: Ticket) -> None:
        """The engine has aborted a ticket we asked to preempt: queue it again."""
        if ticket.state is not TicketState.PREEMPTING:
            return
        self._running.pop(ticket.id, None)
        ticket.state = TicketState.QUEUED
        ticket.preemptions += 1
        self._queues[ticket.cls].requeue(ticket, next(self._seq))

    def on_finished(self, ticket: Ticket, now: float) -> None:
        """The ticket left the engine for good (done, failed or cancelled)."""
        if ticket.state is TicketState.QUEUED:
            self._queues[ticket.cls].discard(ticket)
        elif ticket.state in (TicketState.RUNNING, TicketState.PREEMPTING) and ticket.started:
            runtime = max(0.0, now - ticket.admitted_at)
            old = self._runtime_ewma[ticket.cls]
            self._runtime_ewma[ticket.cls] = 0.8 * old + 0.2 * runtime
        ticket.state = TicketState.DONE
        self._running.pop(ticket.id, None)
        self._order.pop(ticket.id, None)

    # --- the decision --------------------------------------------------------------------

    def schedule(self, now: float) -> Decision:
        """Compute what to start, preempt and expire at time `now`; update state to match."""
        decision = Decision(expired=self._expire(now))
        p = self.policy

        for cls in INTERACTIVE:
            queue = self._queues[cls]
            while queue and self._count_running(INTERACTIVE) < p.interactive_inflight:
                decision.admit.append(self._start(queue.pop(), now))

        limit = self.batch_limit(now)
        running_batch = [t for t in self._running.values() if t.cls in BATCH]
        active = [t for t in running_batch if t.state is TicketState.RUNNING]
        excess = len(active) - limit
        if excess > 0 and p.preempt:
            # Lowest class first, then the most recently admitted (least work to redo).
            victims = sorted(
                (t for t in active if t.preemptible),
                key=lambda t: (-t.cls, -self._order[t.id]),
            )[:excess]
            for ticket in victims:
                ticket.state = TicketState.PREEMPTING
                self.preemptions_total += 1
            decision.preempt.extend(victims)
        # Tickets on their way out still occupy the engine until on_preempted().
        occupied = len(running_batch)
        for cls in BATCH:
            queue = self._queues[cls]
            while queue and occupied < limit:
                decision.admit.append(self._start(queue.pop(), now))
                occupied += 1
        return decision

    def _start(self, ticket: Ticket, now: float) -> Ticket:
        ticket.state = TicketState.RUNNING
        ticket.started = True
        ticket.first_token = False
        ticket.admitted_at = now
        self._running[ticket.id] = ticket
        self._order[ticket.id] = next(self._admit_order)
        return ticket

    def _expire(self, now: float) -> list[Ticket]:
        expired: list[Ticket] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, ticket = heapq.heappop(self._deadlines)
            if ticket.state is TicketState.QUEUED and not ticket.started:
                ticket.state = TicketState.DONE
                self._queues[ticket.cls].discard(ticket)
                expired.append(ticket)
        self.expired_total += len(expired)
        return expired

    # --- read-only views -----------------------------------------------------------------

    def batch_limit(self, now: float) -> int:
        """Batch slots allowed at `now` (see the module docstring)."""
        if self.interactive_waiting():
            return self.policy.batch_inflight_interactive
        if now - self._last_interactive < self.policy.active_window_s:
            return self.policy.batch_inflight_active
        return self.policy.batch_inflight

    def next_wakeup(self) -> float | None:
        """When `schedule()` must run again without any event: the earliest queued
        deadline, or the end of the active window if batch work waits for it."""
        times = []
        deadline = self.next_deadline()
        if deadline is not None:
            times.append(deadline)
        window_end = self._last_interactive + self.policy.active_window_s
        if math.isfinite(window_end) and any(self._queues[c] for c in BATCH):
            times.append(window_end)
        return min(times) if times else None

    def interactive_waiting(self) -> bool:
        """True while some voice/chat request is queued or has no first token yet."""
        if any(self._queues[c] for c in INTERACTIVE):
            return True
        return any(t.cls.interactive and not t.first_token for t in self._running.values())

    def next_deadline(self) -> float | None:
        """Earliest deadline among queued tickets (for the caller's wake-up timer)."""
        while self._deadlines and self._deadlines[0][2].state is not TicketState.QUEUED:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def _count_running(self, classes: Iterable[RequestClass]) -> int:
        wanted = set(classes)
        return sum(1 for t in self._running.values() if t.cls in wanted)

    def queued(self, cls: RequestClass) -> int:
        return len(self._queues[cls])

    def running(self, cls: RequestClass) -> int:
        return self._count_running((cls,))

    def estimated_wait(self, cls: RequestClass) -> float:
        """Rough seconds a new `cls` request waits before starting.

        Requests of this class and of higher classes sharing its slots go first; slots
        free up at the class's observed run time (EWMA). Good enough for "about 4 s".
        """
        group = INTERACTIVE if cls.interactive else BATCH
        slots = (
            self.policy.interactive_inflight
            if cls.interactive
            else max(1, self.policy.batch_inflight_active)
        )
        ahead = sum(len(self._queues[c]) for c in group if c <= cls)
        running = self._count_running(group)
        if running + ahead < slots:
            return 0.0
        return math.ceil((ahead + 1) / slots) * self._runtime_ewma[cls]

    def stats(self) -> dict[RequestClass, ClassStats]:
        return {
            c: ClassStats(self.queued(c), self.running(c), self.estimated_wait(c))
            for c in RequestClass
        }
