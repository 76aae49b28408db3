import sys

from cashmatch.cli import main

sys.exit(main())
