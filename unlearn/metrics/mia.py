"""`mia`: membership inference as in SalUn (Fan et al., ICLR 2024; Jia et al., NeurIPS 2023). Each
image becomes three numbers from the zero-shot head's softmax (the dataset's evaluation prompts):
the probability of its class, the entropy, and the modified entropy (Song & Mittal 2021). An RBF
SVM (scikit-learn, C = 3 as in the reference code) learns to tell members (the retain training
images, which unlearning trains on) from non-members (retain test images), balanced, and is
applied to the forget training images: `mia/efficacy` = the share it calls non-members (higher:
the forget images look never seen). Population attacks like this one overstate privacy (Hayes et
al. 2024 argue for per-example attacks with shadow models); read it as a coarse signal.

The attack's power is stated beside it: `mia/power` = the same classifier's ROC AUC at telling
held-out members from non-members (stratified 5-fold cross-validation, seeded; 0.5 = chance). Where
the model does not treat its training images differently (the tiny CLIPs do not overfit them), the
classifier learns nothing about membership and what it calls a forget image says nothing either:
below `min_power` the efficacy is null, with the power in its reason under `undefined`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from unlearn.config.ranges import at_least, fraction, positive
from unlearn.config.schema import MetricConfig
from unlearn.metrics import METRICS
from unlearn.metrics.base import features, head
from unlearn.results import Undefined


@dataclass
class MiaConfig(MetricConfig):
    c: float = positive(3.0)  # the SVM's C
    max_images: int = at_least(10, 1000)  # members and non-members each, at most
    min_power: float = fraction(0.6)  # the attack's cross-validated AUC below which efficacy is null


@METRICS.register("mia", MiaConfig)
def mia(mctx, model, cfg) -> dict[str, float | None]:
    emb = head(model, mctx, mctx.bench.templates)
    scale = float(model.logit_scale.detach().exp())

    def signals(images) -> np.ndarray:
        return confidence_features(scale * features(model, images, mctx) @ emb.T, images.labels)

    rng = mctx.rng(stream=4)
    members, non_members = mctx.task.retain_train, mctx.test_part("retain")
    n = min(len(members), len(non_members), cfg.max_images)
    members = members.subset(np.sort(rng.permutation(len(members))[:n]))
    non_members = non_members.subset(np.sort(rng.permutation(len(non_members))[:n]))
    if n < 2:
        reason = Undefined(f"{n} held-out member(s) and non-member(s): too few to train and test the attack")
        return {"mia/efficacy": reason, "mia/power": reason}
    member_signals, non_member_signals = signals(members), signals(non_members)
    power = attack_power(member_signals, non_member_signals, cfg.c, mctx.seed)
    if power < cfg.min_power:
        efficacy = Undefined(f"the attack tells held-out members from non-members with AUC {power:.3f}, below "
                             f"metric.mia.min_power={cfg.min_power}: it has no power on this model")
    else:
        efficacy = membership_efficacy(member_signals, non_member_signals, signals(mctx.task.forget_train), cfg.c)
    return {"mia/efficacy": efficacy, "mia/power": power}


def confidence_features(logits: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """(N, 3): probability of the true class, entropy, modified entropy."""
    p = torch.softmax(logits.double(), dim=1).cpu().numpy()
    rows = np.arange(len(labels))
    true = p[rows, labels]
    log = np.log(np.clip(p, 1e-30, None))
    entropy = -(p * log).sum(1)
    others = p.copy()
    others[rows, labels] = 0.0
    modified = -(1 - true) * np.log(np.clip(true, 1e-30, None)) - (others * np.log(np.clip(1 - others, 1e-30, None))).sum(1)
    return np.stack([true, entropy, modified], axis=1)


def _attack(c: float):
    from sklearn.pipeline import make_pipeline  # here: every job registers this module, few run it
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    return make_pipeline(StandardScaler(), SVC(C=c, kernel="rbf", gamma="scale"))


def _labelled(members: np.ndarray, non_members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([members, non_members]),
            np.concatenate([np.ones(len(members)), np.zeros(len(non_members))]))


def attack_power(members: np.ndarray, non_members: np.ndarray, c: float, seed: int) -> float:
    """The attack's ROC AUC on held-out members vs non-members, mean over stratified folds (5, or
    as many as the smaller side has images)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x, y = _labelled(members, non_members)
    folds = StratifiedKFold(n_splits=min(5, len(members), len(non_members)), shuffle=True, random_state=seed)
    return float(cross_val_score(_attack(c), x, y, cv=folds, scoring="roc_auc").mean())


def membership_efficacy(members: np.ndarray, non_members: np.ndarray, targets: np.ndarray, c: float) -> float:
    """Share of `targets` a classifier trained on members (1) vs non-members (0) calls non-members."""
    classifier = _attack(c)
    classifier.fit(*_labelled(members, non_members))
    return float(1.0 - classifier.predict(targets).mean())
