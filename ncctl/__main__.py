"""Allow ``python -m ncctl``."""

from ncctl.cli.main import main

raise SystemExit(main())
