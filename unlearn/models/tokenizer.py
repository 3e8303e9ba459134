"""Word-level tokenizer for the embedded synthetic world.

open_clip's BPE vocabulary has 49 408 entries: as an embedding table it would dwarf the tiny
CLIP. The synthetic world needs a few dozen words, so the tiny text towers use this tokenizer.
Layout follows open_clip's contract: 0 pads, SOT/EOT wrap the sentence, and EOT carries the
largest id because open_clip pools the text features at `argmax(token id)`.
"""

from __future__ import annotations

import torch

from unlearn.data.synthetic import vocabulary

PAD, UNK = "<pad>", "<unk>"


class WordTokenizer:
    def __init__(self, words: list[str], vocab_size: int, context_length: int):
        if len(words) + 4 > vocab_size:
            raise ValueError(f"{len(words)} words do not fit a vocabulary of {vocab_size}")
        self.ids = {PAD: 0, UNK: 1} | {w: i + 2 for i, w in enumerate(words)}
        self.sot, self.eot = vocab_size - 2, vocab_size - 1
        self.context_length = context_length

    def encode(self, text: str) -> list[int]:
        return [self.ids.get(w, self.ids[UNK]) for w in self._words(text)]

    def unknown_words(self, text: str) -> list[str]:
        """The words of `text` outside the vocabulary (each would read as <unk>)."""
        return [w for w in self._words(text) if w not in self.ids]

    @staticmethod
    def _words(text: str) -> list[str]:
        return text.lower().replace(",", " ").replace(".", " ").split()

    def __call__(self, texts: str | list[str], context_length: int | None = None) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        length = context_length or self.context_length
        out = torch.zeros(len(texts), length, dtype=torch.long)
        for row, text in enumerate(texts):
            ids = [self.sot, *self.encode(text)][: length - 1] + [self.eot]
            out[row, : len(ids)] = torch.tensor(ids)
        return out


def synthetic_tokenizer(vocab_size: int, context_length: int) -> WordTokenizer:
    return WordTokenizer(vocabulary(), vocab_size, context_length)
