"""`make bench`: the add-on measured against stock Odoo 18 in one run (see scripts/bench.sh)."""
