import torch

from unlearn.models.tokenizer import synthetic_tokenizer


def test_eot_has_the_largest_id_and_marks_the_end():
    tok = synthetic_tokenizer(vocab_size=64, context_length=16)
    ids = tok(["a photo of a red circle.", ""])
    assert ids.shape == (2, 16)
    # open_clip pools text features at argmax(token id): that must be the EOT position
    assert ids[0].argmax().item() == 7 and ids[0, 7].item() == 63
    assert ids[1].argmax().item() == 1 and ids[1, 0].item() == 62
    assert torch.all(ids[1, 2:] == 0)


def test_unknown_words_map_to_unk():
    tok = synthetic_tokenizer(vocab_size=64, context_length=16)
    assert tok.encode("zebra circle")[0] == 1
