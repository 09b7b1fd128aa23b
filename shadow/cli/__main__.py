"""`python -m shadow.cli`: the same command line as the `shadow` script."""

from shadow.cli import main

raise SystemExit(main())
