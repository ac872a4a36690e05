"""Where the tests find the shared benchmark data: `SALAM_TEST_SHARED_DATA`, else the
`shared/data` folder beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir() -> Path:
    configured = os.environ.get("SALAM_TEST_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"
