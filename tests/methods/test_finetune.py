"""finetune: trains on the retain set and never reads forget data."""

from tests.methods.helpers import changed, weights, without
from unlearn.methods import METHODS


def test_finetune_trains_without_reading_any_forget_image(method_ctx, debug_benchmark):
    task = without(debug_benchmark[3], "forget_train", "calib_forget")
    ctx = method_ctx("finetune", task=task)
    before = weights(ctx.model)
    METHODS.get("finetune").run(ctx)  # an Untouchable forget set fails the test on the first read
    assert any(k.startswith("visual.") for k in changed(before, weights(ctx.model)))
