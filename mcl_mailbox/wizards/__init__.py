from . import mcl_mailbox_setup
