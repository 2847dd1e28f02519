#!/usr/bin/env bash
# `make bench`: measure the add-on against stock Odoo 18 in one run; print a table and write
# docs/benchmarks.md. It never fails on speed: the exit status is 0 unless something crashes.
#   - its own mail stack ($MCL_STACKS/mailstack-bench, port base 22000: never the tests' 20000 or the demo's 10000);
#   - its own databases: mcl_bench_stock (account only) and mcl_bench (account + mcl_mailbox);
#   - MCL_BENCH_INVOICES (default 200) invoices per side; MCL_BENCH_REPEAT (default 5) connection tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/bootstrap.sh"
# shellcheck source=scripts/env.sh
source "$here/env.sh"

STACK=$MCL_STACKS/mailstack-bench
STACK_PORT_BASE=${MCL_BENCH_PORT_BASE:-22000}
DB=${MCL_BENCH_DB:-mcl_bench}
STOCK_DB=${MCL_BENCH_STOCK_DB:-mcl_bench_stock}
MAILSTACK=("$ODOO_PY" "$MCL_ROOT/scripts/mailstack")

cleanup() {
    "${MAILSTACK[@]}" stop --dir "$STACK" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> bench mail stack ($STACK, port base $STACK_PORT_BASE)"
"${MAILSTACK[@]}" start --dir "$STACK" --port-base "$STACK_PORT_BASE" >/dev/null

write_odoo_conf "$MCL_RUN/odoo-bench.conf" "$DB" "${MCL_BENCH_HTTP_PORT:-8269}" "$STACK"
write_odoo_conf "$MCL_RUN/odoo-bench-stock.conf" "$STOCK_DB" "${MCL_BENCH_STOCK_HTTP_PORT:-8279}" "$STACK"

cd "$MCL_ROOT"
"$ODOO_PY" "$MCL_ROOT/scripts/bench" \
    --odoo-home "$ODOO_HOME" --stack "$STACK" --port-base "$STACK_PORT_BASE" \
    --db "$DB" --conf "$MCL_RUN/odoo-bench.conf" \
    --stock-db "$STOCK_DB" --stock-conf "$MCL_RUN/odoo-bench-stock.conf" \
    --invoices "${MCL_BENCH_INVOICES:-200}" --repeat "${MCL_BENCH_REPEAT:-5}" \
    --run-dir "$MCL_RUN" --out "$MCL_ROOT/docs/benchmarks.md" --readme "$MCL_ROOT/README.md"
