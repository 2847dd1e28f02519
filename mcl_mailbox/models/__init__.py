from . import mcl_mailbox_provider
from . import mcl_mailbox_mixin
from . import ir_mail_server
from . import fetchmail_server
from . import res_users
from . import mail_mail
from . import account_move
from . import account_move_send
