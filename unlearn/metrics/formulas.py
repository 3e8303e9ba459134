"""The aggregate scores of an unlearning run, each from the `before` and `after` accuracies.

| name           | better | definition                                                                                  | source |
|----------------|--------|---------------------------------------------------------------------------------------------|--------|
| `score`        | higher | 100 × harmonic mean of forgetting efficacy, the retain ratio and the zero-shot ratio       | ours   |
| `paper_score`  | higher | 100 × arithmetic mean of forgetting efficacy and the ratios of retain, others and every suite | three-stage paper's Score |
| `average_gain` | lower  | 100 × mean of the forget ratio and the relative drops of retain and every suite             | space-adaptation paper's aggregate (INFERRED) |

with, each clipped to [0, 1]: forgetting efficacy 1 − after(forget)/before(forget); a ratio
after(x)/before(x); a relative drop 1 − after(x)/before(x). Our `score`'s zero-shot ratio is the
mean over the held-out suites (the retain ratio when a dataset has none); the harmonic mean
punishes failing any one of forgetting, retaining and zero-shot ability.

`paper_score` reproduces every RN50 row of the three-stage paper's Table A from the table's own
accuracies (tests/metrics/test_formulas.py): its 7 terms there are Target, Retain, ImageNet-All (our
`others`) and the CIFAR, Food, STL and ObjectNet suites. `average_gain` follows the space-adaptation
paper's description ("averages the forget-accuracy ratio after/before and the clipped relative
drops of the others"; lower is better); its published values could not be read, so the exact
formula is not pinned down by numbers. Its "others" are the retain classes and the other
datasets: for class forgetting our `others` equals `retain`, so it is counted once.
"""

from __future__ import annotations

import math


def _ratio(after: float, before: float) -> float:
    if not before or math.isnan(before) or math.isnan(after):
        return 1.0 if after >= before else 0.0
    return min(max(after / before, 0.0), 1.0)


def _suites(before: dict[str, float]) -> list[str]:
    return [k for k in before if k.startswith("zeroshot/")]


def score_components(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    suites = _suites(before)
    retain = _ratio(after["retain/acc"], before["retain/acc"])
    zeroshot = sum(_ratio(after[k], before[k]) for k in suites) / len(suites) if suites else retain
    efficacy = 1.0 - _ratio(after["forget/acc"], before["forget/acc"])
    return {"forget_efficacy": efficacy, "retain_ratio": retain, "zeroshot_ratio": zeroshot}


def score(before: dict[str, float], after: dict[str, float]) -> float:
    terms = list(score_components(before, after).values())
    if min(terms) <= 0:
        return 0.0
    return 100.0 * len(terms) / sum(1.0 / t for t in terms)


def paper_score(before: dict[str, float], after: dict[str, float]) -> float:
    kept = [k for k in ("retain/acc", "others/acc") if k in before] + _suites(before)
    terms = [1.0 - _ratio(after["forget/acc"], before["forget/acc"])] + [_ratio(after[k], before[k]) for k in kept]
    return 100.0 * sum(terms) / len(terms)


def average_gain(before: dict[str, float], after: dict[str, float]) -> float:
    kept = ["retain/acc", *_suites(before)]
    terms = [_ratio(after["forget/acc"], before["forget/acc"])] + [1.0 - _ratio(after[k], before[k]) for k in kept]
    return 100.0 * sum(terms) / len(terms)


SCORES = {"score": score, "paper_score": paper_score, "average_gain": average_gain}
