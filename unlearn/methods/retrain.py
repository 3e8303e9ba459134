"""The deep control (`method=retrain`): exact unlearning, the model the papers call the gold standard.

The tiny CLIP is pretrained again from scratch with the same recipe but without the forget spec's
images (the audit reference's machinery, unlearn.models.tiny.retrained), on its own pretraining
seed (the backbone's + `pretrain_seed_offset`, so it is not the audit's reference model itself),
and cached like every tiny checkpoint: ~5 min (tiny_rn) or ~15 min (tiny_vit) on one core the first
time, a load after. It never saw the forget images, so no audit metric may find them in it.

Only the tiny CLIPs of the embedded world can be retrained here; any other backbone or dataset is
rejected with one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from unlearn.config.ranges import at_least
from unlearn.config.schema import MethodConfig
from unlearn.errors import UnlearnError
from unlearn.methods import METHODS
from unlearn.models.backbones import build_backbone
from unlearn.models.tiny import retrained


@dataclass
class RetrainConfig(MethodConfig):
    pretrain_seed_offset: int = at_least(1, 1000)  # added to backbone.pretrain.seed


@METHODS.register("retrain", RetrainConfig, rank=2, label="retrain (deep control)", requests=False)
def retrain(ctx) -> None:
    if ctx.backbone is None or ctx.forget is None:
        raise UnlearnError("method=retrain needs the run's backbone and forget configs (run it through python -m unlearn)")
    backbone = retrained(ctx.backbone, ctx.forget, ctx.bench.name, "method=retrain", ctx.cfg.pretrain_seed_offset)
    ctx.model.load_state_dict(build_backbone(backbone)[0].state_dict())
    ctx.summary({"retrain/pretrain_seed": int(backbone.pretrain.seed)})
