from . import cli
from . import controllers
from .core import redact
from . import models
from . import wizards

redact.install()
