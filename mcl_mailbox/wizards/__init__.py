from . import mcl_mailbox_setup
from . import mcl_mailbox_setup_discovery
from . import account_move_send_wizard
