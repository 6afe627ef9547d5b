"""`python -m cnnlab` is the `cnnlab` command."""

from __future__ import annotations

import sys

from cnnlab.cli import main

sys.exit(main())
