"""Evaluator: cached features and heads follow the weights; mixed precision falls back to fp32 on CPU."""

import pytest
import torch

import unlearn.evaluation as evaluation
from tests.conftest import compose_config
from unlearn.data import build_benchmark
from unlearn.data.tasks import build_task
from unlearn.evaluation import Evaluator
from unlearn.feature_store import FeatureStore, run_context
from unlearn.models.factory import build_tokenizer, create_random
from unlearn.runtime import autocast_dtype


@pytest.fixture(scope="module")
def setup():
    cfg = compose_config("debug=default")
    bench = build_benchmark(cfg.dataset, transform=None)
    task = build_task(bench, cfg.forget, cfg.task, seed=0)
    return bench, task, build_tokenizer(cfg.backbone)


def _counting(monkeypatch, name):
    calls = []
    original = getattr(evaluation, name)
    monkeypatch.setattr(evaluation, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_features_and_heads_are_reused_until_their_tower_changes(setup, monkeypatch):
    bench, task, tokenizer = setup
    model = create_random("TinyRN").eval()
    images, texts = _counting(monkeypatch, "image_features"), _counting(monkeypatch, "chunked_class_embeddings")
    evaluate = Evaluator(bench, task, tokenizer, torch.device("cpu"), 256)
    first, _ = evaluate(model)
    n_images, n_texts = len(images), len(texts)
    assert evaluate(model)[0] == first and len(images) == n_images and len(texts) == n_texts
    with torch.no_grad():  # the smallest edit of one image-tower weight
        weight = model.visual.conv1.weight
        weight.view(-1)[0] = torch.nextafter(weight.view(-1)[0], torch.tensor(1.0))
    evaluate(model)
    assert len(images) == 2 * n_images and len(texts) == n_texts
    with torch.no_grad():
        model.text_projection.mul_(2.0)
    evaluate(model)
    assert len(images) == 2 * n_images and len(texts) == 2 * n_texts


def test_mixed_precision_falls_back_to_fp32_on_cpu(setup):
    bench, task, tokenizer = setup
    model = create_random("TinyRN").eval()
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu, "bf16") is None and autocast_dtype(cpu, "auto") is None
    assert Evaluator(bench, task, tokenizer, cpu, 256, "bf16")(model) == Evaluator(bench, task, tokenizer, cpu, 256, "fp32")(model)


def test_the_original_towers_outputs_are_stored_across_jobs_and_edits_are_not(setup, monkeypatch, tmp_path):
    bench, task, tokenizer = setup
    model = create_random("TinyRN").eval()
    images, texts = _counting(monkeypatch, "image_features"), _counting(monkeypatch, "chunked_class_embeddings")

    def job_evaluator() -> Evaluator:
        evaluate = Evaluator(bench, task, tokenizer, torch.device("cpu"), 256,
                             store=FeatureStore(tmp_path, run_context("TinyRN", torch.device("cpu"), "None", 256)))
        evaluate.keep_on_disk(model)
        return evaluate

    first = job_evaluator()(model)
    n_images, n_texts = len(images), len(texts)
    assert n_images > 0 and n_texts > 0
    later_job = job_evaluator()
    assert later_job(model) == first and (len(images), len(texts)) == (n_images, n_texts)
    stored = sorted(tmp_path.iterdir())
    with torch.no_grad():
        model.visual.conv1.weight.mul_(1.5)
    later_job(model)  # an edited image tower: computed, and not stored
    assert len(images) == 2 * n_images and sorted(tmp_path.iterdir()) == stored
