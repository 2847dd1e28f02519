from . import test_mailbox_setup
from . import test_mailbox_access
from . import test_mailbox_sending
from . import test_mailbox_secrets
from . import test_tours
from . import test_fetchmail_server
from . import test_i18n
