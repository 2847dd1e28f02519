.PHONY: run test faults bench lint stop pot screenshots readme

run:  ## the demo on http://localhost:8069
	bash scripts/run_demo.sh

test:  ## every test: lint, pure-Python, add-on and browser tests
	bash scripts/run_tests.sh

faults:  ## 200 invoices from the list while the SMTP server hangs then vanishes: each must arrive once, by itself
	bash scripts/faults.sh

lint:
	bash scripts/bootstrap.sh && . scripts/env.sh && $$MCL_VENV/bin/ruff check . && $$MCL_VENV/bin/pylint --rcfile=.pylintrc-mandatory mcl_mailbox mcl_mailbox_demo

stop:  ## stop what a killed `make run` or `make test` left: the demo's Odoo, DNS server, the mail stacks
	bash scripts/run_demo.sh --stop
	bash -c '. scripts/env.sh && $$ODOO_PY scripts/mailstack stop --dir $$MCL_STACKS/mailstack-test && $$ODOO_PY scripts/mailstack stop-left --root $$MCL_STACKS'

pot:  ## export mcl_mailbox.pot with Odoo's exporter, merge it into fr.po, list what is untranslated
	bash scripts/i18n_export.sh

screenshots:  ## the French documentation's screenshots (docs/fr/img), taken by Chromium from the real UI
	bash scripts/screenshots.sh

bench:  ## measure against stock Odoo 18 (own mail stack and databases); writes docs/benchmarks.md
	bash scripts/bench.sh

readme:  ## README.rst and static/description/index.html of each add-on from its readme/ fragments (OCA's format)
	bash scripts/gen_readme.sh
