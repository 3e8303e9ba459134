"""The code that computes a cached value is part of its key: a change to it without a bump of the
cache's version constant fails here (issue 27). Each cache lists the code its stored values come
from; `RECORDED` holds the version and the digest of that code (its syntax tree without comments
and docstrings, so rewording or reformatting needs no bump) as of the last bump.

When this fails: bump the constant named in the message (every user's entries of that cache are
then rebuilt once), and record the new pair the message prints."""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap

import pytest

from unlearn import feature_store, zeroshot
from unlearn.data import cache, file_index, images
from unlearn.models import tokenizer

# cache -> (its version constant, where it lives, the code its stored values come from)
COVERED = {
    "images": ("IMAGES_VERSION", cache, [images.FileImages.raw, images.ArrayImages.raw, cache._DecodeUint8,
                                          cache.split_transform, cache._write_pixels, cache.verified_shape]),
    "features": ("FEATURES_VERSION", feature_store, [zeroshot.prompts, zeroshot.class_embeddings,
                                                     zeroshot.chunked_class_embeddings, zeroshot.image_features,
                                                     tokenizer.WordTokenizer, feature_store.FeatureStore,
                                                     feature_store._bytes, feature_store._load]),
    "file index": ("INDEX_VERSION", file_index, [images.image_files, images.IMAGE_SUFFIXES, file_index.listed,
                                                 file_index._canonical, file_index._load]),
}
RECORDED = {  # cache -> (version, code digest) at the last bump
    "images": (1, "7d1521f0fc5c9a29"),
    "features": (1, "45017f83aa199319"),
    "file index": (1, "e8229322ea82d02d"),
}


def code_digest(objects) -> str:
    """One digest over functions and classes (their syntax) and constants (their repr)."""
    parts = [tree_digest(textwrap.dedent(inspect.getsource(obj))) if inspect.isfunction(obj) or inspect.isclass(obj)
             else repr(obj) for obj in objects]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def tree_digest(source: str) -> str:
    """The syntax tree of `source` without docstrings (comments never reach it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


@pytest.mark.parametrize("name", COVERED)
def test_the_code_behind_a_cache_changes_only_with_its_version(name):
    constant, module, objects = COVERED[name]
    version, (recorded_version, recorded_digest) = getattr(module, constant), RECORDED[name]
    now = code_digest(objects)
    if now == recorded_digest:
        assert version == recorded_version, f"{constant} is {version} but the code is unchanged since {recorded_version}"
        return
    assert version != recorded_version, (
        f"the code behind the {name} cache changed, and {module.__name__}.{constant} is still {version}: bump it "
        f"(stored {name} entries would otherwise be served as if computed by the new code), then record "
        f'RECORDED["{name}"] = ({version + 1}, "{now}") in {__name__}')
    pytest.fail(f'{constant} was bumped to {version}: record RECORDED["{name}"] = ({version}, "{now}") in {__name__}')


def test_the_digest_sees_code_and_not_its_comments_or_docstrings():
    code = 'def f(x):\n    """Doc."""\n    return x + 1  # a comment\n'
    assert tree_digest(code) == tree_digest('def f(x):\n    """Other words."""\n    return x + 1\n')
    assert tree_digest(code) != tree_digest('def f(x):\n    return x + 2\n')
