"""``python -m convscope …`` is the ``convscope`` command."""
import sys

from convscope.server.cli import main

sys.exit(main())
