"""space_adaptation: the pre-projection features, the empty-string target, retain names, the
λs per backbone and job shape, both solvers (closed form = the squared objective's minimiser), best-weight keeping, the
merge, and (slow) the acceptance bounds on the embedded benchmark."""

import copy
import json
import time
from types import SimpleNamespace

import pytest
from hydra.errors import ConfigCompositionException
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import DEBUG, ROOT, compose_config, read_metrics, run_cli
from tests.methods.helpers import RecordingLogger, changed, weights
from unlearn.data import build_benchmark, dataset_catalog, synthetic
from unlearn.data.catalog import preserve_names
from unlearn.data.tasks import build_task
from unlearn.errors import UnlearnError
from unlearn.evaluation import Evaluator
from unlearn.methods import METHODS
from unlearn.methods import space_adaptation as sa
from unlearn.methods.base import UnlearnContext
from unlearn.models import anatomy
from unlearn.models.backbones import build_backbone
from unlearn.models.factory import eval_transform
from unlearn.runtime import seed_everything

CPU = torch.device("cpu")


def with_linear_projection(model: nn.Module, bias: bool) -> nn.Module:
    """The model with its text projection as an nn.Linear computing the same map (plus a bias)."""
    model = copy.deepcopy(model)
    proj = model.text_projection.detach()
    linear = nn.Linear(proj.shape[0], proj.shape[1], bias=bias)
    with torch.no_grad():
        linear.weight.copy_(proj.T)
        if bias:
            linear.bias.normal_(0, 0.1)
    del model.text_projection
    model.text_projection = linear
    return model


# --- the text tower ---------------------------------------------------------------------------

def test_pre_projection_features_reproduce_encode_text(method_ctx):
    ctx = method_ctx("space_adaptation")
    tokens = ctx.tokenizer(["", "circle", "a photo of a red circle.", "an image of a striped bar."])
    with torch.no_grad():
        h = anatomy.pre_projection_features(ctx.model, tokens)
        assert h.shape == (4, ctx.model.text_projection.shape[0])
        assert torch.equal(h @ ctx.model.text_projection, ctx.model.encode_text(tokens))
        linear = with_linear_projection(ctx.model, bias=True)
        assert anatomy.projection_name(linear) == "text_projection.weight"
        assert torch.allclose(anatomy.project(linear, anatomy.pre_projection_features(linear, tokens)),
                              linear.encode_text(tokens), atol=1e-6)
        M, b = anatomy.projection_matrix(linear)
        assert torch.allclose(h @ M + b, linear.encode_text(tokens), atol=1e-5)


# --- the target -------------------------------------------------------------------------------

@torch.no_grad()
def _empty_and_classes(ctx) -> tuple[torch.Tensor, torch.Tensor]:
    """The unit embeddings of the empty string and of each bare class name."""
    empty = F.normalize(ctx.model.encode_text(ctx.tokenizer([""]))[0], dim=-1)
    return empty, F.normalize(ctx.model.encode_text(ctx.tokenizer(ctx.bench.classnames)), dim=-1)


def test_target_is_the_normalised_empty_string_embedding(method_ctx):
    ctx = method_ctx("space_adaptation")
    names = ctx.bench.classnames
    empty, classes = _empty_and_classes(ctx)
    with torch.no_grad():
        farthest = int((classes @ empty).argmin())
        target, draws = sa.empty_target(ctx.model, ctx.tokenizer, names, [farthest], torch.Generator().manual_seed(0),
                                        0.5, 10, CPU)
    assert draws == 0 and torch.allclose(target, empty)


def test_target_nearest_to_a_forget_class_is_moved_by_noise(method_ctx):
    """Constructed case: forget exactly the class whose bare name is nearest to the empty string."""
    ctx = method_ctx("space_adaptation")
    names = ctx.bench.classnames
    empty, classes = _empty_and_classes(ctx)
    with torch.no_grad():
        nearest = int((classes @ empty).argmax())
        runs = [sa.empty_target(ctx.model, ctx.tokenizer, names, [nearest], torch.Generator().manual_seed(3), 0.5,
                                100, CPU) for _ in range(2)]
    (target, draws), (again, _) = runs
    assert draws >= 1 and torch.equal(target, again)  # seeded
    assert int((classes @ target).argmax()) != nearest
    assert torch.isclose(target.norm(), torch.tensor(1.0)) and not torch.allclose(target, empty)


def test_target_that_never_leaves_the_forget_classes_fails_clearly(method_ctx):
    ctx = method_ctx("space_adaptation")
    every = list(range(len(ctx.bench.classnames)))
    with torch.no_grad(), pytest.raises(UnlearnError, match="after 5 noise draws"):
        sa.empty_target(ctx.model, ctx.tokenizer, ctx.bench.classnames, every, torch.Generator(), 0.5, 5, CPU)


def test_orthogonal_target_has_no_component_along_the_forget_prompts(method_ctx):
    ctx = method_ctx("space_adaptation")
    with torch.no_grad():
        remove = ctx.model.encode_text(ctx.tokenizer(["circle", "a photo of a circle."]))
        target, _ = sa.empty_target(ctx.model, ctx.tokenizer, ctx.bench.classnames, [0], torch.Generator(), 0.5, 10,
                                    CPU, remove)
    assert torch.allclose(remove @ target, torch.zeros(2), atol=1e-4)


# --- retain names -----------------------------------------------------------------------------

def test_retain_names_are_cleaned():
    names = ["Square", "square ", "Circle", "red square", "star", "circle", "", "STAR"]
    assert sa.clean_retain_names(names, ["circle", "star"]) == ["Square", "red square"]


def test_retain_names_from_files(tmp_path):
    (tmp_path / "names.json").write_text(json.dumps(["poodle", "Poodle", "beagle", "pekinese"]))
    (tmp_path / "names.txt").write_text("# similar dogs\npoodle\n\nbeagle\n  pekinese  \nbeagle\n")
    for file in ("names.json", "names.txt"):
        loaded = sa.load_names(str(tmp_path / file))
        assert sa.clean_retain_names(loaded, ["Pekinese"]) == ["poodle", "beagle"]
    assert sa.load_names(["a", "b"]) == ["a", "b"]
    with pytest.raises(UnlearnError, match="no file"):
        sa.load_names(str(tmp_path / "missing.txt"))
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(UnlearnError, match="JSON list"):
        sa.load_names(str(tmp_path / "bad.json"))


def bench(name: str, classnames: list[str], preserve: list[str] = ()) -> SimpleNamespace:
    return SimpleNamespace(name=name, classnames=classnames, preserve_names=list(preserve))


def test_synthetic_retain_names_come_from_the_world_without_the_forget_classes():
    forget = ["star", "heart", "arrow"]
    names = sa.default_retain_names(bench("synthetic", list(synthetic.SHAPES)), forget)
    assert not any(f in name.split() for name in names for f in forget)
    assert {"square", "red square", "striped square"} <= set(names)
    held_out = set(synthetic.HELDOUT_COLOURS) | {synthetic.HELDOUT_STYLE}
    assert not any(word in held_out for name in names for word in name.split())
    assert len(names) == len(set(names))
    assert sa.default_retain_names(bench("cifar10", ["cat", "dog", "ship"]), ["cat"]) == ["dog", "ship"]


def test_a_datasets_shipped_near_neighbours_are_the_default_retain_names():
    dogs = bench("stanford_dogs", ["Pekinese", "beagle"], preserve_names("stanford_dogs"))
    names = sa.clean_retain_names(sa.default_retain_names(dogs, ["Pekinese"]), ["Pekinese"])
    assert 90 <= len(names) <= 110 and "Pekinese" not in names and "Shih-Tzu" in names


@pytest.mark.parametrize("dataset", ["stanford_dogs", "stanford_cars", "caltech101", "flowers102"])
def test_preserve_lists_are_near_neighbours_inside_and_outside_the_dataset(dataset):
    cfg = compose_config(f"dataset={dataset}")
    names = preserve_names(cfg.dataset.preserve_names)
    classes = {c.lower() for c in dataset_catalog(cfg.dataset).classnames}
    inside = sum(n.lower() in classes for n in names)
    assert 90 <= len(names) <= 110 and len({n.lower() for n in names}) == len(names)
    assert 20 <= inside <= len(names) - 40, inside  # some of the dataset's own classes, mostly outside names
    with pytest.raises(UnlearnError, match="valid: caltech101, flowers102, stanford_cars, stanford_dogs"):
        preserve_names("stanford_dog")


def test_retain_names_option_is_used_and_cleaned(method_ctx, tmp_path):
    (tmp_path / "retain.txt").write_text("square\nSquare\ncircle\ntriangle\n")
    ctx = method_ctx("space_adaptation", retain_names=str(tmp_path / "retain.txt"), solver="closed_form")
    ctx.logger = RecordingLogger()
    METHODS.get("space_adaptation").run(ctx)
    assert ctx.logger.summaries["space_adaptation/retain_names"] == 2  # circle is the forget class


# --- templates --------------------------------------------------------------------------------

DATASETS = sorted(p.stem for p in (ROOT / "conf" / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("dataset", DATASETS)
def test_training_and_evaluation_templates_are_disjoint(dataset):
    cfg = compose_config(f"dataset={dataset}", "logger=none").dataset
    if dataset == "synthetic":
        assert cfg.train_templates
    assert not set(cfg.train_templates) & set(cfg.templates)


def test_template_prompts(method_ctx):
    bench = method_ctx("space_adaptation").bench
    assert sa.prompt_templates("bare", bench) == ["{}"]
    assert sa.prompt_templates("templates", bench) == ["{}", *bench.train_templates]
    assert not set(sa.prompt_templates("templates", bench)) & set(bench.templates)


# --- the λs per backbone, dataset and job shape ------------------------------------------------------------------------------

@pytest.mark.parametrize("backbone, dataset, forget, solver, expected", [
    ("rn50", "stanford_cars", 1, "gradient", (1.3, 0.4)),
    ("rn50", "flowers102", 3, "gradient", (1.1, 0.3)),
    ("vit_b16", "stanford_cars", 1, "gradient", (1.3, 0.25)),
    ("vit_b16", "caltech101", 1, "gradient", (1.1, 0.3)),
    ("vit_b16", "stanford_dogs", 3, "gradient", (1.0, 0.35)),
    ("vit_b16", "flowers102", 3, "gradient", (1.1, 0.25)),
    ("vit_b16", "cifar10", 1, "gradient", (1.3, 0.3)),  # no dataset file: the backbone's
    ("vit_l14", "cifar10", 1, "gradient", (1.3, 0.4)),  # no backbone file: the method's own
    ("tiny_rn", "synthetic", 1, "gradient", (10.0, 2.0)),
    ("tiny_vit", "synthetic", 3, "gradient", (10.0, 2.0)),
    ("tiny_vit", "synthetic", 3, "closed_form", (20.0, 2.0)),
])
def test_defaults_per_backbone_dataset_and_job_shape(backbone, dataset, forget, solver, expected):
    cfg = compose_config("method=space_adaptation", f"backbone={backbone}", f"dataset={dataset}",
                         f"method.solver={solver}", "logger=none").method
    settings = sa.resolve_settings(cfg, forget)
    assert (settings["lambda_forget"], settings["lambda_preserve"]) == expected
    assert settings["lambda_weight"] == 1.0 and settings["mode"] == ("multi" if forget > 1 else "single")
    tiny = backbone.startswith("tiny")
    assert settings["forget_prompts"] == ("templates" if tiny else "bare")
    assert settings["target"] == ("orthogonal" if tiny else "empty")


def test_explicit_values_beat_the_defaults():
    cfg = compose_config("method=space_adaptation", "method.lambda_forget=2.5", "method.forget_prompts=bare",
                         "method.target=empty", "method.solver=closed_form", "logger=none").method
    for forget in (1, 3):
        settings = sa.resolve_settings(cfg, forget)
        assert settings["lambda_forget"] == 2.5 and settings["lambda_preserve"] == 2.0
        assert settings["forget_prompts"] == "bare" and settings["target"] == "empty"


def test_a_setting_null_everywhere_and_an_unknown_key_fail_clearly():
    cfg = compose_config("method=space_adaptation", "method.single.lambda_preserve=null", "logger=none").method
    with pytest.raises(UnlearnError, match="method.lambda_preserve and method.single.lambda_preserve are null"):
        sa.resolve_settings(cfg, 1)
    assert sa.resolve_settings(cfg, 2)["lambda_preserve"] == 2.0  # multi keeps tiny_rn's own
    with pytest.raises(ConfigCompositionException, match="lambda_forgot"):
        compose_config("method=space_adaptation", "method.multi.lambda_forgot=1.0", "logger=none")


@pytest.mark.parametrize("option, value, message", [
    ("towers", "image", "method.towers=image: space_adaptation edits the text projection only; valid: text"),
    ("closed_form_rank", 0, "method.closed_form_rank=0 must be null or at least 1"),
    ("min_forget_drop", 1.5, r"method.min_forget_drop=1.5 is outside \[0, 1\)"),
])
def test_bad_option_values_are_rejected(method_ctx, option, value, message):
    with pytest.raises(UnlearnError, match=message):
        METHODS.get("space_adaptation").run(method_ctx("space_adaptation", **{option: value}))


# --- the solvers ------------------------------------------------------------------------------

def small_problem(seed=0, n_f=3, n_r=40, width=12, dim=8):
    g = torch.Generator().manual_seed(seed)
    target = F.normalize(torch.randn(dim, generator=g, dtype=torch.float64), dim=0).expand(n_f, -1).clone()
    return (sa.Problem(torch.randn(n_f, width, generator=g, dtype=torch.float64),
                       torch.randn(n_r, width, generator=g, dtype=torch.float64), target, 20.0, 2.0, 1.0),
            torch.randn(width, dim, generator=g, dtype=torch.float64) * 0.3,
            torch.randn(dim, generator=g, dtype=torch.float64) * 0.1)


def test_closed_form_is_the_minimiser_of_the_squared_objective():
    problem, M, bias = small_problem()
    exact = sa.ridge_delta(M, bias, problem)
    delta = torch.zeros_like(M, requires_grad=True)
    opt = torch.optim.LBFGS([delta], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sa.squared_objective(problem, M, bias, delta)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert torch.allclose(delta.detach(), exact, atol=1e-6)
    found = sa.squared_objective(problem, M, bias, delta.detach())
    assert sa.squared_objective(problem, M, bias, exact) <= found + 1e-9


def test_closed_form_rank_r_is_the_best_rank_r_solution():
    problem, M, bias = small_problem(n_f=6)
    full = sa.ridge_delta(M, bias, problem)
    assert torch.linalg.matrix_rank(full) <= 6  # rank ≤ number of forget prompts
    low = sa.ridge_delta(M, bias, problem, rank=2)
    assert torch.linalg.matrix_rank(low) == 2
    u, s, vh = torch.linalg.svd(full)
    naive = (u[:, :2] * s[:2]) @ vh[:2]  # plain truncation of the full solution
    objective = lambda d: sa.squared_objective(problem, M, bias, d).item()  # noqa: E731
    assert objective(full) <= objective(low) < objective(naive)
    assert torch.allclose(sa.ridge_delta(M, bias, problem, rank=6), full, atol=1e-8)


@pytest.mark.parametrize("solver", ["gradient", "closed_form"])
def test_only_the_text_projection_changes(method_ctx, solver):
    ctx = method_ctx("space_adaptation", solver=solver, max_steps=20)
    before = weights(ctx.model)
    METHODS.get("space_adaptation").run(ctx)
    after = weights(ctx.model)
    assert set(after) == set(before) and changed(before, after) == {"text_projection"}
    assert not any(p.requires_grad for p in ctx.model.parameters())


@pytest.mark.parametrize("solver", ["gradient", "closed_form"])
def test_linear_text_projection_is_handled(method_ctx, solver):
    ctx = method_ctx("space_adaptation", solver=solver, max_steps=20)
    ctx.model = with_linear_projection(ctx.model, bias=True)
    before = weights(ctx.model)
    METHODS.get("space_adaptation").run(ctx)
    after = weights(ctx.model)
    assert set(after) == set(before) and changed(before, after) == {"text_projection.weight"}


def test_merged_model_equals_the_adapted_one(method_ctx, monkeypatch):
    ctx = method_ctx("space_adaptation", max_steps=30)
    tokens = ctx.tokenizer(["a picture of a circle.", "an image of a square.", "star"])
    with torch.no_grad():
        seen = {"original": ctx.model.encode_text(tokens)}

    def checked_merge(model):
        with torch.no_grad():
            seen["adapted"] = model.encode_text(tokens)
        sa_merge(model)
        with torch.no_grad():
            seen["merged"] = model.encode_text(tokens)

    sa_merge = sa.merge_lora
    monkeypatch.setattr(sa, "merge_lora", checked_merge)
    METHODS.get("space_adaptation").run(ctx)
    assert torch.allclose(seen["adapted"], seen["merged"], atol=1e-6)
    assert not torch.allclose(seen["merged"], seen["original"], atol=1e-3)
    assert not any("parametrizations" in k for k in ctx.model.state_dict())


def final_loss(ctx, original: nn.Module, problem_inputs) -> float:
    """The paper's loss of the merged model, from its projection's change ΔP = s B A."""
    h_f, h_r, target, lf, lp, lw = problem_inputs
    P0, P1 = original.text_projection.detach(), ctx.model.text_projection.detach()
    scale = ctx.cfg.lora_alpha / ctx.cfg.lora_rank
    return (lf * torch.linalg.matrix_norm(target - h_f @ P1) + lp * torch.linalg.matrix_norm(h_r @ (P1 - P0))
            + lw * torch.linalg.matrix_norm(P1 - P0) / scale).item()


def test_gradient_keeps_the_best_weights_not_the_last(method_ctx):
    # a large learning rate makes Adam overshoot: the last step is not the best one
    ctx = method_ctx("space_adaptation", lr=0.2, steps=40, max_steps="null", min_forget_drop=0.0,
                     retain_names="[square,triangle]", forget_prompts="bare", target="empty",
                     lambda_forget=1.3, lambda_preserve=0.4)
    ctx.logger = RecordingLogger()
    original = copy.deepcopy(ctx.model)
    seed_everything(0)  # the adapter's init
    METHODS.get("space_adaptation").run(ctx)
    losses = [s["space_adaptation/loss"] for s in ctx.logger.steps]
    assert len(losses) == 40 and losses[-1] > min(losses) * 1.01, losses
    with torch.no_grad():
        settings = sa.resolve_settings(ctx.cfg, 1)
        h_f = anatomy.encode_pre_projection(original, ctx.tokenizer, ["circle"], CPU)
        h_r = anatomy.encode_pre_projection(original, ctx.tokenizer, ["square", "triangle"], CPU)
        target, _ = sa.empty_target(original, ctx.tokenizer, ctx.bench.classnames, ctx.task.forget_classes,
                                    torch.Generator().manual_seed(ctx.seed), 0.5, 100, CPU)
        loss = final_loss(ctx, original, (h_f, h_r, target[None], settings["lambda_forget"],
                                          settings["lambda_preserve"], settings["lambda_weight"]))
    assert loss == pytest.approx(min(losses), abs=1e-4)  # the best step's weights, merged


def test_retries_raise_lambda_forget_until_the_budget(method_ctx):
    """Two steps per run (debug cap) never reach a 99 % drop: every retry runs, λ_forget grows."""
    ctx = method_ctx("space_adaptation", min_forget_drop=0.99, max_retries=3, lambda_forget=1.0)
    ctx.logger = RecordingLogger()
    METHODS.get("space_adaptation").run(ctx)
    assert ctx.logger.summaries["space_adaptation/retries"] == 3
    assert ctx.logger.summaries["space_adaptation/lambda_forget"] == pytest.approx(1.15)
    assert [s["space_adaptation/attempt"] for s in ctx.logger.steps] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_closed_form_retries_stop_once_the_drop_is_reached(method_ctx):
    ctx = method_ctx("space_adaptation", solver="closed_form", lambda_forget=0.01, lambda_preserve=2.0,
                     min_forget_drop=0.3, forget_step=0.5)
    ctx.logger = RecordingLogger()
    METHODS.get("space_adaptation").run(ctx)
    retries = ctx.logger.summaries["space_adaptation/retries"]
    assert 1 <= retries < 100 and ctx.logger.summaries["space_adaptation/forget_drop"] >= 0.3
    assert ctx.logger.summaries["space_adaptation/lambda_forget"] == pytest.approx(0.01 + 0.5 * retries)


def test_closed_form_is_fast_and_low_rank(method_ctx):
    ctx = method_ctx("space_adaptation", solver="closed_form")
    P0 = ctx.model.text_projection.detach().clone()
    start = time.perf_counter()
    METHODS.get("space_adaptation").run(ctx)
    assert time.perf_counter() - start < 1.0
    # one forget class, bare name + 2 training templates: ΔP has rank ≤ 3
    assert torch.linalg.matrix_rank(ctx.model.text_projection.detach() - P0) <= 3


# --- end to end -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def acceptance_setting():
    """(benchmark, task, tokenizer, model, evaluator, before) per backbone × forget preset, built once."""
    cache = {}

    def get(backbone: str, forget: str):
        if (backbone, forget) not in cache:
            cfg = compose_config("logger=none", f"backbone={backbone}", f"forget={forget}")
            model, tokenizer = build_backbone(cfg.backbone)
            bench = build_benchmark(cfg.dataset, transform=eval_transform(model))
            task = build_task(bench, cfg.forget, cfg.task, cfg.seed)
            evaluate = Evaluator(bench, task, tokenizer, CPU, cfg.eval.batch_size)
            cache[backbone, forget] = (bench, task, tokenizer, model, evaluate, evaluate(model)[0])
        return cache[backbone, forget]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("forget", ["synthetic_class_circle", "synthetic_class_star_heart_arrow"])
@pytest.mark.parametrize("backbone", ["tiny_rn", "tiny_vit"])
def test_acceptance_on_the_embedded_benchmark(acceptance_setting, backbone, forget):
    """Both solvers, training templates (the tiny backbones' table default): the forgotten classes
    at ≤ 5 %, retain / others / every held-out suite at ≥ 95 % of before; gradient < 30 s,
    closed form < 1 s."""
    bench, task, tokenizer, base, evaluate, before = acceptance_setting(backbone, forget)
    for solver, budget in (("gradient", 30.0), ("closed_form", 1.0)):
        model = copy.deepcopy(base)
        cfg = compose_config("logger=none", f"backbone={backbone}", f"forget={forget}", "method=space_adaptation",
                             f"method.solver={solver}").method
        ctx = UnlearnContext(model=model, tokenizer=tokenizer, bench=bench, task=task, cfg=cfg, device=CPU, seed=0,
                             logger=RecordingLogger(), evaluate=evaluate, backbone=backbone)
        seed_everything(0)
        start = time.perf_counter()
        METHODS.get("space_adaptation").run(ctx)
        elapsed = time.perf_counter() - start
        after = evaluate(model)[0]
        assert ctx.logger.summaries["space_adaptation/forget_prompts"] == "templates"
        assert elapsed < budget, (solver, elapsed)
        assert after["forget/acc"] <= 0.05, (solver, after)
        kept = [k for k in before if k != "forget/acc"]
        assert any(k.startswith("zeroshot/") for k in kept)
        for key in kept:
            assert after[key] >= 0.95 * before[key], (solver, key, before[key], after[key])


@pytest.mark.slow
def test_cli_job_uses_the_backbone_row_of_the_table(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(f"hydra.run.dir={run_dir}", "logger=none", "method=space_adaptation", "backbone=tiny_vit",
                   "forget=synthetic_class_star_heart_arrow", "method.solver=closed_form", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    assert metrics["after"]["forget/acc"] <= 0.05 and metrics["time/unlearn_s"] < 1.0
    assert "multi mode" in (run_dir / "unlearn.log").read_text()
    assert "λ_f 20" in (run_dir / "unlearn.log").read_text()


@pytest.mark.slow
def test_debug_job_runs(cli):
    proc, run_dir = cli(*DEBUG, "method=space_adaptation", "forget=synthetic_class_circle")
    assert proc.returncode == 0, proc.stderr
    assert read_metrics(run_dir)["method"] == "space_adaptation"
