# Quick start: `make run` (sets up .venv, runs the default experiment), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch build pip takes from this workplace's local files; on a GPU box install your own.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
ARGS ?=
PYTEST_ARGS ?=

.PHONY: setup run test lint test-slow test-gpu test-cluster bench pretrain tables tables-synthetic sequential check-report audit-validity ulira clean docs docs-serve

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: setup
	$(PY) -m unlearn $(ARGS)

test: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q $(PYTEST_ARGS)

# pyflakes, pycodestyle and bugbear over the repository (pyproject.toml, [tool.ruff]); CI runs it
lint: setup
	$(PY) -m ruff check .

test-slow: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# On a machine with CUDA: every method on the GPU against the CPU, and the real architectures' throughput.
test-gpu: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q -s -m gpu $(PYTEST_ARGS)

# Sweeps submitted to a real Slurm: tests/cluster/slurm.sh installs (Debian packages, as root) and starts a
# one-node Slurm with accounting, the tests submit through the CLI (docs/cluster-tutorial.md), then it stops
# what it started. ~5 min. UNLEARN_REQUIRE_SLURM=1 (CI) fails instead of skipping where Slurm cannot start.
test-cluster: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) -m pytest -q -m cluster $(PYTEST_ARGS) tests/cluster

# What a real-scale job costs, with the caches on and off: a fake 1000-class ImageNet (written once under
# outputs/bench/data) and the miniature real architectures, on the CPU (~7 min; docs/performance.md).
bench: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) experiments/bench.py $(ARGS)

# Re-pretrain the tiny backbones, every shipped pretraining seed (SEEDS), into the user cache
# ($$UNLEARN_CACHE_DIR or ~/.cache/unlearn); `make pretrain OUT=unlearn/assets` refreshes the shipped
# checkpoints. About 5 min (tiny_rn) and 15 min (tiny_vit) per seed on one core.
OUT ?=
SEEDS ?= 0 1 2
pretrain: setup
	for seed in $(SEEDS); do \
	  $(PY) -m unlearn.pretrain backbone=tiny_rn backbone.pretrain.seed=$$seed $(if $(OUT),out_dir=$(OUT)) && \
	  $(PY) -m unlearn.pretrain backbone=tiny_vit backbone.pretrain.seed=$$seed $(if $(OUT),out_dir=$(OUT)) || exit 1; \
	done

# Tables (Markdown, CSV, LaTeX) and plots from finished sweeps, beside the published numbers:
#   make tables DIRS="outputs/multiruns/<sweep> ..." [OUT=<report dir>]   (default OUT: <first dir>/report)
DIRS ?=
tables: setup
	@test -n "$(DIRS)" || { echo 'usage: make tables DIRS="<sweep or run dir> ..." [OUT=<report dir>]'; exit 2; }
	$(PY) -m unlearn.report $(DIRS) $(if $(OUT),--out $(OUT))

# Every *_synthetic preset (the papers' tables on the embedded benchmark, CPU) as sweeps under
# outputs/tables/synthetic/<preset>, then their report; re-running resumes. REPORT= moves the report
# (the committed one: make tables-synthetic REPORT=experiments/results/synthetic).
REPORT ?=
tables-synthetic: setup
	$(PY) experiments/reproduce.py --synthetic $(if $(REPORT),--report $(REPORT)) $(ARGS)

# Deletion requests one after another (experiment=sequential_synthetic: 5 requests, every method that can
# forget parts of a class, sequential and batch, 3 seeds) into outputs/sequential, then its report (the
# committed one: make sequential REPORT=experiments/results/sequential); re-running resumes.
sequential: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) experiments/reproduce.py sequential_synthetic --out outputs/sequential $(if $(REPORT),--report $(REPORT)) $(ARGS)

# The audit's meta-evaluation (experiments/audit_validity.py): the original, the shallow control
# (mask_name) and the deep control (retrain) per forget spec and pretraining seed (every spec on tiny_rn,
# class circle on tiny_vit), every audit measure judged on them; writes experiments/results/audit_validity/.
# Retrained models are cached (one-time cost).
audit-validity: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) experiments/audit_validity.py $(ARGS)

# U-LiRA (experiments/ulira.py): every method on class circle and class arrow, pretraining seeds 0-2 x
# seeds 0-1, attacked image by image against tiny CLIPs retrained without the class; writes
# experiments/results/ulira/. Retrained shadows are cached (one-time cost); re-running resumes.
ulira: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) experiments/ulira.py $(ARGS)

clean:
	rm -rf outputs/runs outputs/multiruns outputs/tables

# Rerun a sample of the committed synthetic report (one row per method and backbone) and compare
# each value with the committed one (experiments/check_report.py): ARGS=--fast or --all; add
# --kernels avx2 to rerun with another x86 machine's arithmetic (CI: ARGS="--fast --kernels avx2").
check-report: setup
	HF_HUB_OFFLINE=1 WANDB_MODE=offline $(PY) experiments/check_report.py $(ARGS)

# The documentation site (docs/, mkdocs.yml: MkDocs + Material + mkdocstrings) into site/; strict: a broken
# link, a missing page or any warning fails. docs-serve: the same, served locally with live reload.
docs: setup
	$(PY) -m pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

docs-serve: setup
	$(PY) -m pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve
