"""The typed result record (unlearn/results.py): metrics.json's layout, read and written in one place."""

from __future__ import annotations

import pytest

from unlearn.results import DEFAULT_METHOD_RANK, NotAResult, RunResult

ACC = {"forget/acc": 0.1, "retain/acc": 0.9, "others/acc": 0.8}


def legacy_metrics() -> dict:
    """metrics.json as a job wrote it before ranks, labels and summaries were recorded (audit with a reference)."""
    return {"before": dict(ACC), "after": dict(ACC), "score": 70.0, "paper_score": 80.0,
            "score_components": {"forget_efficacy": 0.5}, "stages": {}, "time/unlearn_s": 2.0, "time/eval_s": 1.0,
            "cost": {"unlearn": {"seconds": 2.0}}, "method": "grad_ascent", "forget": "f", "backbone": "tiny_rn",
            "dataset": "synthetic", "seed": 3, "audit/original/probe/forget/acc": 0.9,
            "audit/unlearned/probe/forget/acc": 0.7, "audit/reference/forget/acc": 0.0,
            "audit/reference/probe/forget/acc": 0.2, "audit/gap/probe/forget/acc": 0.5, "audit/gap/mean": 0.5,
            "audit/tow": 0.8, "config_hash": "abc"}


def test_an_earlier_versions_metrics_json_is_read_into_fields():
    result = RunResult.from_json(legacy_metrics())
    assert (result.method, result.seed, result.method_rank, result.label) == ("grad_ascent", 3, DEFAULT_METHOD_RANK,
                                                                                "grad_ascent")
    assert result.aggregates == {"score": 70.0, "paper_score": 80.0, "score_components": {"forget_efficacy": 0.5}}
    assert result.audit["unlearned"] == {"probe/forget/acc": 0.7} and result.audit["gap"]["mean"] == 0.5
    assert result.tow == 0.8 and result.unlearn_s == 2.0 and result.value("time/unlearn_s") == 2.0
    assert result.value("score") == 70.0 and result.value("forget/acc") == 0.1 and result.value("nope") is None


def test_written_as_read_key_for_key():
    data = legacy_metrics() | {"method_rank": 20, "method_label": "GA", "summary": {"grad_ascent/steps": 4},
                               "data/undecodable": {"test": 1}, "undefined": {"after/x": "nan"}}
    result = RunResult.from_json(data)
    assert result.to_json() == data and RunResult.from_json(result.to_json()) == result


@pytest.mark.parametrize("drop, named", [("score", "score"), ("seed", "seed")])
def test_a_record_without_what_every_result_has_names_it(drop, named):
    data = legacy_metrics()
    del data[drop]
    with pytest.raises(NotAResult, match=f"missing {named}"):
        RunResult.from_json(data)
    data = legacy_metrics()
    del data["after"]["retain/acc"]
    with pytest.raises(NotAResult, match="missing after/retain/acc"):
        RunResult.from_json(data)
