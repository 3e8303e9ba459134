"""Metrics: every number a run reports about a model, one module per metric, registered by name
with a dataclass config and a `conf/metric/<name>.yaml`, like the methods.

| name | kind | keys it writes | what it measures | source |
|---|---|---|---|---|
| `zeroshot` | model | `forget/acc`, `retain/acc`, `others/acc`, `zeroshot/<suite>/acc` | zero-shot top-1 accuracy with the dataset's evaluation prompts | CLIP |
| `scores` | aggregate | `score`, `paper_score`, `average_gain`, `score_components` | the run's scores from before and after (formulas.py) | ours; the papers' |
| `relearn` | model | `relearn/<k>/{forget,others}/acc`, `relearn/mean/forget/acc`, `relearn/steps_to_half` | accuracy after k fine-tuning steps on a few forget images | relearning attacks |
| `probe` | model | `probe/{forget,retain}/acc` | a linear probe on frozen image features | linear probing (CLIP_benchmark) |
| `mia` | model | `mia/efficacy`, `mia/power` | share of forget training images a membership classifier calls non-members (null below `min_power`), and the classifier's held-out AUC | SalUn (Fan et al. 2024) |
| `prompts` | model | `prompts/<set>/{forget,retain}/acc` | zero-shot accuracy under other prompts: paraphrases, the forgotten attribute named | ours |

Where they run: each config node of metrics is one suite (suite.py). `eval.metrics` (zeroshot and
scores) measure the original model (`before`) and the unlearned one (`after`), and aggregates
combine the two; `audit.metrics` (`audit=standard`) measure the original, the unlearned and a
reference model into `audit/<model>/<key>` (unlearn/audit.py).

A model metric is `run(mctx: MetricContext, model, cfg) -> {key: number or None}` (base.py); an
aggregate, registered with `aggregate=True`, is `run(before, after, cfg) -> {key: value}`; either
may declare `needs=` (metrics of its suite whose keys it reads) and `keys=` (keys an `objective`
may name), which the suite checks before any work. Adding
one is a module here (`@METRICS.register("my_metric", MyMetricConfig)`) and a
`conf/metric/my_metric.yaml`; select it with `+metric@eval.metrics.my_metric=my_metric`, or list it
in an audit preset. Neither the evaluator nor run.py changes.
"""

from unlearn.registry import Registry

METRICS = Registry("metric", __name__)

# the scores are torch-free: the report and the config schema import them without the registry
from unlearn.config.schema import Objective  # noqa: E402
from unlearn.metrics.formulas import SCORES, average_gain, paper_score, score, score_components  # noqa: E402

__all__ = ["METRICS", "SCORES", "Objective", "average_gain", "paper_score", "score", "score_components"]
