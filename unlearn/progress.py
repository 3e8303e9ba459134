"""Progress of the loops that can take more than a few seconds (method stages, Fisher, the soup
search, feature extraction): a tqdm bar with its rate on a terminal; elsewhere (Slurm logs, a
pipe) a log line on the `unlearn` logger at most every 10 s, and nothing for loops shorter than
that.

    for step in progress(range(steps), "stage 1 forget"):
        ...
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, TypeVar

from tqdm import tqdm

log = logging.getLogger("unlearn.progress")
LOG_EVERY_S = 10.0
T = TypeVar("T")


class _LogLines:
    """A file for tqdm that turns its status lines into log lines once the loop has run LOG_EVERY_S."""

    def __init__(self):
        self.start = time.monotonic()

    def write(self, text: str) -> None:
        line = text.strip("\r\n ")
        if line and time.monotonic() - self.start >= LOG_EVERY_S:
            log.info(line)

    def flush(self) -> None:
        pass


def progress(iterable: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterable[T]:
    if sys.stderr.isatty():
        return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False)
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=_LogLines(), mininterval=LOG_EVERY_S, ascii=True)
