import sys

from otel_agentkit.cli.main import main

sys.exit(main())
