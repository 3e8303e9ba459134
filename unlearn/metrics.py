"""The `score` of an unlearning run.

score = 100 × harmonic mean of three terms, each clipped to [0, 1]:
  forgetting efficacy  1 − after(forget)/before(forget)
  retain ratio         after(retain)/before(retain)
  zero-shot ratio      mean over held-out suites of after/before (retain ratio if no suite)
A method scores high only if it forgets AND keeps both the retain set and zero-shot ability;
the harmonic mean punishes failing any one of them.
"""

from __future__ import annotations

import math


def _ratio(after: float, before: float) -> float:
    if not before or math.isnan(before) or math.isnan(after):
        return 1.0 if after >= before else 0.0
    return min(max(after / before, 0.0), 1.0)


def score_components(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    suites = [k for k in before if k.startswith("zeroshot/")]
    retain = _ratio(after["retain/acc"], before["retain/acc"])
    zeroshot = sum(_ratio(after[k], before[k]) for k in suites) / len(suites) if suites else retain
    efficacy = 1.0 - _ratio(after["forget/acc"], before["forget/acc"])
    return {"forget_efficacy": efficacy, "retain_ratio": retain, "zeroshot_ratio": zeroshot}


def score(before: dict[str, float], after: dict[str, float]) -> float:
    terms = list(score_components(before, after).values())
    if min(terms) <= 0:
        return 0.0
    return 100.0 * len(terms) / sum(1.0 / t for t in terms)

