"""`python -m localmesh` runs the CLI."""

import sys

from localmesh.cli import main

sys.exit(main())
