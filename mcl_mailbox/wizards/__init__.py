from . import mcl_mailbox_setup
from . import account_move_send_wizard
