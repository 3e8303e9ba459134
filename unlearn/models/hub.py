"""Where open_clip's pretrained weights come from, decided in milliseconds.

open_clip downloads a tag's weights from the Hugging Face Hub; without network the hub client
retries for most of a minute before it gives up, even when the file is already cached. So the
cache is looked up first (and used directly), and a missing file fails at once when the hub
is switched off (HF_HUB_OFFLINE=1) or its host cannot be reached.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME


def cache_dir_shown(cache_dir: str | None) -> str:
    from huggingface_hub import constants

    return cache_dir or constants.HF_HUB_CACHE


def cached_weights(tag_cfg: dict, cache_dir: str | None) -> str | None:
    """Path of a tag's weights in the local hub cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    if not tag_cfg.get("hf_hub"):
        return None
    # open_clip's convention: 'org/repo/' (default file names) or 'org/repo/file.bin'
    repo, filename = os.path.split(tag_cfg["hf_hub"])
    candidates = [filename] if filename else [HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME]
    if filename.endswith((".bin", ".pth")):
        candidates.insert(0, filename[:-4] + ".safetensors")  # open_clip prefers the safetensors twin
    for name in candidates:
        path = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
        if isinstance(path, str):
            return path
    return None


def hub_unreachable(timeout_s: float = 3.0) -> str | None:
    """Why the hub cannot be used now, or None when a download may be tried."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    if os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy"):
        return None  # behind a proxy a direct probe says nothing: let the download try
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError as err:
        return f"{host} unreachable: {err}"
    return None
