"""A per-example likelihood-ratio attack against retrained shadows (U-LiRA, adapted to concept
forgetting): can an attacker tell, image by image, a method's unlearned models from models
retrained without the forget set?

LiRA (Carlini et al. 2022, "Membership inference attacks from first principles") models a
per-example confidence statistic under two sets of shadow models with one Gaussian each and
calls a model by its likelihood ratio; Hayes et al. (2024, "Inexact unlearning needs more careful
evaluations to avoid a false sense of privacy") take the two sets to be unlearned and retrained
models (U-LiRA). Here an example is a forget test image and a model is one (pretraining seed,
seed) run; the statistic is the logit-scaled zero-shot probability of the image's true class,
`log(p / (1 − p))` (LiRA's, which makes it close to Gaussian; `true_class_confidence`).
experiments/ulira.py (`make ulira`) runs the models and writes the table.

| step | what |
|---|---|
| leave one model out | each model in turn is the attacked one; the Gaussians are fitted to all the others, less the attacked model's group (`groups`: the unlearned models of one pretraining seed, which share their original and would otherwise leak it into the fit) |
| Gaussians | per image, the mean of each set; one standard deviation per set, pooled over the images (LiRA's fixed-variance variant: with a handful of shadows a per-image spread is noise) |
| call | unlearned when its log-likelihood under the unlearned Gaussian is higher, retrained otherwise |
| per image | balanced accuracy over the held-out models: the mean of the right-call rates on unlearned and on retrained ones (50 % = indistinguishable from retraining, 100 % = always told apart) |
| overall | the mean over images, with its 95 % t interval over the images (unlearn/stats.py) |
| across models | `models_interval`: a 95 % percentile bootstrap over the models (scipy.stats.bootstrap), resampling the unlearned models' groups and the retrained models, each scored by its share of right calls over the images. The interval over images treats the models as fixed; this one asks how far another draw of models could move the accuracy (with 3 of each: far, and it says so) |
"""

from __future__ import annotations

import numpy as np
import torch

from unlearn.data.base import ImageSet
from unlearn.errors import UnlearnError
from unlearn.evaluation import Evaluator
from unlearn.stats import CONFIDENCE, Estimate, estimate

MIN_SPREAD = 1e-6  # identical shadows (zero spread) still give finite likelihoods


def own_class_log_odds(logits: torch.Tensor, labels) -> torch.Tensor:
    """(N,) log(p / (1 − p)) of each row's softmax probability p of its own class, as
    z_y − logsumexp_{j≠y} z_j: that value exactly, and finite where the softmax saturates."""
    own = torch.nn.functional.one_hot(torch.as_tensor(labels), logits.shape[1]).bool().to(logits.device)
    return logits[own] - torch.logsumexp(logits.masked_fill(own, -torch.inf), dim=1)


@torch.no_grad()
def true_class_confidence(model, evaluator: Evaluator, images: ImageSet) -> np.ndarray:
    """(N,) LiRA's statistic of each image under `model`: the log-odds of the zero-shot probability
    of the image's own class, over every class of the dataset with its evaluation prompts at the
    model's logit scale."""
    was_training = model.training
    model.eval()
    head = evaluator.class_head(model, evaluator.bench.classnames, evaluator.bench.templates)
    logits = model.logit_scale.exp().float() * evaluator.image_features(model, images, "ulira") @ head.T
    statistic = own_class_log_odds(logits, images.labels)
    model.train(was_training)
    return statistic.double().cpu().numpy()


def per_image_accuracy(unlearned: np.ndarray, retrained: np.ndarray, groups=None) -> np.ndarray:
    """(N,) balanced accuracy of the attack per image, leave-one-model-out; `unlearned` is (U, N)
    and `retrained` (R, N): the statistic of N images under each model (U, R ≥ 2). `groups` (U,)
    labels the unlearned models: a held-out model's whole group leaves the fit (default: each
    model its own group)."""
    right_unlearned, right_retrained, _ = right_calls(unlearned, retrained, groups)
    return (right_unlearned.mean(axis=0) + right_retrained.mean(axis=0)) / 2


def models_interval(unlearned: np.ndarray, retrained: np.ndarray, groups=None, seed: int = 0) -> tuple[float, float]:
    """The attack accuracy's 95 % interval across models (module docstring): a percentile bootstrap
    over the unlearned groups and the retrained models, each scored by its share of right calls."""
    from scipy.stats import bootstrap

    right_unlearned, right_retrained, groups = right_calls(unlearned, retrained, groups)
    group_rates = np.array([right_unlearned[groups == g].mean() for g in np.unique(groups)])
    retrained_rates = right_retrained.mean(axis=1)
    if np.ptp(group_rates) == 0 and np.ptp(retrained_rates) == 0:  # every model alike: nothing to resample
        value = float(group_rates[0] + retrained_rates[0]) / 2
        return value, value
    found = bootstrap((group_rates, retrained_rates), lambda u, r, axis: (u.mean(axis) + r.mean(axis)) / 2,
                      vectorized=True, paired=False, method="percentile", confidence_level=CONFIDENCE,
                      n_resamples=9999, rng=np.random.default_rng(seed))
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def right_calls(unlearned, retrained, groups=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, N) and (R, N) bool, per held-out model and image, whether the attack called it right,
    and the groups (per_image_accuracy says what each argument is); bad shapes are one line."""
    unlearned, retrained = np.asarray(unlearned, dtype=float), np.asarray(retrained, dtype=float)
    if unlearned.ndim != 2 or retrained.ndim != 2 or unlearned.shape[1] != retrained.shape[1]:
        raise UnlearnError(f"U-LiRA needs (models, images) arrays over the same images; got {unlearned.shape} "
                           f"and {retrained.shape}")
    groups = np.arange(len(unlearned)) if groups is None else np.asarray(groups)
    if groups.shape != (len(unlearned),):
        raise UnlearnError(f"U-LiRA needs one group per unlearned model; got {groups.shape} for {len(unlearned)} models")
    if len(set(groups.tolist())) < 2 or len(retrained) < 2:
        raise UnlearnError(f"U-LiRA needs at least 2 models of each kind (one held out, one to fit); got "
                           f"{len(set(groups.tolist()))} groups of unlearned and {len(retrained)} retrained")
    right_unlearned = [_calls_unlearned(row, unlearned[groups != groups[i]], retrained)
                       for i, row in enumerate(unlearned)]
    right_retrained = [~_calls_unlearned(row, unlearned, np.delete(retrained, i, 0))
                       for i, row in enumerate(retrained)]
    return np.array(right_unlearned), np.array(right_retrained), groups


def attack_accuracy(unlearned: np.ndarray, retrained: np.ndarray, groups=None) -> Estimate:
    """The attack's accuracy over the images (per_image_accuracy's mean), with its interval."""
    return estimate(list(per_image_accuracy(unlearned, retrained, groups)))


def _calls_unlearned(target: np.ndarray, unlearned: np.ndarray, retrained: np.ndarray) -> np.ndarray:
    """(N,) bool: per image, whether the Gaussians fitted to the two sets call `target` unlearned."""
    return _log_likelihood(target, unlearned) > _log_likelihood(target, retrained)


def _log_likelihood(target: np.ndarray, shadows: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    spread = max(float(np.sqrt(np.mean(np.var(shadows, axis=0, ddof=1 if len(shadows) > 1 else 0)))), MIN_SPREAD)
    return norm.logpdf(target, loc=shadows.mean(axis=0), scale=spread)
