import sys

from totaldemand.cli import app

sys.exit(app())
