"""Schedules (faas_schedule(3)) from Python: on a faas.ManualClock in manual mode, a rate and a
cron in a time zone fire when their time comes and not before, with EventBridge's
"Scheduled Event"."""

import datetime

import pytest

import faas

UTC = datetime.timezone.utc
THU = datetime.datetime(2026, 11, 26, 0, 0, tzinfo=UTC)        # a Thursday


@pytest.fixture
def clocked():
    clock = faas.ManualClock(THU)
    runtime = faas.Runtime(manual=True, clock=clock)
    yield runtime, clock
    runtime.close()


def test_a_rate_fires_every_period_on_the_manual_clock(clocked):
    rt, clock = clocked
    events = []
    rt.register("tick", lambda event, context: events.append(event))
    sid = rt.schedule("tick", "rate(5 minutes)", rule_name="ticker", account="123456789012",
                      region="eu-west-1")
    assert sid > 0
    clock.advance(299)
    rt.run_pending()
    assert events == []                                 # not early
    clock.advance(1)
    rt.run_pending()
    assert len(events) == 1
    e = events[0]
    assert e["detail-type"] == "Scheduled Event" and e["source"] == "aws.events"
    assert e["time"] == "2026-11-26T00:05:00Z"
    assert e["account"] == "123456789012" and e["region"] == "eu-west-1"
    assert e["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/ticker"]
    assert e["detail"] == {}
    for _ in range(3):
        clock.advance(300)
        rt.run_pending()
    assert [e["time"][11:16] for e in events] == ["00:05", "00:10", "00:15", "00:20"]
    rt.unschedule(sid)
    clock.advance(3600)
    rt.run_pending()
    assert len(events) == 4                             # stopped
    with pytest.raises(faas.NotFound):
        rt.unschedule(sid)


def test_a_cron_in_a_time_zone(clocked):
    rt, clock = clocked
    times = []
    rt.register("report", lambda event, context: times.append(event["time"]))
    rt.schedule("report", "cron(0 9 ? * MON-FRI *)", time_zone="Europe/Berlin")
    for _ in range(24 * 7):                             # a week, an hour a step
        clock.advance(3600)
        rt.run_pending()
    # 09:00 in Berlin (CET, UTC+1) on Thu 26, Fri 27, Mon 30 November, Tue 1, Wed 2 December
    assert times == ["2026-11-26T08:00:00Z", "2026-11-27T08:00:00Z", "2026-11-30T08:00:00Z",
                     "2026-12-01T08:00:00Z", "2026-12-02T08:00:00Z"]


def test_the_context_reads_the_injected_clock(clocked):
    rt, clock = clocked
    rt.register("slow", lambda event, context: (clock.advance(1.25),
                                                context.get_remaining_time_in_millis())[1],
                timeout_ms=3000)
    assert rt.invoke("slow") == 1750


def test_bad_schedules(rt):
    rt.register("f", lambda event, context: None)
    with pytest.raises(faas.InvalidArgument) as info:
        rt.schedule("f", "rate(5 minute)")
    assert "rate" in str(info.value)
    with pytest.raises(faas.FaasError):
        rt.schedule("f", "cron(0 9 * * ? *)", time_zone="Mars/Olympus_Mons")
    with pytest.raises(faas.NotFound):
        rt.schedule("nobody", "rate(1 minute)")


def test_schedule_next():
    assert faas.schedule_next("rate(1 hour)", THU) == THU + datetime.timedelta(hours=1)
    assert faas.schedule_next("cron(0 12 * * ? *)", THU.timestamp()) == \
        datetime.datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert faas.schedule_next("cron(0 0 1 1 ? 1999)", THU) is None    # never again
    with pytest.raises(faas.InvalidArgument):
        faas.schedule_next("cron(nonsense)")


def test_a_threaded_runtimes_schedule_stops_cleanly(rt):
    """With the timer thread: made, and removed while it is armed, without a hang."""
    rt.register("minutely", lambda event, context: None)
    sid = rt.schedule("minutely", "rate(1 minute)")
    rt.unschedule(sid)
    with pytest.raises(faas.NotFound):
        rt.unschedule(sid)
