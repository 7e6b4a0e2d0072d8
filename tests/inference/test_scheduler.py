"""Scheduler policy: priorities, admission, preemption, fair share, deadlines. No engine."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from inference.scheduler import (
    FairQueue,
    QueueFull,
    RequestClass,
    Scheduler,
    SchedulerPolicy,
    Ticket,
    TicketState,
)

_ids = itertools.count()


def ticket(cls: RequestClass, tenant: str = "t", **kw: object) -> Ticket:
    return Ticket(id=f"r{next(_ids)}", cls=cls, tenant=tenant, **kw)  # type: ignore[arg-type]


def policy(**kw: object) -> SchedulerPolicy:
    """Policy for tests: the active width equals the idle width unless a test sets it."""
    base: dict[str, object] = {"batch_inflight": 4, "batch_inflight_interactive": 0}
    base.update(kw)
    base.setdefault("batch_inflight_active", base["batch_inflight"])
    return SchedulerPolicy(**base)  # type: ignore[arg-type]


def test_request_class_parse_and_priority_order():
    assert RequestClass.parse("Chat") is RequestClass.CHAT
    assert [c.label for c in sorted(RequestClass)] == ["voice", "chat", "grading", "authoring"]
    assert RequestClass.VOICE.interactive
    assert not RequestClass.GRADING.interactive
    with pytest.raises(ValueError, match="unknown request class 'bulk'"):
        RequestClass.parse("bulk")


def test_batch_fills_slots_when_no_interactive_request():
    s = Scheduler(policy(batch_inflight=3))
    grading = [ticket(RequestClass.GRADING) for _ in range(5)]
    for t in grading:
        s.submit(t, now=0.0)

    decision = s.schedule(now=0.0)

    assert decision.admit == grading[:3]
    assert s.queued(RequestClass.GRADING) == 2
    assert s.running(RequestClass.GRADING) == 3


def test_interactive_arrival_preempts_running_batch_and_holds_queue():
    s = Scheduler(policy(batch_inflight=3))
    grading = [ticket(RequestClass.GRADING) for _ in range(4)]
    for t in grading:
        s.submit(t, now=0.0)
    s.schedule(now=0.0)
    chat = ticket(RequestClass.CHAT)
    s.submit(chat, now=1.0)

    decision = s.schedule(now=1.0)

    assert decision.admit == [chat]
    # Most recently admitted first: they have the least work to redo.
    assert decision.preempt == [grading[2], grading[1], grading[0]]
    assert all(t.state is TicketState.PREEMPTING for t in grading[:3])
    assert s.queued(RequestClass.GRADING) == 1  # not admitted while chat waits


def test_batch_resumes_after_first_token_preempted_first():
    s = Scheduler(policy(batch_inflight=2))
    g = [ticket(RequestClass.GRADING) for _ in range(3)]
    for t in g:
        s.submit(t, now=0.0)
    s.schedule(now=0.0)
    chat = ticket(RequestClass.CHAT)
    s.submit(chat, now=1.0)
    preempted = s.schedule(now=1.0).preempt
    for t in preempted:
        s.on_preempted(t)
    assert s.schedule(now=1.1).admit == []  # chat still has no token

    s.on_first_token(chat)
    decision = s.schedule(now=1.2)

    # The preempted tickets keep their fair-share tags, so they come back before g[2].
    assert set(decision.admit) == {g[0], g[1]}
    assert all(t.preemptions == 1 for t in decision.admit)
    assert g[2].state is TicketState.QUEUED


def test_non_preemptible_batch_keeps_running():
    s = Scheduler(policy(batch_inflight=2))
    structured = ticket(RequestClass.GRADING, preemptible=False)
    plain = ticket(RequestClass.GRADING)
    s.submit(structured, now=0.0)
    s.submit(plain, now=0.0)
    s.schedule(now=0.0)
    s.submit(ticket(RequestClass.VOICE), now=0.5)

    decision = s.schedule(now=0.5)

    assert decision.preempt == [plain]
    assert structured.state is TicketState.RUNNING


def test_preempt_disabled_only_holds_admission():
    s = Scheduler(policy(batch_inflight=2, preempt=False))
    running = [ticket(RequestClass.GRADING) for _ in range(2)]
    queued = ticket(RequestClass.GRADING)
    for t in [*running, queued]:
        s.submit(t, now=0.0)
    s.schedule(now=0.0)
    s.on_finished(running[0], now=0.5)
    s.submit(ticket(RequestClass.CHAT), now=0.5)

    decision = s.schedule(now=0.5)

    assert decision.preempt == []
    assert queued.state is TicketState.QUEUED


def test_batch_inflight_interactive_keeps_some_batch_running():
    s = Scheduler(policy(batch_inflight=4, batch_inflight_interactive=1))
    assert s.policy.batch_inflight_active == 4
    g = [ticket(RequestClass.GRADING) for _ in range(4)]
    for t in g:
        s.submit(t, now=0.0)
    s.schedule(now=0.0)
    s.submit(ticket(RequestClass.CHAT), now=1.0)

    decision = s.schedule(now=1.0)

    assert len(decision.preempt) == 3
    assert g[0].state is TicketState.RUNNING


def test_grading_before_authoring_and_authoring_preempted_first():
    s = Scheduler(policy(batch_inflight=2))
    authoring = ticket(RequestClass.AUTHORING)
    grading = ticket(RequestClass.GRADING)
    s.submit(authoring, now=0.0)
    s.submit(grading, now=0.1)
    extra = ticket(RequestClass.GRADING)
    s.submit(extra, now=0.2)

    assert s.schedule(now=0.2).admit == [grading, extra]

    s.on_finished(grading, now=1.0)
    assert s.schedule(now=1.0).admit == [authoring]
    s.submit(ticket(RequestClass.CHAT), now=2.0)
    s2 = s.schedule(now=2.0)
    assert s2.preempt[0] is authoring


def test_voice_admitted_before_chat_when_interactive_slots_are_scarce():
    s = Scheduler(policy(interactive_inflight=1))
    chat = ticket(RequestClass.CHAT)
    voice = ticket(RequestClass.VOICE)
    s.submit(chat, now=0.0)
    s.submit(voice, now=0.1)

    assert s.schedule(now=0.1).admit == [voice]
    s.on_finished(voice, now=0.5)
    assert s.schedule(now=0.5).admit == [chat]


def test_fair_share_one_tenants_flood_does_not_starve_another():
    s = Scheduler(policy(batch_inflight=1))
    flood = [ticket(RequestClass.GRADING, tenant="big", cost=100) for _ in range(50)]
    for t in flood:
        s.submit(t, now=0.0)
    first = s.schedule(now=0.0).admit
    small = [ticket(RequestClass.GRADING, tenant="small", cost=100) for _ in range(3)]
    for t in small:
        s.submit(t, now=0.1)

    order: list[str] = [t.tenant for t in first]
    current = first[0]
    for step in range(7):
        s.on_finished(current, now=1.0 + step)
        (current,) = s.schedule(now=1.0 + step).admit
        order.append(current.tenant)

    # The small tenant's three jobs are interleaved with the flood, not queued behind 49.
    assert order[:8] == ["big", "big", "small", "big", "small", "big", "small", "big"]


def test_fair_share_respects_weights():
    q = FairQueue({"gold": 3.0})
    for i in range(30):
        q.push(ticket(RequestClass.GRADING, tenant="gold", cost=10), seq=2 * i)
        q.push(ticket(RequestClass.GRADING, tenant="plain", cost=10), seq=2 * i + 1)

    served: Counter[str] = Counter()
    for _ in range(20):
        t = q.pop()
        t.state = TicketState.RUNNING
        served[t.tenant] += 1

    assert served == Counter({"gold": 15, "plain": 5})


def test_deadline_expires_queued_ticket_only():
    s = Scheduler(policy(batch_inflight=1))
    running = ticket(RequestClass.GRADING, deadline=5.0)
    waiting = ticket(RequestClass.GRADING, deadline=5.0)
    s.submit(running, now=0.0)
    s.submit(waiting, now=0.0)
    s.schedule(now=0.0)
    assert s.next_deadline() == 5.0

    assert s.schedule(now=4.9).expired == []
    decision = s.schedule(now=5.0)

    assert decision.expired == [waiting]
    assert waiting.state is TicketState.DONE
    assert running.state is TicketState.RUNNING
    assert s.queued(RequestClass.GRADING) == 0
    assert s.expired_total == 1
    assert s.next_deadline() is None


def test_preempted_ticket_is_exempt_from_its_deadline():
    s = Scheduler(policy(batch_inflight=1))
    g = ticket(RequestClass.GRADING, deadline=2.0)
    s.submit(g, now=0.0)
    s.schedule(now=0.0)
    s.submit(ticket(RequestClass.CHAT), now=1.0)
    (victim,) = s.schedule(now=1.0).preempt
    s.on_preempted(victim)

    assert s.schedule(now=3.0).expired == []
    assert g.state is TicketState.QUEUED


def test_queue_full_rejects_with_retry_after_and_changes_nothing():
    limits = dict.fromkeys(RequestClass, 2)
    s = Scheduler(policy(batch_inflight=1, queue_limit=limits))
    for _ in range(2):
        s.submit(ticket(RequestClass.GRADING), now=0.0)

    with pytest.raises(QueueFull) as info:
        s.submit(ticket(RequestClass.GRADING), now=0.0)

    assert info.value.retry_after >= 1.0
    assert s.queued(RequestClass.GRADING) == 2
    s.submit(ticket(RequestClass.CHAT), now=0.0)  # other classes unaffected


def test_cancel_queued_and_running_frees_slots():
    s = Scheduler(policy(batch_inflight=1))
    a, b, c = (ticket(RequestClass.GRADING) for _ in range(3))
    for t in (a, b, c):
        s.submit(t, now=0.0)
    assert s.schedule(now=0.0).admit == [a]

    s.cancel(b)
    s.cancel(a)

    assert s.schedule(now=0.1).admit == [c]
    assert s.queued(RequestClass.GRADING) == 0


def test_estimated_wait_grows_with_queue_and_uses_observed_runtime():
    s = Scheduler(policy(batch_inflight=2))
    first = [ticket(RequestClass.GRADING) for _ in range(2)]
    for t in first:
        s.submit(t, now=0.0)
    s.schedule(now=0.0)
    for t in first:
        s.on_finished(t, now=4.0)  # EWMA moves from the 10 s guess towards 4 s
    assert s.estimated_wait(RequestClass.GRADING) == 0.0

    for _ in range(6):
        s.submit(ticket(RequestClass.GRADING), now=5.0)
    s.schedule(now=5.0)  # 2 running, 4 queued

    runtime = 0.8 * (0.8 * 10.0 + 0.2 * 4.0) + 0.2 * 4.0
    assert s.estimated_wait(RequestClass.GRADING) == pytest.approx(3 * runtime)
    stats = s.stats()[RequestClass.GRADING]
    assert (stats.queued, stats.running) == (4, 2)


def test_batch_width_narrows_while_interactive_traffic_is_active():
    s = Scheduler(policy(batch_inflight=6, batch_inflight_active=2, active_window_s=10.0))
    grading = [ticket(RequestClass.GRADING) for _ in range(8)]
    for t in grading:
        s.submit(t, now=0.0)
    assert len(s.schedule(now=0.0).admit) == 6  # quiet: full width
    chat = ticket(RequestClass.CHAT)
    s.submit(chat, now=1.0)
    assert len(s.schedule(now=1.0).preempt) == 6  # waiting chat: down to 0
    for t in grading[:6]:
        s.on_preempted(t)
    s.on_first_token(chat)
    s.on_finished(chat, now=1.5)

    assert len(s.schedule(now=1.5).admit) == 2  # active window: narrow width
    assert s.next_wakeup() == pytest.approx(11.0)  # window ends 10 s after the chat
    assert s.schedule(now=10.9).admit == []
    assert len(s.schedule(now=11.0).admit) == 4  # quiet again: back to full width


def test_policy_validation():
    with pytest.raises(ValueError, match="batch_inflight_interactive"):
        SchedulerPolicy(batch_inflight=2, batch_inflight_active=2, batch_inflight_interactive=3)
    with pytest.raises(ValueError, match="batch_inflight_active"):
        SchedulerPolicy(batch_inflight=2, batch_inflight_active=3)
