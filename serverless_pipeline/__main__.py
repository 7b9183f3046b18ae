"""`python -m serverless_pipeline` is the `serverless-pipeline` command."""

from .cli import main

raise SystemExit(main())
