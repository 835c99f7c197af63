"""Shared test set-up: the import path, and the Hypothesis profile chosen by $HYPOTHESIS_PROFILE.

Without $HYPOTHESIS_PROFILE the profile is ``ci`` when $CI is set and ``dev`` otherwise; the profiles
themselves live in ``autograd.testing.PROFILES`` so users of autograd.testing can load the same ones.
"""

import sys
from pathlib import Path

# NOTE: pytest puts this directory on sys.path, where tests/autograd and tests/nn (no __init__.py)
# would be imported as empty namespace packages named `autograd` and `nn` ("cannot import name 'OPS'
# from 'autograd' (unknown location)"): the editable install's finder is consulted only after
# sys.path. With the repository root on sys.path, the real packages win.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograd.testing import load_profile  # noqa: E402 - needs the path set above

load_profile()
