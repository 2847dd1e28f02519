# Shared settings for the project scripts; source it, do not run it.
MCL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MCL_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mcl_mailbox
MCL_ODOO_CACHE=$MCL_CACHE/odoo-18.0
MCL_ODOO_NIGHTLY=${MCL_ODOO_NIGHTLY:-https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz}
MCL_PYTHON=${MCL_PYTHON:-python3}
MCL_VENV=${MCL_VENV:-$MCL_CACHE/venv-$("$MCL_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)}
ODOO_HOME=${ODOO_SRC:-$MCL_ODOO_CACHE}
# Both layouts: the release tree keeps every add-on in odoo/addons, the git tree in addons/.
if [ -d "$ODOO_HOME/addons/web" ] && [ ! -d "$ODOO_HOME/odoo/addons/web" ]; then
    ODOO_ADDONS=$ODOO_HOME/addons
else
    ODOO_ADDONS=$ODOO_HOME/odoo/addons
fi
MCL_ADDONS_PATH=$ODOO_ADDONS,$MCL_ROOT
MCL_RUN=${MCL_RUN:-$MCL_ROOT/.run}
# The mail stacks live where Dovecot's unprivileged users can reach them: a clone may sit in a
# private (0700) folder. One folder per clone, named after its path.
MCL_STACKS=${MCL_STACKS:-/tmp/mcl_mailbox-stacks-$(printf %s "$MCL_ROOT" | cksum | cut -d' ' -f1)}
ODOO_PY=$MCL_VENV/bin/python
export PYTHONPATH=$ODOO_HOME${PYTHONPATH:+:$PYTHONPATH}

# write_plain_odoo_conf FILE DB HTTP_PORT [DATA_DIR]: an odoo.conf with the add-ons, the database and
# the HTTP port only, as any Odoo has: what `odoo-bin --test-enable` runs the add-on's tests with.
write_plain_odoo_conf() {
    local file=$1 db=$2 http_port=$3 data_dir=${4:-$MCL_RUN/filestore}
    mkdir -p "$(dirname "$file")"
    (umask 077; cat > "$file" <<CONF
[options]
addons_path = $MCL_ADDONS_PATH
db_name = $db
dbfilter = ^$db\$
http_interface = 127.0.0.1
http_port = $http_port
gevent_port = $((http_port + 3))
data_dir = $data_dir
list_db = False
CONF
)
}

# write_odoo_conf FILE DB HTTP_PORT MAILSTACK_DIR [DATA_DIR]: an odoo.conf for the demo or the tests,
# with the mailbox key (made once, kept in .run/, never committed), the local CA, and private hosts allowed
# (the local mail stack is on 127.0.0.1).
write_odoo_conf() {
    local file=$1 db=$2 http_port=$3 stack=$4 data_dir=${5:-$MCL_RUN/filestore} keyfile=$MCL_RUN/mcl_mailbox_keys
    mkdir -p "$MCL_RUN"
    if [ ! -s "$keyfile" ]; then
        (umask 077; "$ODOO_PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())' > "$keyfile")
    fi
    write_plain_odoo_conf "$file" "$db" "$http_port" "$data_dir"
    cat >> "$file" <<CONF
mcl_mailbox_keys = $(cat "$keyfile")
mcl_mailbox_ca_file = $stack/ca.pem
mcl_mailbox_allow_private_hosts = True
CONF
}

# port_free PORT: true when nothing listens on 127.0.0.1:PORT
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
