"""Method quality beyond one model and one seed (issue 17), through the CLI as users run it: every
independently pretrained tiny CLIP (`backbone.pretrain.seed=0,1,2`) × unlearning seeds 0 and 1 ×
both tiny backbones. One sweep per (backbone, method family), shared by its tests; each test names
every job that misses its bar. Slow, on 2 CPU cores: tiny_rn, every family, 22.5 min (its
three-stage alone 13 min); tiny_vit's three-stage 33 min beside other work, its baselines 25.3 min
(docs/history.md, "Method standing on the embedded benchmark", has every outcome).
"""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.conftest import ROOT, job_dirs, read_metrics, run_cli

SEEDS = ("backbone.pretrain.seed=0,1,2", "seed=0,1")
COLOUR_SUBGROUPS = ("synthetic_subgroup_red_circle", "synthetic_subgroup_blue_star")
GROUP_SUBGROUPS = ("synthetic_subgroup_circle", "synthetic_subgroup_star")  # a shape inside its coarse group
CLASSES = ("synthetic_class_circle", "synthetic_class_arrow", "synthetic_class_heart", "synthetic_class_star",
           "synthetic_class_star_heart_arrow")
BASELINES = ("grad_ascent", "neggrad_plus", "random_label", "salun", "scrub", "emmn", "lipschitz")
CLASS_LEVEL = ("emmn", "lipschitz")  # forget whole classes by construction: judged on the class preset only
SWEEPS = {
    "three_stage": (f"forget={','.join(COLOUR_SUBGROUPS + GROUP_SUBGROUPS)}", "method=three_stage"),
    "space_adaptation": (f"forget={','.join(CLASSES)}", "method=space_adaptation"),
    "baselines_class": ("forget=synthetic_class_circle", f"method={','.join(BASELINES)}"),
    "baselines_subgroup": ("forget=synthetic_subgroup_circle",
                           f"method={','.join(m for m in BASELINES if m not in CLASS_LEVEL)}"),
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """sweep(backbone, family) -> every job's metrics.json with its `pretrain_seed`, each sweep run
    once per module; every pretraining seed × seed is there."""
    done: dict[tuple[str, str], list[dict]] = {}

    def get(backbone: str, family: str) -> list[dict]:
        if (backbone, family) not in done:
            folder = tmp_path_factory.mktemp(f"{backbone}_{family}")
            proc = run_cli("-m", "logger=none", f"backbone={backbone}", *SWEEPS[family], *SEEDS,
                           f"hydra.sweep.dir={folder}", cwd=ROOT, timeout=4 * 3600)
            assert proc.returncode == 0, proc.stderr[-2000:]
            runs = [dict(read_metrics(job), pretrain_seed=OmegaConf.load(job / ".hydra" / "config.yaml")
                         .backbone.pretrain.seed) for job in job_dirs(folder)]
            for forget, method in {(m["forget"], m["method"]) for m in runs}:
                seeds = sorted((m["pretrain_seed"], m["seed"]) for m in runs if (m["forget"], m["method"]) == (forget, method))
                assert seeds == [(p, s) for p in (0, 1, 2) for s in (0, 1)], (forget, method, seeds)
            done[backbone, family] = runs
        return done[backbone, family]

    return get


def _label(m: dict) -> str:
    return f"{m['method']} {m['forget']} pretrain seed {m['pretrain_seed']} seed {m['seed']}"


def _misses(runs: list[dict], bars) -> list[str]:
    """`bars(before, after)` -> the bars a job misses; one line per job that misses any."""
    return [f"{_label(m)}: {', '.join(missed)}" for m in runs if (missed := bars(m["before"], m["after"]))]


def _suites(before: dict) -> list[str]:
    return [k for k in before if k.startswith("zeroshot/") and k.endswith("/acc")]


def _three_stage_bars(before: dict, after: dict) -> list[str]:
    missed = [] if after["forget/acc"] <= 0.10 * before["forget/acc"] else ["forget > 10 % of before"]
    missed += [] if after["retain/acc"] >= 0.90 * before["retain/acc"] else ["retain < 90 % of before"]
    return missed + [f"{k} < 85 % of before" for k in _suites(before) if after[k] < 0.85 * before[k]]


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["tiny_rn", "tiny_vit"])
@pytest.mark.parametrize("presets", [COLOUR_SUBGROUPS, GROUP_SUBGROUPS], ids=["colour", "coarse_group"])
def test_three_stage_forgets_every_subgroup_and_keeps_siblings_and_unseen(sweep, backbone, presets):
    runs = [m for m in sweep(backbone, "three_stage") if m["forget"] in presets]
    assert len(runs) == 6 * len(presets)
    assert not (misses := _misses(runs, _three_stage_bars)), "\n".join(misses)


def _space_adaptation_bars(before: dict, after: dict) -> list[str]:
    missed = [] if after["forget/acc"] <= 0.05 else ["forget > 5 %"]
    missed += [] if after["retain/acc"] >= 0.95 * before["retain/acc"] else ["retain < 95 % of before"]
    return missed + [f"{k} < 95 % of before" for k in _suites(before) if after[k] < 0.95 * before[k]]


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["tiny_rn", "tiny_vit"])
def test_space_adaptation_forgets_every_class_preset_and_keeps_the_rest(sweep, backbone):
    runs = sweep(backbone, "space_adaptation")
    assert len(runs) == 6 * len(CLASSES)
    assert not (misses := _misses(runs, _space_adaptation_bars)), "\n".join(misses)


def _baseline_bars(before: dict, after: dict) -> list[str]:
    missed = [] if after["forget/acc"] <= 0.5 * before["forget/acc"] else ["forget not halved"]
    return missed + ([] if after["retain/acc"] >= 0.60 * before["retain/acc"] else ["retain < 60 % of before"])


# Lipschitz forgets the class circle through the drift of the other classes' texts, and in one run
# on tiny_rn (pretraining seed 2, seed 1) and two on tiny_vit (pretraining seed 0) that drift costs
# over 40 % of retain. No setting of its knobs met both bars in every run (docs/history.md, "Method standing
# on the embedded benchmark"); strict, so the day it passes this marker has to go.
LIPSCHITZ_MISSES_RETAIN = pytest.mark.xfail(strict=True, raises=AssertionError,
                                             reason="Lipschitz keeps < 60 % of retain in 1-2 of 6 runs")


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["tiny_rn", "tiny_vit"])
@pytest.mark.parametrize("method", [pytest.param(m, marks=LIPSCHITZ_MISSES_RETAIN) if m == "lipschitz" else m
                                    for m in BASELINES])
def test_every_forgetting_baseline_halves_forget_accuracy_on_a_class_and_a_subgroup(sweep, backbone, method):
    families = ("baselines_class",) if method in CLASS_LEVEL else ("baselines_class", "baselines_subgroup")
    runs = [m for family in families for m in sweep(backbone, family) if m["method"] == method]
    assert len(runs) == 6 * len(families)
    assert not (misses := _misses(runs, _baseline_bars)), "\n".join(misses)
