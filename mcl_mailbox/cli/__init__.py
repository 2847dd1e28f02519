from . import mcl_mailbox
