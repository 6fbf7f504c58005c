"""Cost, budgets and metrics through the binding: the library's price models, totals,
projections, budgets and exports, in integer pico-dollars."""

import json

import pytest

import faas


def test_price_models_are_the_librarys_presets():
    models = {m.name: m for m in faas.price_models()}
    aws = models["aws-lambda-x86"]
    assert isinstance(aws, faas.PriceModel)
    assert aws.request_picousd == 200000          # $0.20 per million requests
    assert aws.gbs_picousd == 16666700            # $0.0000166667 per GB-second
    assert "aws-lambda-arm64" in models


def test_format_usd():
    assert faas.format_usd(1200002000000) == "$1.200002"
    assert faas.format_usd(202083) == "$0.000000202083"
    assert faas.format_usd(200000000000) == "$0.20"
    assert faas.format_usd(1995000000000, 2) == "$2.00"


def test_cost_totals_add_up_the_records(rt):
    records = []
    rt.on_record(records.append)
    rt.register("a", lambda e, c: 1, memory_mb=256, tag="team-a")
    rt.register("b", lambda e, c: 2, tag="team-b")
    for _ in range(5):
        rt.invoke("a")
        rt.invoke("b")
    by_fn = {r.name: r for r in rt.cost_totals("function")}
    assert set(by_fn) == {"a", "b"}
    assert all(isinstance(r, faas.CostRow) and r.group == "function" for r in by_fn.values())
    assert by_fn["a"].calls == 5
    assert by_fn["a"].total_picousd == sum(r.cost_picousd for r in records if r.function == "a")
    (total,) = rt.cost_totals("total")
    assert total.group == "total" and total.name is None
    assert total.total_picousd == rt.stats().cost_picousd
    assert {r.name for r in rt.cost_totals("tag")} == {"team-a", "team-b"}
    with pytest.raises(ValueError):
        rt.cost_totals("tenant")


def test_a_projection_per_model(rt):
    records = []
    rt.on_record(records.append)
    rt.register("f", lambda e, c: None, memory_mb=512)
    for _ in range(10):
        rt.invoke("f")
    rows = faas.cost_compare(records, monthly_calls=10000000,
                             models=["aws-lambda-x86", "aws-lambda-arm64"])
    totals = [r for r in rows if r.group == "total"]
    assert [r.model for r in totals] == ["aws-lambda-x86", "aws-lambda-arm64"]
    assert all(r.calls == 10000000 for r in totals)
    # The free tier comes off the totals only (1M requests and 400,000 GB-s on AWS).
    assert totals[0].free_picousd > 0
    fn_rows = [r for r in rows if r.group == "function"]
    assert [(r.model, r.name) for r in fn_rows] == [("aws-lambda-x86", "f"),
                                                   ("aws-lambda-arm64", "f")]
    assert fn_rows[1].compute_picousd < fn_rows[0].compute_picousd   # arm64 is cheaper
    assert len(faas.cost_compare(records)) >= len(faas.price_models())
    with pytest.raises(faas.InvalidArgument):
        faas.cost_compare(records, models=["no-such-cloud"])


def test_a_budget_stops_a_tag(rt):
    rt.register("tenant", lambda e, c: "ok", tag="tenant-1")
    rt.set_budget("tenant-1", 1)                  # one pico-dollar: the first call crosses it
    assert rt.invoke("tenant") == "ok"
    with pytest.raises(faas.BudgetExceeded) as info:
        rt.invoke("tenant")
    assert info.value.code == "EBUDGET"
    b = rt.budget("tenant-1")
    assert isinstance(b, faas.Budget)
    assert (b.limit_picousd, b.refusals) == (1, 1) and b.spent_picousd > 1
    assert rt.stats("tenant").budget_refusals == 1
    rt.remove_budget("tenant-1")
    assert rt.invoke("tenant") == "ok"
    with pytest.raises(faas.NotFound):
        rt.budget("tenant-1")


def test_metrics_export(rt):
    rt.register("m", lambda e, c: 1)
    rt.invoke("m")
    m = rt.metrics()
    assert m["price_model"] == "aws-lambda-x86"
    assert json.dumps(m)                          # plain JSON data
    text = rt.metrics_prometheus()
    assert "# TYPE faas_invocations_total counter" in text
    assert 'function="m"' in text


def test_a_record_as_json(rt):
    records = []
    rt.on_record(records.append)
    rt.register("r", lambda e, c: 1, tag="x")
    rt.invoke("r")
    line = json.loads(records[0].json())
    assert line["request_id"] == records[0].request_id
    assert (line["function"], line["tag"], line["status"]) == ("r", "x", 0)
