import sys

from kerasviz.cli import main

sys.exit(main())
