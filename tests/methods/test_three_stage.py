"""three_stage: end to end, its ablation switches, and its effectiveness on the embedded benchmark."""

import json
import time

import pytest
import torch
from omegaconf import OmegaConf

from tests.conftest import DEBUG, ROOT, compose_config, read_metrics, run_cli
from tests.methods.helpers import RecordingLogger
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.methods import METHODS
from unlearn.methods.base import UnlearnContext
from unlearn.models.backbones import build_backbone
from unlearn.models.checkpoint import load_checkpoint
from unlearn.models.factory import eval_transform
from unlearn.runtime import seed_everything


def test_debug_run_logs_every_stage_and_the_soup_curve(cli):
    proc, run_dir = cli("debug=default", "method=three_stage", "save_checkpoint=true")  # W&B offline
    assert proc.returncode == 0, proc.stderr
    metrics = read_metrics(run_dir)
    assert list(metrics["stages"]) == ["stage1", "stage2", "stage3"]
    assert all("forget/acc" in stage for stage in metrics["stages"].values())
    curve = json.loads((run_dir / "artifacts" / "curves" / "soup.json").read_text())
    assert [p["a"] for p in curve["points"]] == [0.0] + [round(0.05 * i, 2) for i in range(1, 21)]
    assert curve["rule"] == "smallest_below" and curve["chosen"] in [p["a"] for p in curve["points"]]
    assert metrics["summary"]["three_stage/soup_a"] == curve["chosen"]
    assert (run_dir / "artifacts" / "soup_curve.png").read_bytes()[:4] == b"\x89PNG"
    media = next((run_dir / "wandb").glob("offline-run-*")) / "files" / "media"
    assert list(media.glob("images/soup_curve_*.png")) and list(media.glob("table/soup_curve_*.table.json"))
    # LoRA merged: the result is an ordinary CLIP state dict
    state, _, _ = load_checkpoint(run_dir / "model.pt")
    assert not any("parametrizations" in key for key in state)


@pytest.fixture(scope="module")
def debug_setting():
    """Benchmark and task of the debug preset, built once; every run gets a fresh model."""
    cfg = compose_config(*DEBUG, "method=three_stage")
    model, tokenizer = build_backbone(cfg.backbone)
    bench = build_benchmark(cfg.dataset, transform=eval_transform(model))
    return cfg, tokenizer, bench, build_task(bench, cfg.forget, cfg.task, cfg.seed)


def _run(debug_setting, **switches):
    cfg, tokenizer, bench, task = debug_setting
    method_cfg = cfg.method.copy()
    for key, value in switches.items():
        method_cfg[key] = value
    model = build_backbone(cfg.backbone)[0]
    logger = RecordingLogger()
    # stage metrics are not what these tests compare: a stand-in evaluator keeps them fast
    ctx = UnlearnContext(model=model, tokenizer=tokenizer, bench=bench, task=task, cfg=method_cfg,
                         device=torch.device("cpu"), seed=cfg.seed, logger=logger,
                         evaluate=lambda m: ({"forget/acc": 0.0}, {}))
    seed_everything(cfg.seed)
    METHODS.get("three_stage").run(ctx)
    return ctx, logger, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def default_run(debug_setting):
    return _run(debug_setting)


def _differs(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights(debug_setting, default_run):
    assert not _differs(_run(debug_setting)[2], default_run[2])


def test_relative_fisher_switch_ranks_by_plain_fisher(debug_setting, default_run):
    _, base, base_state = default_run
    _, plain, state = _run(debug_setting, relative_fisher=False)
    assert plain.tables["fisher"] != base.tables["fisher"]
    assert plain.summaries["three_stage/blocks"] != base.summaries["three_stage/blocks"]
    assert _differs(state, base_state)


def test_lora_switch_fine_tunes_the_blocks_fully(debug_setting, default_run):
    ctx, base, base_state = default_run
    _, full, state = _run(debug_setting, lora=False)
    original = ctx.original.state_dict()
    vectors = [k for k, v in original.items() if v.is_floating_point() and v.ndim == 1]
    assert not any(_differs({k: base_state[k]}, {k: original[k]}) for k in vectors)  # LoRA: matrices only
    assert any(_differs({k: state[k]}, {k: original[k]}) for k in vectors)  # full: biases and norms too
    assert full.summaries["three_stage/blocks"] == base.summaries["three_stage/blocks"]
    assert full.summaries["three_stage/trainable_tensors"] != base.summaries["three_stage/trainable_tensors"]


def test_align_switch_drops_the_aligned_copies(debug_setting, default_run):
    ctx, base, base_state = default_run
    _, unaligned, state = _run(debug_setting, align=False)
    assert base.summaries["three_stage/remind_images"] == 2 * len(ctx.task.retain_train)
    assert unaligned.summaries["three_stage/remind_images"] == len(ctx.task.retain_train)
    assert _differs(state, base_state)


def test_distill_switch_drops_the_distillation_term(debug_setting, default_run):
    _, base, base_state = default_run
    _, plain, state = _run(debug_setting, distill=False)
    assert any("stage2/distill_kl" in step for step in base.steps)
    assert not any("stage2/distill_kl" in step for step in plain.steps)
    assert any("stage2/retain_ce" in step for step in plain.steps)
    assert _differs(state, base_state)


def test_soup_switch_keeps_the_stage2_model(debug_setting, default_run):
    ctx, base, _ = default_run
    no_soup_ctx, no_soup, stage2 = _run(debug_setting, soup=False)
    assert list(ctx.stage_metrics) == ["stage1", "stage2", "stage3"]
    assert list(no_soup_ctx.stage_metrics) == ["stage1", "stage2"]
    assert "soup_curve" in base.tables and "soup_curve" not in no_soup.tables
    # with souping forced to a = 0.5, the result is halfway between the original and the stage-2 model
    half_ctx, _, half = _run(debug_setting, soup_grid=[0.5])
    original = half_ctx.original.state_dict()
    floats = [k for k, v in original.items() if v.is_floating_point()]
    assert _differs({k: stage2[k] for k in floats}, {k: original[k] for k in floats})
    for key in floats:
        assert torch.allclose(half[key], (original[key] + stage2[key]) / 2, atol=1e-6), key


SWITCHES = ("relative_fisher", "lora", "align", "distill", "soup")


@pytest.mark.slow
def test_ablation_preset_runs_all_variants_as_one_multirun(tmp_path):
    sweep = tmp_path / "sweep"
    # not DEBUG: its method=grad_ascent would replace the preset's three_stage
    proc = run_cli("experiment=three_stage_ablation_synthetic", "debug=default", "logger=none", "seed=0",
                   "backbone.pretrain.seed=0", f"hydra.sweep.dir={sweep}", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    finished = [job for job in sweep.iterdir() if (job / "metrics.json").is_file()]
    methods = [OmegaConf.load(job / ".hydra" / "config.yaml").method for job in finished]
    variants = {tuple(method[s] for s in SWITCHES) for method in methods}
    assert len(variants) == 1 + len(SWITCHES) and (True,) * len(SWITCHES) in variants  # full + each one off


# --- effectiveness on the embedded benchmark (acceptance of the issue) ---------------------------

SETTINGS = {
    "red_circle_rn": (),  # the default: dataset=synthetic backbone=tiny_rn forget=synthetic_subgroup_red_circle
    "blue_star_rn": ("forget=synthetic_subgroup_blue_star",),
    "red_circle_vit": ("backbone=tiny_vit",),
    # tiny_rn pretrained at logit scale 100 (pretrained on first use, ~5 min on one core)
    "red_circle_scale100": ("backbone=tiny_rn_scale100",),
    # with the margins of the old cosine units (0.15 and 0.05 = 15 and 5 logits at scale 100)
    "red_circle_scale100_cosine_margins": ("backbone=tiny_rn_scale100", "method.delta_margin=15",
                                           "method.soup_margin=5"),
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    """outcome(setting, method) -> (metrics.json, wall seconds), each run once per module."""
    done = {}

    def get(setting: str, method: str):
        if (setting, method) not in done:
            run_dir = tmp_path_factory.mktemp(f"{setting}_{method}")
            start = time.perf_counter()
            proc = run_cli(f"hydra.run.dir={run_dir}", "logger=none", f"method={method}", *SETTINGS[setting], cwd=ROOT)
            assert proc.returncode == 0, proc.stderr
            done[setting, method] = read_metrics(run_dir), time.perf_counter() - start
        return done[setting, method]

    return get


def _assert_forgets_and_keeps(metrics: dict, zeroshot_floor: float) -> None:
    before, after = metrics["before"], metrics["after"]
    assert after["forget/acc"] <= 0.10
    assert after["retain/acc"] >= 0.90 * before["retain/acc"]
    for key in (k for k in before if k.startswith("zeroshot/")):
        assert after[key] >= zeroshot_floor * before[key], key


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["red_circle_rn", "blue_star_rn"])
def test_resnet_subgroups_forgotten_siblings_and_zero_shot_kept_better_than_gradient_ascent(outcome, setting):
    metrics, wall_s = outcome(setting, "three_stage")
    _assert_forgets_and_keeps(metrics, zeroshot_floor=0.85)
    assert wall_s < 180  # the whole CPU job, process start to metrics.json
    assert metrics["score"] > outcome(setting, "grad_ascent")[0]["score"]


@pytest.mark.slow
def test_vit_subgroup_forgotten_siblings_and_zero_shot_kept_better_than_gradient_ascent(outcome):
    metrics, _ = outcome("red_circle_vit", "three_stage")
    baseline = outcome("red_circle_vit", "grad_ascent")[0]
    _assert_forgets_and_keeps(metrics, zeroshot_floor=0.85)  # no BatchNorm: the inversion copies stand in
    assert metrics["score_components"]["retain_ratio"] > baseline["score_components"]["retain_ratio"]
    assert metrics["score"] > baseline["score"]


@pytest.mark.slow
def test_margins_in_logits_transfer_to_a_model_with_clip_geometry(outcome):
    """On a tiny CLIP with real CLIP's logit scale (cosine gaps ~5x smaller than tiny_rn's, logit
    gaps alike), the real backbones' settings forget the subgroup and keep its siblings; the same
    run with the margins tiny_rn had in cosine units pushes the siblings away too."""
    logits = outcome("red_circle_scale100", "three_stage")[0]
    cosines = outcome("red_circle_scale100_cosine_margins", "three_stage")[0]
    assert logits["after"]["forget/acc"] <= 0.10 * logits["before"]["forget/acc"]
    assert logits["after"]["retain/acc"] >= 0.95 * logits["before"]["retain/acc"]
    assert cosines["after"]["retain/acc"] < 0.90 * cosines["before"]["retain/acc"]


def test_coarse_forget_text_is_the_group_name_and_the_forget_class_is_no_rival(method_ctx):
    import dataclasses

    from unlearn.loops import ClassHead
    from unlearn.methods.three_stage import forget_target

    ctx = method_ctx("three_stage")
    head = ClassHead(ctx.model, ctx.tokenizer, ctx.bench.classnames, ctx.bench.loss_templates, ctx.device, False)
    circle = ctx.bench.classnames.index("circle")
    assert ctx.task.forget_coarse == ["circle"]
    assert forget_target(ctx, head, False).rows is None  # a colour subgroup: its class is its coarse class

    ctx.task = dataclasses.replace(ctx.task, forget_coarse=["shape"])  # a group name the tokenizer knows
    coarse = forget_target(ctx, head, False)
    assert coarse.head.args[2] == [*ctx.bench.classnames, "shape"]
    assert coarse.rows[circle] == len(ctx.bench.classnames) and coarse.not_rivals == [circle]
    assert coarse.head().shape[0] == len(ctx.bench.classnames) + 1
    ctx.cfg.forget_text = "fine"
    assert forget_target(ctx, head, False).rows is None


def test_a_group_name_the_tokenizer_cannot_read_falls_back_to_the_class_text(method_ctx, caplog):
    import dataclasses

    from unlearn.loops import ClassHead
    from unlearn.methods.three_stage import forget_target

    ctx = method_ctx("three_stage")
    ctx.task = dataclasses.replace(ctx.task, forget_coarse=["curved shape"])  # synthetic.GROUPS: no caption has it
    head = ClassHead(ctx.model, ctx.tokenizer, ctx.bench.classnames, ctx.bench.loss_templates, ctx.device, False)
    assert forget_target(ctx, head, False).rows is None
    assert "no word for ['curved']" in caplog.text


@pytest.mark.parametrize("edited", ["visual", "transformer"])
def test_soup_search_encodes_an_unchanged_text_tower_once(method_ctx, monkeypatch, edited):
    from unlearn.methods import three_stage as ts

    ctx = method_ctx("three_stage")
    original = ctx.original
    with torch.no_grad():
        next(p for n, p in ctx.model.named_parameters() if n.startswith(edited) and p.ndim >= 2).add_(0.01)
    calls = []
    real = ts.chunked_class_embeddings
    monkeypatch.setattr(ts, "chunked_class_embeddings", lambda *a, **k: calls.append(1) or real(*a, **k))
    ts.restore_stage(ctx, original)
    # an edited text tower: one encoding per point of the curve (a = 0 and every grid value)
    assert len(calls) == (1 if edited == "visual" else len(ctx.cfg.soup_grid) + 1)


@pytest.mark.parametrize("towers, whole_classes, ranked", [
    ("by_spec", False, "image"),  # red circles: the siblings share the class prompt
    ("by_spec", True, "text"),  # a shape inside its group: no image of the class stays
    ("image", True, "image"),
    ("both", False, "both"),
])
def test_layer_selection_ranks_the_towers_the_spec_calls_for(method_ctx, towers, whole_classes, ranked):
    import dataclasses

    from unlearn.methods.three_stage import select_layers

    ctx = method_ctx("three_stage", towers=towers)
    ctx.task = dataclasses.replace(ctx.task, forget_whole_classes=whole_classes)
    blocks = list(select_layers(ctx))
    assert len(blocks) == (ctx.cfg.text_top_k if ranked == "text" else ctx.cfg.top_k), blocks
    if ranked != "both":
        assert all(block.startswith("visual.") == (ranked == "image") for block in blocks), blocks


@pytest.mark.parametrize("fallback", ["skip", "noise", "inversion"])
def test_an_image_tower_without_batchnorm_gets_the_align_fallback(method_ctx, fallback):
    from unlearn.loops import Teacher
    from unlearn.methods.three_stage import remind_set

    ctx = method_ctx("three_stage", align_fallback=fallback)
    ctx.model = build_backbone(compose_config("backbone=tiny_vit").backbone)[0]  # a ViT: no statistics to align to
    retain, forget = ctx.task.retain_train, ctx.task.forget_train
    remind = remind_set(ctx, Teacher(ctx))
    copies = {"skip": 0, "noise": len(retain), "inversion": len(retain) + len(forget)}[fallback]
    assert len(remind) == len(retain) + copies
    assert (remind.labels[:len(retain)] == retain.labels).all()
    if fallback == "inversion":  # labelled with the class the original now names: never a forget class
        assert not set(remind.labels[len(retain):]) & set(ctx.task.forget_classes)
        assert len(set(remind.labels[len(retain):])) > 1
