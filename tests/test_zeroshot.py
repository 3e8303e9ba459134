"""unlearn/zeroshot.py: class heads a chunk of classes at a time give the one-batch head and its
gradient, and a trainable text tower encodes only the rows a loss asks for."""

import torch

from tests.conftest import DEBUG, compose_config
from unlearn import zeroshot
from unlearn.loops import ClassHead
from unlearn.models.backbones import build_backbone

NAMES = ["circle", "square", "triangle", "diamond", "cross", "star", "crescent"]
TEMPLATES = ["a {}.", "a photo of a {}."]


def _model():
    model, tokenizer = build_backbone(compose_config(*DEBUG).backbone)
    return model.eval(), tokenizer


def _head_and_grads(model, tokenizer):
    model.zero_grad(set_to_none=True)
    head = zeroshot.chunked_class_embeddings(model, tokenizer, NAMES, TEMPLATES, torch.device("cpu"))
    (head * torch.linspace(-1, 1, head.numel()).view_as(head)).sum().backward()
    return head.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_chunked_head_and_its_gradient_equal_one_batch(monkeypatch):
    model, tokenizer = _model()
    one_head, one_grads = _head_and_grads(model, tokenizer)
    calls = []
    real = zeroshot.checkpoint
    monkeypatch.setattr(zeroshot, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(zeroshot, "PROMPTS_PER_BACKWARD", 6)  # 3 classes × 2 templates per chunk
    head, grads = _head_and_grads(model, tokenizer)
    assert len(calls) == 3  # 7 classes in chunks of 3: each recomputed in the backward pass
    assert torch.allclose(head, one_head, atol=1e-6)
    assert set(grads) == set(one_grads) and grads
    for name, grad in grads.items():
        assert torch.allclose(grad, one_grads[name], atol=1e-6), name


def test_a_trainable_head_encodes_only_the_rows_asked_for(monkeypatch):
    model, tokenizer = _model()
    head = ClassHead(model, tokenizer, NAMES, TEMPLATES, torch.device("cpu"), text_trains=True)
    whole = head()
    assert torch.equal(head([5, 1]), whole[[5, 1]])  # within one chunk: the whole head's rows, bit for bit
    monkeypatch.setattr(zeroshot, "PROMPTS_PER_BACKWARD", 6)  # more than one chunk: only the rows asked for
    encoded = []
    real = zeroshot.class_embeddings
    monkeypatch.setattr(zeroshot, "class_embeddings", lambda m, t, names, *a: encoded.extend(names) or real(m, t, names, *a))
    rows = head([5, 1])
    assert encoded == ["star", "square"]
    assert torch.allclose(rows, whole[[5, 1]], atol=1e-6)
    fixed = ClassHead(model, tokenizer, NAMES, TEMPLATES, torch.device("cpu"), text_trains=False)
    assert torch.equal(fixed([5, 1]), fixed()[[5, 1]])
