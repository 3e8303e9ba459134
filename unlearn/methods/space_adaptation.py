"""Space adaptation: zero-shot class forgetting by editing CLIP's text projection (Kravets &
Namboodiri, "Zero-shot CLIP Class Forgetting via Text-image Space Adaptation", TMLR 2025).

Text only, no images. Only the text projection P (the map from the text transformer's EOT-token
feature after ln_final into the shared space) changes, by a low-rank ΔP; both towers, ln_final
and the visual projection stay frozen. With h_f the pre-projection features of the forget class
names, h_r those of semantically similar retain names and F the normalised embedding of the empty
string (one copy per forget prompt), it minimises

    L = λ_forget ‖F − P' h_f‖ + λ_preserve ‖P h_r − P' h_r‖ + λ_weight ‖B A‖,   P' = P + s B A

(un-squared Frobenius norms, P' h_f unnormalised, s = alpha / rank) with Adam, full batch, and
merges ΔP = s B A into P at the end: the model is an ordinary CLIP of the same shape again.
If the forget term's relative drop is below `min_forget_drop`, λ_forget grows by `forget_step`
and the adapter restarts from a fresh init (at most `max_retries` times). If F's nearest class
among the dataset's bare class names is a forget class, F is redrawn from the un-normalised empty
embedding plus `target_noise` · N(0, I) (seeded) until it is not.

λ_forget, λ_preserve, λ_weight, forget_prompts and target left null come from `single` (one forget
class) or `multi` (several, all forgotten at once), with `closed_form` over either for that solver;
an explicit value always wins. The defaults below are the paper's for any backbone; per backbone and
dataset (the paper's ViT-B/16 values, ours for the tiny backbones) Hydra merges them in from
conf/tuned/space_adaptation_<backbone>.yaml and conf/tuned_dataset/space_adaptation_<backbone>_<dataset>.yaml.

Ours, not the paper's (each a config value):
- `solver=closed_form`: with squared norms the objective is a ridge regression in ΔP,
  λ_f ‖F − h_f (P + ΔP)‖² + λ_p ‖h_r ΔP‖² + λ_w ‖ΔP‖², solved exactly by one linear solve
  (< 1 s). Its ΔP has rank ≤ the number of forget prompts, so it is low-rank by itself;
  `closed_form_rank=r` gives the best rank-r solution of the same objective (a truncated SVD
  in the metric of the normal matrix). The same λ-retry rule applies. Default solver: gradient.
- `forget_prompts=templates`: the bare names plus the dataset's TRAINING templates
  (`train_templates`, disjoint from the evaluation ones) for forget and retain names alike;
  `bare` (the paper's) uses bare names only. The tiny backbones' table rows default to templates.
- `target=orthogonal`: F with the directions of the forget prompts' embeddings projected out
  (then normalised; the nearest-class check and noise still apply). In the tiny synthetic CLIPs
  the empty string's embedding sits close to every shape's images: moved onto it, a forgotten
  class still wins for many of its images (circle on tiny_rn: 100 → 99 %). Without the forget
  class's own direction it does not. `empty` (the paper's) is the default elsewhere.
- Retain names (`retain_names`: a list, or a path to a JSON list or a text file with one name a
  line): the paper used ~100 LLM-generated names per dataset, which are not public. With none
  given: the dataset's shipped near-neighbour list (`dataset.preserve_names`, ~100 names we wrote
  for each of the paper's datasets, unlearn/data/metadata/preserve_names/); on the synthetic
  world, the other shapes bare and as "<colour> <shape>" / "<style> <shape>" with the pretraining
  colours and styles (the held-out ones stay unseen: they define the zero-shot suites); on other
  datasets, their other class names. Duplicates and the forget classes (case-insensitive) are
  removed from any list.
- The best weights (lowest loss) of a run are kept, not the last; the retry rule judges them.
- The weight term is on B A as in the paper (= ‖ΔP‖ / s).
The method forgets class NAMES: with a subgroup or style forget spec it still edits the whole
class's text.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from unlearn.config.ranges import at_least, fraction, positive
from unlearn.config.schema import MethodConfig, Towers
from unlearn.data import synthetic
from unlearn.errors import UnlearnError, choices
from unlearn.io import read_name_list
from unlearn.lora import add_lora, merge_lora
from unlearn.methods import METHODS
from unlearn.models.anatomy import add_to_projection, encode_pre_projection, project, projection_matrix, projection_name
from unlearn.progress import progress
from unlearn.zeroshot import prompts

log = logging.getLogger(__name__)



class Solver(StrEnum):
    gradient = "gradient"  # the paper's: Adam on the LoRA factors, with the retry loop
    closed_form = "closed_form"  # ours: the squared objective solved exactly as a ridge regression


class ForgetPrompts(StrEnum):
    bare = "bare"  # the class name alone (the paper's)
    templates = "templates"  # plus the dataset's training templates


class Target(StrEnum):
    empty = "empty"  # the empty string's embedding (the paper's)
    orthogonal = "orthogonal"  # ours: with the forget prompts' directions removed


@dataclass
class ShapeDefaults:
    """What the method's null λs, forget prompts and target take for one shape of job."""

    lambda_forget: Optional[float] = positive(None)
    lambda_preserve: Optional[float] = at_least(0, None)
    lambda_weight: Optional[float] = at_least(0, None)
    forget_prompts: Optional[ForgetPrompts] = None
    target: Optional[Target] = None


SETTING_KEYS = tuple(f.name for f in fields(ShapeDefaults))


@dataclass
class SpaceAdaptationConfig(MethodConfig):
    towers: Towers = Towers.text  # fixed: only the text projection changes
    solver: Solver = Solver.gradient
    # null: from single / multi (and closed_form); a value here always wins
    lambda_forget: Optional[float] = positive(None)
    lambda_preserve: Optional[float] = at_least(0, None)
    lambda_weight: Optional[float] = at_least(0, None)
    forget_prompts: Optional[ForgetPrompts] = None
    target: Optional[Target] = None
    retain_names: Any = None  # list of names, or a path to a JSON list / text file; null: derived
    lora_rank: int = at_least(1, 5)
    lora_alpha: float = positive(1.0)
    lr: float = positive(0.01)
    steps: int = at_least(1, 2000)
    min_forget_drop: float = fraction(0.7, high_open=True)  # relative drop of the forget term a run must reach
    forget_step: float = positive(0.05)  # λ_forget increment per retry
    max_retries: int = at_least(0, 100)
    closed_form_rank: Optional[int] = at_least(1, None)  # null: the full (already low-rank) ridge solution
    target_noise: float = at_least(0, 0.5)  # std of the noise that moves F off a forget class
    target_tries: int = at_least(1, 100)
    # the paper's values (any backbone); conf/tuned/ merges a backbone's and a dataset's over them
    single: ShapeDefaults = field(default_factory=lambda: ShapeDefaults(1.3, 0.4, 1.0, ForgetPrompts.bare, Target.empty))
    multi: ShapeDefaults = field(default_factory=lambda: ShapeDefaults(1.1, 0.3, 1.0, ForgetPrompts.bare, Target.empty))
    closed_form: ShapeDefaults = field(default_factory=ShapeDefaults)  # over single / multi with solver=closed_form


@dataclass
class Problem:
    """The regression data: pre-projection features and the target of the forget prompts."""

    forget: torch.Tensor  # (n_f, width) h_f
    retain: torch.Tensor  # (n_r, width) h_r
    target: torch.Tensor  # (n_f, dim) F, the same unit vector in every row
    lambda_forget: float
    lambda_preserve: float
    lambda_weight: float


@METHODS.register("space_adaptation", SpaceAdaptationConfig, rank=90, forgets="whole_classes")
def space_adaptation(ctx) -> None:
    cfg, model = ctx.cfg, ctx.model
    check_choices(cfg)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    classnames = ctx.bench.classnames
    forget_names = [classnames[i] for i in ctx.task.forget_classes]
    settings = resolve_settings(cfg, len(forget_names))
    retain_names = clean_retain_names(
        load_names(cfg.retain_names) if cfg.retain_names is not None
        else default_retain_names(ctx.bench, forget_names), forget_names)
    if not retain_names:
        raise UnlearnError("space_adaptation: no retain names left after removing the forget classes; "
                           "set method.retain_names")
    templates = prompt_templates(settings["forget_prompts"], ctx.bench)
    generator = torch.Generator().manual_seed(ctx.seed)
    with torch.no_grad():
        forget_prompts = [p for name in forget_names for p in prompts(name, templates)]
        remove = (model.encode_text(ctx.tokenizer(forget_prompts).to(ctx.device)).float()
                  if settings["target"] == "orthogonal" else None)
        target, draws = empty_target(model, ctx.tokenizer, classnames, ctx.task.forget_classes, generator,
                                     cfg.target_noise, cfg.target_tries, ctx.device, remove)
        h_f = encode_pre_projection(model, ctx.tokenizer, forget_prompts, ctx.device)
        h_r = encode_pre_projection(model, ctx.tokenizer, [p for n in retain_names for p in prompts(n, templates)],
                                    ctx.device)
    problem = Problem(h_f, h_r, target.expand(len(h_f), -1).clone(), settings["lambda_forget"],
                      settings["lambda_preserve"], settings["lambda_weight"])
    log.info("space_adaptation: %s solver, %s mode, %d forget / %d retain prompts (%s), λ_f %g λ_p %g λ_w %g, "
             "%s target (noise draws %d)", cfg.solver, settings["mode"], len(h_f), len(h_r), settings["forget_prompts"],
             problem.lambda_forget, problem.lambda_preserve, problem.lambda_weight, settings["target"], draws)
    solve = solve_gradient if cfg.solver == "gradient" else solve_closed_form
    retries, drop = solve(ctx, problem)
    ctx.summary({
        "space_adaptation/retries": retries,
        "space_adaptation/lambda_forget": problem.lambda_forget,
        "space_adaptation/lambda_preserve": problem.lambda_preserve,
        "space_adaptation/lambda_weight": problem.lambda_weight,
        "space_adaptation/forget_drop": drop,
        "space_adaptation/target_draws": draws,
        "space_adaptation/retain_names": len(retain_names),
        "space_adaptation/forget_prompts": settings["forget_prompts"],
        "space_adaptation/target": settings["target"],
    })


def check_choices(cfg) -> None:
    if cfg.towers != Towers.text:
        raise UnlearnError(f"method.towers={cfg.towers}: space_adaptation edits the text projection only; valid: text")
    for key in ("lora_rank", "steps", "target_tries"):
        if cfg[key] < 1:
            raise UnlearnError(f"method.{key}={cfg[key]} must be at least 1")
    if cfg.closed_form_rank is not None and cfg.closed_form_rank < 1:
        raise UnlearnError(f"method.closed_form_rank={cfg.closed_form_rank} must be null or at least 1")
    if cfg.max_retries < 0:
        raise UnlearnError(f"method.max_retries={cfg.max_retries} must be at least 0")
    if not 0 <= cfg.min_forget_drop < 1:
        raise UnlearnError(f"method.min_forget_drop={cfg.min_forget_drop} is outside [0, 1)")


# --- hyperparameters -------------------------------------------------------------------------------

def resolve_settings(cfg, num_forget: int) -> dict[str, Any]:
    """λs, forget_prompts and target, each the first set of: the explicit value, `closed_form`'s
    (with that solver), then `multi`'s (more than one forget class) or `single`'s."""
    mode = "multi" if num_forget > 1 else "single"
    layers = [cfg, *([cfg.closed_form] if cfg.solver == "closed_form" else []), cfg[mode]]
    settings: dict[str, Any] = {"mode": mode}
    for key in SETTING_KEYS:
        value = next((layer[key] for layer in layers if layer[key] is not None), None)
        if value is None:
            raise UnlearnError(f"method.{key} and method.{mode}.{key} are null; set method.{key}=...")
        settings[key] = str(value) if key in ("forget_prompts", "target") else value
    return settings


def prompt_templates(kind: str, bench) -> list[str]:
    """The prompt forms of every forget / retain name: the bare name, plus the training templates."""
    if kind == "bare":
        return ["{}"]
    if not bench.train_templates:
        raise UnlearnError(f"method.forget_prompts=templates needs dataset.train_templates, and dataset "
                           f"{bench.name} defines none; set them or use method.forget_prompts=bare")
    overlap = set(bench.train_templates) & set(bench.templates)
    if overlap:
        raise UnlearnError(f"dataset {bench.name}: train_templates share {choices(sorted(overlap))} with the "
                           "evaluation templates; keep them disjoint")
    return ["{}", *(t for t in bench.train_templates if t != "{}")]


# --- retain names ---------------------------------------------------------------------------------

def load_names(spec) -> list[str]:
    """A list as given, or read from a path: a JSON list, or a text file with one name a line
    (blank lines and lines starting with # skipped)."""
    if not isinstance(spec, str):
        return [str(n) for n in spec]
    path = Path(spec)
    if not path.is_absolute():
        try:
            from hydra.utils import to_absolute_path

            path = Path(to_absolute_path(spec))
        except ValueError:  # outside a Hydra run
            pass
    if not path.is_file():
        raise UnlearnError(f"method.retain_names: no file {path} (give a list, a JSON list file or a text file)")
    if path.suffix == ".json":
        names = json.loads(path.read_text())
        if not isinstance(names, list):
            raise UnlearnError(f"method.retain_names: {path} must hold a JSON list of names")
        return [str(n) for n in names]
    return read_name_list(path)


def clean_retain_names(names: list[str], forget_names: list[str]) -> list[str]:
    """Stripped names, first occurrence kept (case-insensitive), forget class names removed."""
    seen = {n.strip().lower() for n in forget_names}
    out = []
    for name in names:
        name = name.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def default_retain_names(bench, forget_names: list[str]) -> list[str]:
    """Retain names when none are given (see the module docstring)."""
    if bench.preserve_names:
        return list(bench.preserve_names)
    if bench.name != "synthetic":
        return [c for c in bench.classnames if c not in forget_names]
    shapes = [s for s in synthetic.SHAPES if s not in forget_names]
    colours = [c for c in synthetic.COLOURS if c in synthetic.TRAIN_COLOURS]
    return [*shapes, *(f"{c} {s}" for s in shapes for c in colours),
            *(f"{t} {s}" for s in shapes for t in synthetic.TRAIN_STYLES)]


# --- the target ---------------------------------------------------------------------------------

def empty_target(model, tokenizer, classnames: list[str], forget_classes: list[int], generator: torch.Generator,
                 noise: float, tries: int, device: torch.device,
                 remove: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """(F, draws): the normalised embedding of the empty string, or (when its nearest bare class
    name is a forget class) that of the un-normalised one plus noise · N(0, I), redrawn until its
    nearest class is not forgotten; draws = how many noise draws that took (0: no noise).
    `remove` (k, dim): directions projected out of the embedding before normalising (target=orthogonal)."""
    raw = model.encode_text(tokenizer([""]).to(device))[0].float()
    classes = F.normalize(model.encode_text(tokenizer(list(classnames)).to(device)).float(), dim=-1)
    basis = None if remove is None else torch.linalg.qr(remove.float().T).Q  # (dim, k) orthonormal

    def finish(vector: torch.Tensor) -> torch.Tensor:
        if basis is not None:
            vector = vector - basis @ (basis.T @ vector)
        return F.normalize(vector, dim=-1)

    forget = set(forget_classes)
    for draw in range(tries + 1):
        vector = raw if not draw else raw + noise * torch.randn(raw.shape, generator=generator).to(raw)
        target = finish(vector)
        if int((classes @ target).argmax()) not in forget:
            return target, draw
    raise UnlearnError(f"space_adaptation: the empty-string target stays nearest to a forget class after "
                       f"{tries} noise draws (method.target_noise={noise}); raise method.target_noise or "
                       "method.target_tries")


# --- the objective and its solvers ----------------------------------------------------------------

def loss_terms(model, problem: Problem, anchor: torch.Tensor, adapter) -> dict[str, torch.Tensor]:
    """The paper's three weighted terms (un-squared Frobenius norms) of the adapted projection;
    anchor = P h_r of the original projection."""
    norm = torch.linalg.matrix_norm
    return {
        "forget": problem.lambda_forget * norm(problem.target - project(model, problem.forget)),
        "preserve": problem.lambda_preserve * norm(anchor - project(model, problem.retain)),
        "weight": problem.lambda_weight * norm(adapter.B @ adapter.A),
    }


def squared_objective(problem: Problem, M: torch.Tensor, bias, delta: torch.Tensor) -> torch.Tensor:
    """What the closed form minimises: λ_f ‖F − h_f (M + ΔM) − b‖² + λ_p ‖h_r ΔM‖² + λ_w ‖ΔM‖²
    (bias b: a tensor, or None / 0 for none)."""
    residual = problem.target - problem.forget @ (M + delta) - (0 if bias is None else bias)
    return (problem.lambda_forget * residual.pow(2).sum()
            + problem.lambda_preserve * (problem.retain @ delta).pow(2).sum()
            + problem.lambda_weight * delta.pow(2).sum())


def forget_residual(model, problem: Problem) -> float:
    """‖F − P h_f‖ (unweighted, un-squared) of the model's current projection."""
    with torch.no_grad():
        return torch.linalg.matrix_norm(problem.target - project(model, problem.forget)).item()


def solve_gradient(ctx, problem: Problem) -> tuple[int, float]:
    """The paper's: a rank-r adapter on P trained by Adam (best-loss weights kept), retried with a
    larger λ_forget while the forget term drops by less than min_forget_drop. Returns (retries, drop)."""
    cfg, model = ctx.cfg, ctx.model
    with torch.no_grad():
        anchor = project(model, problem.retain)
    start = forget_residual(model, problem)
    params = add_lora(model, [projection_name(model)], cfg.lora_rank, cfg.lora_alpha)
    adapter = adapter_of(model)
    retries, drop = 0, 0.0
    for attempt in range(cfg.max_retries + 1):
        if attempt:
            problem.lambda_forget += cfg.forget_step
            retries += 1
            with torch.no_grad():
                nn.init.kaiming_uniform_(adapter.A, a=math.sqrt(5))
                adapter.B.zero_()
        best = train_adapter(ctx, problem, adapter, params, anchor, attempt)
        with torch.no_grad():
            adapter.A.copy_(best[0])
            adapter.B.copy_(best[1])
        drop = 1 - forget_residual(model, problem) / start
        log.info("space_adaptation: attempt %d, λ_forget %g, forget term drop %.3f", attempt, problem.lambda_forget,
                 drop)
        if drop >= cfg.min_forget_drop:
            break
    else:
        log.warning("space_adaptation: forget term dropped by %.3f < %g after %d retries; keeping the last run",
                    drop, cfg.min_forget_drop, cfg.max_retries)
    merge_lora(model)
    return retries, drop


def adapter_of(model: nn.Module):
    name = projection_name(model)
    owner = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
    return owner.parametrizations[name.rpartition(".")[2]][0]


def train_adapter(ctx, problem: Problem, adapter, params: list[nn.Parameter], anchor: torch.Tensor,
                  attempt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One run of Adam, full batch; returns the (A, B) of the lowest loss seen (the final weights
    included)."""
    cfg, model = ctx.cfg, ctx.model
    opt = torch.optim.Adam(params, lr=cfg.lr)
    steps = ctx.steps(cfg.steps)
    best_loss, best = math.inf, None
    for step in progress(range(steps + 1), "space adaptation", unit="step"):
        parts = loss_terms(model, problem, anchor, adapter)
        loss = sum(parts.values())
        if loss.item() < best_loss:
            best_loss, best = loss.item(), (adapter.A.detach().clone(), adapter.B.detach().clone())
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ctx.log({"space_adaptation/loss": loss.item(), **{f"space_adaptation/{k}": v.item() for k, v in parts.items()},
                 "space_adaptation/attempt": attempt})
    return best


def ridge_delta(M: torch.Tensor, bias, problem: Problem, rank: int | None = None) -> torch.Tensor:
    """argmin over ΔM of λ_f ‖F − h_f (M + ΔM) − b‖² + λ_p ‖h_r ΔM‖² + λ_w ‖ΔM‖² (rows are samples),
    optionally constrained to rank ≤ `rank`; bias b a tensor, or None / 0. Computed in float64.

    Normal equations: (λ_f h_fᵀh_f + λ_p h_rᵀh_r + λ_w I) ΔM = λ_f h_fᵀ R, R = F − h_f M − b. With
    G the right-hand side and N the matrix, the objective is ‖N^½ ΔM − N^-½ G‖² + const, so the best
    rank-r ΔM is N^-½ · SVD_r(N^-½ G)."""
    hf, hr = problem.forget.double(), problem.retain.double()
    M = M.detach().double()
    residual = problem.target.double() - hf @ M - (bias.double() if torch.is_tensor(bias) else 0)
    normal = (problem.lambda_forget * hf.T @ hf + problem.lambda_preserve * hr.T @ hr
              + problem.lambda_weight * torch.eye(hf.shape[1], dtype=torch.float64, device=hf.device))
    rhs = problem.lambda_forget * hf.T @ residual
    if rank is None:
        return torch.linalg.solve(normal, rhs)
    evals, evecs = torch.linalg.eigh(normal)
    inv_sqrt = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    u, s, vh = torch.linalg.svd(inv_sqrt @ rhs, full_matrices=False)
    return inv_sqrt @ (u[:, :rank] * s[:rank]) @ vh[:rank]


def solve_closed_form(ctx, problem: Problem) -> tuple[int, float]:
    """Ours: the squared objective's exact minimiser (float64), with the same λ_forget retry rule
    on the un-squared forget term. Returns (retries, drop)."""
    cfg, model = ctx.cfg, ctx.model
    M, bias = projection_matrix(model)
    M, bias = M.detach().double(), 0 if bias is None else bias.detach().double()
    h_f, h_r, target = problem.forget.double(), problem.retain.double(), problem.target.double()
    start = torch.linalg.matrix_norm(target - h_f @ M - bias).item()
    retries = 0
    for attempt in range(cfg.max_retries + 1):
        if attempt:
            problem.lambda_forget += cfg.forget_step
            retries += 1
        data = replace(problem, forget=h_f, retain=h_r, target=target)
        delta = ridge_delta(M, bias, data, cfg.closed_form_rank)
        residual = torch.linalg.matrix_norm(target - h_f @ (M + delta) - bias).item()
        drop = 1 - residual / start
        ctx.log({"space_adaptation/forget": problem.lambda_forget * residual,
                 "space_adaptation/preserve": problem.lambda_preserve * torch.linalg.matrix_norm(h_r @ delta).item(),
                 "space_adaptation/weight": problem.lambda_weight * torch.linalg.matrix_norm(delta).item(),
                 "space_adaptation/squared_objective": squared_objective(data, M, bias, delta).item(),
                 "space_adaptation/attempt": attempt})
        log.info("space_adaptation: closed form, λ_forget %g, forget term drop %.3f, ΔP rank %d",
                 problem.lambda_forget, drop, int(torch.linalg.matrix_rank(delta)))
        if drop >= cfg.min_forget_drop:
            break
    else:
        log.warning("space_adaptation: forget term dropped by %.3f < %g after %d retries", drop,
                    cfg.min_forget_drop, cfg.max_retries)
    add_to_projection(model, delta)
    return retries, drop
