import torch

from unlearn.lora import add_lora, merge_lora
from unlearn.models.factory import create_random

NAMES = ["visual.layer4.0.conv2.weight", "visual.attnpool.c_proj.weight", "text_projection",
         "transformer.resblocks.1.attn.in_proj_weight"]


def _outputs(model, images, tokens):
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(tokens)


def test_fresh_adapter_changes_nothing_and_merge_equals_adapted_model():
    torch.manual_seed(0)
    model = create_random("TinyRN").eval()
    images, tokens = torch.randn(4, 3, 32, 32), torch.randint(1, 60, (4, 16))
    reference = _outputs(model, images, tokens)
    params = add_lora(model, NAMES, rank=4, alpha=4)
    assert len(params) == 2 * len(NAMES)
    for out, ref in zip(_outputs(model, images, tokens), reference):
        assert torch.allclose(out, ref)  # B starts at zero
    with torch.no_grad():
        for p in params:
            p.add_(0.05 * torch.randn_like(p))
    adapted = _outputs(model, images, tokens)
    assert not torch.allclose(adapted[0], reference[0])
    merge_lora(model)
    assert set(model.state_dict()) == set(create_random("TinyRN").state_dict())
    for out, ref in zip(_outputs(model, images, tokens), adapted):
        assert torch.allclose(out, ref, atol=1e-5)


def test_only_adapters_train():
    model = create_random("TinyRN")
    params = add_lora(model, ["text_projection"], rank=2, alpha=2)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in params} <= {id(p) for p in trainable}
    assert not model.parametrizations.text_projection.original.requires_grad
