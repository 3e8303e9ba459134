"""unlearn.report on hand-made run folders: grouping, seed statistics, skipping, published rows, outputs.

The end-to-end path (real sweeps aggregated by the report) is in tests/test_sweeps.py.
"""

import csv
import itertools
import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from tests.conftest import ROOT, compose_config
from unlearn.curves import write_curve
from unlearn.report import DEFAULT_REFERENCE_DIR, load_references, main, report, variant_label

SUITES = ("zeroshot/heldout_pairs/acc",)


def metrics_dict(method: str, seed: int, forget: float, retain: float, score: float, backbone="tiny_rn") -> dict:
    before = {"forget/acc": 0.9, "retain/acc": 0.8, "others/acc": 0.85, SUITES[0]: 0.7}
    after = {"forget/acc": forget, "retain/acc": retain, "others/acc": 0.8, SUITES[0]: 0.6}
    return {"before": before, "after": after, "score": score, "time/unlearn_s": 1.0, "method": method, "seed": seed,
            "forget": "synthetic_subgroup_red_circle", "backbone": backbone, "dataset": "synthetic", "stages": {}}


def write_run(folder: Path, metrics: dict | None, overrides=(), method_cfg=None, status="complete", curves=None,
              dataset=None, backbone=None) -> Path:
    """A run folder as unlearn.run leaves it: .hydra/{config,overrides}.yaml, status.json, metrics.json."""
    folder.mkdir(parents=True)
    m = metrics or {}
    config = {"dataset": {"name": "synthetic", "root": "data", **(dataset or {})},
              "backbone": {"name": m.get("backbone", "tiny_rn"), **(backbone or {})},
              "method": {"name": m.get("method", "grad_ascent"), **(method_cfg or {})},
              "forget": {"name": "synthetic_subgroup_red_circle"}, "eval": {}, "seed": m.get("seed", 0)}
    (folder / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(config), folder / ".hydra" / "config.yaml")
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    (folder / "status.json").write_text(json.dumps({"status": status, "error": "ValueError: boom"}))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    for name, (x, points, chosen) in (curves or {}).items():
        write_curve(folder / "artifacts" / "curves" / f"{name}.json", x, points, chosen=chosen)
    return folder


def read_csv(path: Path) -> list[dict]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_groups_by_setting_aggregates_seeds_and_skips_incomplete_runs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    for seed, forget in enumerate((0.1, 0.2, 0.3)):  # data read by more workers: still the same setting
        write_run(sweep / str(seed), metrics_dict("grad_ascent", seed, forget, 0.7, 40.0 + 10 * seed),
                  overrides=[f"seed={seed}", "method.lr=0.001", "logger=none",
                             *(["dataset.num_workers=8"] if seed else [])],
                  method_cfg={"lr": 0.001}, dataset={"num_workers": 8 if seed else 0})
    write_run(sweep / "3", metrics_dict("grad_ascent", 0, 0.5, 0.75, 20.0),
              overrides=["seed=0", "method.lr=0.0001"], method_cfg={"lr": 0.0001})
    write_run(sweep / "4", None, overrides=["seed=1", "method.lr=0.0001"], status="failed")
    write_run(sweep / "5", None, overrides=["seed=2", "method.lr=0.0001"], status="running")
    # the same setting and seed again in a second folder: counted once
    copy = tmp_path / "again"
    write_run(copy / "0", metrics_dict("grad_ascent", 0, 0.9, 0.9, 99.0),
              overrides=["seed=0", "method.lr=0.001"], method_cfg={"lr": 0.001})

    assert main([str(sweep), str(copy), "--out", str(tmp_path / "out"), "--no-reference"]) == 0
    err = capsys.readouterr().err
    assert f"skipped {sweep / '4'}: failed (ValueError: boom)" in err
    assert f"skipped {sweep / '5'}: incomplete (status running)" in err
    assert f"skipped {copy / '0'}: duplicate of {sweep / '0'}" in err

    rows = {(r["row"], r["variant"]): r for r in read_csv(tmp_path / "out" / "results.csv")}
    assert set(rows) == {("original", ""), ("ours", "method.lr=0.001"), ("ours", "method.lr=0.0001")}
    main_row = rows[("ours", "method.lr=0.001")]
    assert main_row["n"] == "3" and main_row["seeds"] == "0 1 2"
    assert float(main_row["forget/acc"]) == pytest.approx(20.0)  # % of 0.1, 0.2, 0.3
    assert float(main_row["forget/acc std"]) == pytest.approx(10.0)  # sample std
    assert float(main_row["score"]) == pytest.approx(50.0)
    assert rows[("ours", "method.lr=0.0001")]["n"] == "1" and rows[("ours", "method.lr=0.0001")]["score std"] == ""
    assert float(rows[("original", "")]["forget/acc"]) == pytest.approx(90.0)  # the before metrics

    md = (tmp_path / "out" / "results.md").read_text()
    assert "| Backbone | Method | Variant | n | Target ↓ | Retain ↑ | Others ↑ | heldout_pairs ↑ | Score ↑ |" in md
    # mean ± the 95 % t interval's half-width (t(0.975, 2) · 10 / √3 = 24.8); bold: the best target
    assert "| tiny_rn | grad_ascent | method.lr=0.001 | 3 | **20.0 ± 24.8** | 70.0 ± 0.0 |" in md
    assert float(main_row["forget/acc ci_low"]) == pytest.approx(20.0 - 24.84, abs=0.01)
    assert f"- `{sweep / '4'}`: failed" in md
    tex = (tmp_path / "out" / "results.tex").read_text()
    assert "\\textbf{20.0 $\\pm$ 24.8}" in tex and "grad\\_ascent" in tex and "\\toprule" in tex
    assert (tmp_path / "out" / "tradeoff_synthetic_synthetic_subgroup_red_circle.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_on_different_data_roots_are_different_settings(tmp_path):
    """An image_folder's root is its data: two roots are two settings, never one row or a duplicate."""
    for name, root in (("a", "/data/one"), ("b", "/data/two")):
        write_run(tmp_path / "sweep" / name, metrics_dict("grad_ascent", 0, 0.1 if name == "a" else 0.5, 0.7, 40.0),
                  overrides=["seed=0", f"dataset.root={root}"], dataset={"root": root})
    tables, skipped = report([tmp_path / "sweep"], tmp_path / "out", None)
    ours = [row for row in tables[0].rows if row.kind == "ours"]
    assert skipped == [] and len(ours) == 2
    assert sorted(row.values["forget/acc"][0] for row in ours) == pytest.approx([10.0, 50.0])


def test_published_numbers_only_beside_rows_whose_settings_match(tmp_path):
    references = tmp_path / "reference"
    references.mkdir()
    (references / "paper.csv").write_text(
        "paper,table,dataset,forget,backbone,method,settings,forget/acc,retain/acc,score,caveat\n"
        "P,1,synthetic,synthetic_subgroup_red_circle,tiny_rn,original,,88.0,77.0,,unverified\n"
        "P,1,synthetic,synthetic_subgroup_red_circle,tiny_rn,three_stage,method.soup=true,1.0,66.0,91.0,unverified\n"
        "P,2,synthetic,synthetic_subgroup_red_circle,tiny_rn,three_stage,method.soup=false,,,82.1,\n"
        "P,1,synthetic,synthetic_subgroup_red_circle,mini_rn,three_stage,method.soup=true,0.0,0.0,0.0,\n")
    sweep = tmp_path / "sweep"
    write_run(sweep / "0", metrics_dict("three_stage", 0, 0.0, 0.7, 90.0), overrides=["method=three_stage"],
              method_cfg={"soup": True})
    write_run(sweep / "1", metrics_dict("three_stage", 0, 0.1, 0.6, 80.0),
              overrides=["method=three_stage", "method.soup=false"], method_cfg={"soup": False})
    write_run(sweep / "2", metrics_dict("three_stage", 0, 0.1, 0.6, 80.0),
              overrides=["method=three_stage", "method.lora=false"], method_cfg={"soup": True, "lora": False})

    report([sweep], tmp_path / "out", references)
    rows = read_csv(tmp_path / "out" / "results.csv")
    kinds = [(r["row"], r["variant"], r["reference"]) for r in rows]
    assert kinds == [
        ("original", "", ""), ("published", "", "P, table 1"),
        ("ours", "", ""), ("published", "method.soup=true", "P, table 1"),
        ("ours", "method.lora=false", ""), ("published", "method.soup=true", "P, table 1"),
        ("ours", "method.soup=false", ""), ("published", "method.soup=false", "P, table 2"),
    ]
    published = rows[3]
    assert published["score"] == "91.0" and published["forget/acc"] == "1.0" and published["caveat"] == "unverified"
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| tiny_rn | ↳ published (P, table 1) [1] | method.soup=true | – | 1.0 | 66.0 | – | – | 91.0 | – |" in md
    assert "[1] unverified" in md


def test_every_curve_a_method_recorded_is_plotted_per_row(tmp_path):
    sweep = tmp_path / "sweep"
    soup = [{"a": a, "forget/acc": 1 - a, "retain/acc": 1 - a / 4, "score": 50 * a} for a in (0.0, 0.5, 1.0)]
    write_run(sweep / "0", metrics_dict("three_stage", 0, 0.0, 0.7, 90.0), curves={"soup": ("a", soup, 0.5)})
    write_run(sweep / "1", metrics_dict("three_stage", 1, 0.0, 0.7, 90.0), overrides=["seed=1"],
              curves={"soup": ("a", soup[:2], None), "loss": ("step", [{"step": 1, "ce": 2.0}], None)})
    write_run(sweep / "2", metrics_dict("grad_ascent", 0, 0.0, 0.1, 10.0))  # no curve: no plot
    bad = sweep / "0" / "artifacts" / "curves" / "broken.json"
    bad.write_text('{"x": "a", "points": [{"b": 1}]}')  # not a curve of its x: left out
    report([sweep], tmp_path / "out", None)
    plots = sorted(p.name for p in (tmp_path / "out").glob("*_tiny_rn_*.png"))
    assert plots == ["loss_synthetic_synthetic_subgroup_red_circle_tiny_rn_three_stage_2.png",
                     "soup_synthetic_synthetic_subgroup_red_circle_tiny_rn_three_stage_2.png"]
    soup_png = tmp_path / "out" / plots[1]
    assert soup_png.read_bytes()[:4] == b"\x89PNG"
    assert f"![{soup_png.stem}]({soup_png.name})" in (tmp_path / "out" / "results.md").read_text()


def test_nothing_complete_or_missing_folder_is_one_line_error(tmp_path, capsys):
    write_run(tmp_path / "sweep" / "0", None, status="failed")
    assert main([str(tmp_path / "sweep")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no complete runs under") and "\n" not in err
    assert main([str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.strip() == f"error: no such folder: {tmp_path / 'nope'}; give sweep or run " \
                                               "folders (e.g. outputs/multiruns/<sweep>)"


def test_published_reference_data_names_real_presets_and_switches():
    rows = load_references(DEFAULT_REFERENCE_DIR)
    three_stage = [r for r in rows if r["paper"].startswith("Zhang")]
    space = [r for r in rows if r["paper"].startswith("Kravets")]
    assert len(three_stage) == 14 and len(space) == 24  # 7 + 3 table rows, 4 ablation rows; 12 classes x 2
    assert all("unverified" in r["caveat"] for r in three_stage)
    assert all(r["method"] == "original" and "original model only" in r["caveat"] for r in space)
    for row in rows:
        for group in ("dataset", "forget", "backbone"):
            assert (ROOT / "conf" / group / f"{row[group]}.yaml").is_file(), (group, row[group])
    method = compose_config("method=three_stage").method
    for row in three_stage:
        for setting in row["settings"].split():
            key, value = setting.split("=")
            default = OmegaConf.select(method, key.removeprefix("method."))  # the switch exists, same type
            assert type(default) is type(yaml.safe_load(value)), (key, value)


def test_shipped_reference_rows_match_a_full_three_stage_run_on_imagenet(tmp_path):
    metrics = metrics_dict("three_stage", 0, 0.0, 0.5, 90.0, backbone="rn50")
    metrics.update(dataset="imagenet1k", forget="imagenet1k_subgroup_marmoset", paper_score=88.0)
    switches = {k: True for k in ("relative_fisher", "lora", "align", "distill", "soup")}
    write_run(tmp_path / "sweep" / "0", metrics, method_cfg=switches)
    tables, _ = report([tmp_path / "sweep"], tmp_path / "out", DEFAULT_REFERENCE_DIR)
    rows = [(r.kind, r.method, r.reference, r.values.get("score", (None,))[0], r.values.get("paper_score", (None,))[0])
            for r in tables[0].rows]
    # the paper's Score sits in the paper_score column, beside ours: never in our `score` column
    assert rows == [("original", "original", "", None, None),
                    ("published", "original", "Zhang et al. CVPR 2025, table A", None, None),
                    ("ours", "three_stage", "", 90.0, 88.0),
                    ("published", "three_stage", "Zhang et al. CVPR 2025, table A", None, 91.0)]
    assert "unverified: read from a secondary summary" in (tmp_path / "out" / "results.md").read_text()


def test_the_pretraining_seed_is_half_of_a_unit_never_a_variant(tmp_path):
    """Issue 29: the table presets cross pretraining seeds with seeds, and the older layout set
    backbone.pretrain.seed=${seed}; either way every (pretraining seed, seed) pair is one unit of a
    single row, listed in order, and a repeated unit is counted once."""
    sweep = tmp_path / "sweep"
    for seed in (0, 1, 2):  # the older layout: one pretraining seed per seed
        write_run(sweep / f"diag{seed}", metrics_dict("grad_ascent", seed, 0.11 * seed, 0.7, 40.0),
                  overrides=[f"seed={seed}"], backbone={"pretrain": {"seed": "${seed}"}})
    for pretrain_seed in (0, 2):  # crossed: units (0, 1), (0, 2), (2, 1), and (2, 2) again
        for seed in (1, 2):
            forget = 0.1 * seed + 0.01 * pretrain_seed  # the same result as the older layout's for (2, 2)
            write_run(sweep / f"cross{pretrain_seed}{seed}", metrics_dict("grad_ascent", seed, forget, 0.7, 40.0),
                      overrides=[f"backbone.pretrain.seed={pretrain_seed}", f"seed={seed}"],
                      backbone={"pretrain": {"seed": pretrain_seed}})
    assert main([str(sweep), "--out", str(tmp_path / "out"), "--no-reference"]) == 0
    rows = {r["row"]: r for r in read_csv(tmp_path / "out" / "results.csv")}
    assert set(rows) == {"original", "ours"} and rows["ours"]["variant"] == ""
    assert rows["ours"]["pretrain_seeds"] == "0 0 0 1 2 2" and rows["ours"]["seeds"] == "0 1 2 1 1 2"
    assert rows["original"]["n"] == "6"
    assert float(rows["ours"]["forget/acc"]) == pytest.approx((0 + 10 + 20 + 11 + 12 + 22) / 6)
    text = (tmp_path / "out" / "results.md").read_text()
    assert "duplicate of" in text and "same setting, seed and pretraining seed" in text


def test_loading_only_settings_never_split_a_row(tmp_path):
    """Issue 27, low: the caches and local parallelism change how a job runs, never its result."""
    for seed, extra in enumerate((["cache.images=false"], ["local_parallelism=2", "cache.verify=content"], [])):
        write_run(tmp_path / "sweep" / str(seed), metrics_dict("grad_ascent", seed, 0.1, 0.7, 40.0),
                  overrides=[f"seed={seed}", *extra])
    tables, _ = report([tmp_path / "sweep"], tmp_path / "out", None)
    (ours,) = [row for row in tables[0].rows if row.kind == "ours"]
    assert ours.variant == "" and len(ours.seeds) == 3


def test_a_running_status_whose_process_is_gone_reads_interrupted(tmp_path, capsys):
    import subprocess
    import sys

    from unlearn.rundir import this_process

    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout)
    folder = write_run(tmp_path / "sweep" / "0", None, overrides=["seed=0"])
    (folder / "status.json").write_text(json.dumps({"status": "running", "owner": this_process() | {"pid": gone}}))
    live = write_run(tmp_path / "sweep" / "1", None, overrides=["seed=1"])
    (live / "status.json").write_text(json.dumps({"status": "running", "owner": this_process()}))
    write_run(tmp_path / "sweep" / "2", metrics_dict("grad_ascent", 2, 0.1, 0.7, 40.0), overrides=["seed=2"])
    main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--no-reference"])
    err = capsys.readouterr().err
    assert f"skipped {folder}: interrupted (status running, but its process, pid {gone} on" in err
    assert f"skipped {live}: incomplete (status running)" in err


def test_rows_follow_the_rank_and_label_each_method_recorded(tmp_path):
    sweep = tmp_path / "sweep"
    for i, (method, rank, label) in enumerate((("zz_paper", 100, "Zz (ours)"), ("aa_plugin", None, None),
                                               ("mm_baseline", 10, None))):
        metrics = metrics_dict(method, 0, 0.1, 0.7, 50.0)
        metrics |= {"method_rank": rank} if rank is not None else {}
        metrics |= {"method_label": label} if label else {}
        write_run(sweep / str(i), metrics)
    tables, _ = report([sweep], tmp_path / "out", None)
    assert [row.method for row in tables[0].rows if row.kind == "ours"] == ["mm_baseline", "aa_plugin", "zz_paper"]
    assert "| tiny_rn | Zz (ours) |" in (tmp_path / "out" / "results.md").read_text()


def test_the_best_method_and_its_ties_are_bold_and_compare_prints_paired_differences(tmp_path, capsys):
    """Three methods on the same three seeds: grad_ascent and scrub forget alike (within noise), emmn
    forgets less on every seed. A paired t-test ties the first two and separates the third."""
    forgets = {"grad_ascent": (0.10, 0.30, 0.50), "scrub": (0.11, 0.29, 0.52), "emmn": (0.40, 0.61, 0.80)}
    for method, values in forgets.items():
        for seed, forget in enumerate(values):
            write_run(tmp_path / "sweep" / f"{method}{seed}", metrics_dict(method, seed, forget, 0.7, 50.0),
                      overrides=[f"seed={seed}", f"method={method}"])
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--no-reference",
                 "--compare", "emmn", "grad_ascent"]) == 0
    rows = {r["method"]: r for r in read_csv(tmp_path / "out" / "results.csv") if r["row"] == "ours"}
    assert rows["grad_ascent"]["forget/acc p_vs_best"] == ""  # the best itself
    assert float(rows["scrub"]["forget/acc p_vs_best"]) >= 0.05 > float(rows["emmn"]["forget/acc p_vs_best"])
    md = (tmp_path / "out" / "results.md").read_text()
    cells = {m: next(line for line in md.splitlines() if f"| {m} |" in line).split(" | ")[3] for m in forgets}
    assert cells["grad_ascent"].startswith("**") and cells["scrub"].startswith("**")
    assert not cells["emmn"].startswith("**")
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("Target"))
    assert "+30.33" in line and " n 3" in line  # emmn − grad_ascent, seed by seed: 30, 31, 30 points
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out2"), "--compare", "emmn", "nope"]) == 1
    assert "no table has rows of both methods 'emmn' and 'nope'" in capsys.readouterr().err


def test_what_only_adds_measurements_names_no_variant():
    """The audit and its reference, or a metric added to before/after, leave the unlearning alone."""
    overrides = ["audit=standard", "audit.reference=retrain", "+metric@eval.metrics.mia=mia", "method.lr=1", "seed=0"]
    assert variant_label(overrides) == "method.lr=1"


def test_a_depth_is_undefined_where_original_and_reference_differ_within_the_references_own_spread(tmp_path):
    """Issue 29: depth divides by the original's distance to one retrained reference; where that
    distance is under DEPTH_NOISE times the retrained models' spread over pretraining seeds (the
    meta-evaluation's `deep spread`), another reference could move it anywhere: no number."""
    from unlearn.validity import DEPTH_NOISE

    models = {"original": (0.90, 0.95), "reference": (0.80, 0.35), "unlearned": (0.85, 0.65),
              "depth": (0.5, 0.5), "gap": (0.05, 0.3)}
    audit = {f"audit/{model}/{key}": value for model, values in models.items()
             for key, value in zip(("probe/forget/acc", "relearn/mean/forget/acc"), values)}
    audit |= {"audit/gap/mean": 0.1, "audit/tow": 0.9}
    for seed in (0, 1):
        write_run(tmp_path / "sweep" / str(seed), metrics_dict("grad_ascent", seed, 0.1, 0.8, 70) | audit)
    validity = tmp_path / "validity.csv"
    spread = 0.06  # the probe's distance, 0.10, is under DEPTH_NOISE × 0.06; the relearning mean's, 0.60, is not
    assert 0.10 < DEPTH_NOISE * spread < 0.60
    with validity.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["spec", "backbone", "measure", "auroc", "effect", "deep spread", "verdict"])
        for measure in ("probe/forget/acc", "relearn/mean/forget/acc"):
            writer.writerow(["synthetic_subgroup_red_circle", "tiny_rn", measure, 1.0, 5.0, spread, "signal"])
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--no-reference",
                 "--validity", str(validity)]) == 0
    row = next(line for line in (tmp_path / "out" / "results.md").read_text().splitlines()
               if line.startswith("| tiny_rn | grad_ascent |") and "0.900" in line)
    assert row.endswith("| – | 0.500 ± 0.000 |")  # ToW, gap, then probe depth (undefined), relearning-mean depth
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out2"), "--no-reference", "--no-validity"]) == 0
    assert "| 0.500 ± 0.000 | 0.500 ± 0.000 |" in (tmp_path / "out2" / "results.md").read_text()


def test_an_audit_measure_without_signal_on_the_spec_is_no_number(tmp_path, capsys):
    """unlearn/validity.py: where the meta-evaluation found a measure unable to tell the shallow
    control from the deep one (this spec, this backbone), an unlearned model's cell says so."""
    audit = {f"audit/{model}/{key}": value
             for model, values in (("original", (0.9, 0.95, 0.97)), ("unlearned", (0.4, 0.5, 0.45)))
             for key, value in zip(("relearn/1/forget/acc", "probe/forget/acc", "relearn/mean/forget/acc"), values)}
    for seed in (0, 1):
        write_run(tmp_path / "sweep" / str(seed), metrics_dict("grad_ascent", seed, 0.1, 0.8, 70) | audit)
    validity = tmp_path / "validity.csv"
    with validity.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["spec", "backbone", "measure", "description", "auroc", "effect", "verdict"])
        writer.writerow(["synthetic_subgroup_red_circle", "tiny_rn", "relearn/1/forget/acc", "", 0.78, 1.4, "no signal"])
        writer.writerow(["synthetic_subgroup_red_circle", "tiny_rn", "probe/forget/acc", "", 1.0, 10.5, "signal"])
        writer.writerow(["synthetic_subgroup_red_circle", "vit_b16", "probe/forget/acc", "", 0.5, 0.1, "no signal"])
        writer.writerow(["synthetic_subgroup_red_circle", "tiny_rn", "relearn/mean/forget/acc", "", "", "",
                         "not judged (no shallow control)"])

    def audit_rows(*args):
        assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--no-reference", *args]) == 0
        md = (tmp_path / "out" / "results.md").read_text()
        lines = md.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| Backbone | Model"))  # the audit table
        columns = [c.strip() for c in lines[start].split("|")]
        rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2:])
        return md, {row["Model"]: row for row in (dict(zip(columns, (c.strip() for c in r.split("|")))) for r in rows)}

    md, rows = audit_rows("--validity", str(validity))
    assert rows["grad_ascent"]["Relearn@1 ↓"] == "no signal"
    assert rows["grad_ascent"]["Probe forget ↓"] == "50.0 ± 0.0"  # tiny_rn's probe had signal (vit_b16's did not)
    assert rows["grad_ascent"]["Relearn mean ↓"] == "45.0 ± 0.0"  # not judged: a number, unmarked
    assert "Relearn mean" not in md.split("no signal, so no number")[1].splitlines()[0]
    assert len(list((tmp_path / "out").glob("relearn_*.png"))) == 1  # the curve: step 1 only, not the mean
    assert rows["original model"]["Relearn@1 ↓"] == "90.0 ± 0.0"  # the anchors keep their numbers
    assert "Relearn@1 ↓ (AUROC 0.78, effect 1.4)" in md and "vit_b16" not in md
    _, rows = audit_rows("--no-validity")
    assert rows["grad_ascent"]["Relearn@1 ↓"] == "40.0 ± 0.0"

    validity.write_text("spec,measure\nx,y\n")
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--validity", str(validity)]) == 1
    assert "is not an audit validity table (experiments/audit_validity.py): no column backbone" in capsys.readouterr().err
