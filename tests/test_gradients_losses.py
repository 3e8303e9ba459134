import torch

from unlearn.gradients import gradient_statistics
from unlearn.losses import distillation_kl


def test_gradient_statistics_mean_of_powers():
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    model = torch.nn.Module()
    model.w = w
    batches = [torch.tensor([1.0, 1.0]), torch.tensor([3.0, -1.0])]
    stats = gradient_statistics(model, {"w": w}, batches, lambda x: (w * x).sum(), power=2)
    assert torch.allclose(stats["w"], torch.tensor([(1 + 9) / 2, (1 + 1) / 2]))
    assert w.grad is None


def test_distillation_kl_zero_iff_same():
    logits = torch.randn(4, 10)
    assert distillation_kl(logits, logits, 2.0).abs() < 1e-6
    assert distillation_kl(logits, torch.randn(4, 10), 2.0) > 0
