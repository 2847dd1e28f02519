"""Helpers of the security tests: every form a secret may take, and a search of the whole database."""

import base64
import json
import xmlrpc.client

from psycopg2 import sql

# Odoo's XML-RPC fault codes (odoo.http) and the exception each stands for.
XMLRPC_FAULTS = {2: "UserError", 3: "AccessDenied", 4: "AccessError"}

# Where an encrypted password may legitimately be stored.
TOKEN_COLUMNS = {
    "ir_mail_server.mcl_password_token",
    "fetchmail_server.mcl_password_token",
    "mcl_mailbox_setup.mcl_password_token",
}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret_forms(login, password):
    """The clear password as typed, as SMTP AUTH LOGIN sends it, and as AUTH PLAIN sends it."""
    return [password, b64(password), b64(f"\0{login}\0{password}")]


def token_forms(token):
    """The stored token, and its Fernet part alone."""
    return [token, token.partition(":")[2]]


def columns_containing(cr, needles):
    """Every "table.column" of text in the database (this transaction's view) holding one of ``needles``."""
    cr.execute("""
        SELECT c.table_name, array_agg(c.column_name::text)
          FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('text', 'character varying', 'jsonb')
         GROUP BY c.table_name
    """)
    patterns = ["%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                for needle in needles]
    found = set()
    for table, columns in cr.fetchall():
        if _holds(cr, table, columns, patterns):
            found |= {f"{table}.{column}" for column in columns if _holds(cr, table, [column], patterns)}
    return found


def _holds(cr, table, columns, patterns):
    condition = sql.SQL(" OR ").join(
        sql.SQL("{}::text LIKE ANY(%(patterns)s)").format(sql.Identifier(column)) for column in columns
    )
    cr.execute(sql.SQL("SELECT 1 FROM {} WHERE {} LIMIT 1").format(sql.Identifier(table), condition),
               {"patterns": patterns})
    return bool(cr.fetchone())


class RpcMixin:
    """Calls as a user over XML-RPC, the external JSON-RPC and the web client's call_kw (for an HttpCase).

    Each returns (result, error text); the error text is "" on success.
    """

    def xmlrpc(self, user, model, method, *args, **kwargs):
        try:
            return self.xmlrpc_object.execute_kw(self.env.cr.dbname, user.id, user.login, model, method,
                                                 list(args), kwargs), ""
        except xmlrpc.client.Fault as fault:
            return None, f"{XMLRPC_FAULTS.get(fault.faultCode, 'Fault')}: {fault.faultString}"

    def jsonrpc(self, user, model, method, *args, **kwargs):
        return self.post_json("/jsonrpc", {"service": "object", "method": "execute_kw", "args": [
            self.env.cr.dbname, user.id, user.login, model, method, list(args), kwargs]})

    def call_kw(self, user, model, method, *args, **kwargs):
        self.authenticate(user.login, user.login)
        return self.post_json(f"/web/dataset/call_kw/{model}/{method}",
                              {"model": model, "method": method, "args": list(args), "kwargs": kwargs})

    def post_json(self, route, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        answer = self.url_open(route, data=body, headers={"Content-Type": "application/json"}).json()
        return answer.get("result"), json.dumps(answer.get("error") or "")
