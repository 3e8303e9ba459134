"""The plugin's own tests, run with the plugin installed: `pytest examples/plugin/tests`."""

import open_clip

from unlearn.methods import METHODS
from unlearn.metrics import METRICS
from unlearn_shrink_text import ShrinkTextConfig, name_tokens


def test_the_registries_list_the_plugins_method_and_metric():
    assert METHODS.get("shrink_text").config is ShrinkTextConfig
    assert "name_norm" in METRICS.load()


def test_name_tokens_are_the_names_words_only():
    tokenizer = open_clip.get_tokenizer("RN50")  # CLIP's BPE: start, end and padding tokens around the words
    tokens = name_tokens(tokenizer, ["arrow", "red heart"])
    assert len(tokens) == 3 and set(tokens) == set(name_tokens(tokenizer, ["arrow", "red", "heart"]))
