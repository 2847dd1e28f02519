from . import cli
from .core import redact
from . import models
from . import wizards

redact.install()
