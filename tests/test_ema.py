import pytest
import torch

from unlearn.ema import WeightEMA
from unlearn.errors import UnlearnError


def test_ema_averages_and_writes_back():
    p = torch.nn.Parameter(torch.tensor([0.0, 10.0]))
    ema = WeightEMA([p], decay=0.5)
    with torch.no_grad():
        p.copy_(torch.tensor([4.0, 2.0]))
    ema.update()  # 0.5·[0, 10] + 0.5·[4, 2]
    with torch.no_grad():
        p.copy_(torch.tensor([8.0, 6.0]))
    ema.update()  # 0.5·[2, 6] + 0.5·[8, 6]
    assert torch.equal(p.detach(), torch.tensor([8.0, 6.0]))
    ema.copy_to()
    assert torch.equal(p.detach(), torch.tensor([5.0, 6.0]))


def test_ema_decay_validated():
    with pytest.raises(UnlearnError, match=r"EMA decay must be in \[0, 1\), got 1.0"):
        WeightEMA([], decay=1.0)
