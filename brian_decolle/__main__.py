"""``python -m brian_decolle`` is the ``brian-decolle`` command."""
import sys

from .commands import main

sys.exit(main())
