import sys

from kerasviz.apps.cli import main

sys.exit(main())
