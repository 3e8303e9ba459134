import torch

from unlearn.models.checkpoint import load_checkpoint, save_checkpoint
from unlearn.models.factory import create_random


def test_roundtrip_keeps_arch_flags_and_weights(tmp_path):
    model = create_random("TinyRN")
    path = save_checkpoint(tmp_path / "m.pt", model.state_dict(), "TinyRN", {"quick_gelu": False})
    state, arch, flags = load_checkpoint(path)  # loads with weights_only=True
    assert arch == "TinyRN" and flags == {"quick_gelu": False}
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key


def test_half_storage_loads_as_float32(tmp_path):
    model = create_random("TinyViT")
    path = save_checkpoint(tmp_path / "m.pt", model.state_dict(), "TinyViT", {}, half=True)
    state, _, _ = load_checkpoint(path)
    weight = model.state_dict()["text_projection"]
    assert state["text_projection"].dtype == torch.float32
    assert torch.allclose(state["text_projection"], weight, atol=1e-3)
