import functools
import logging
import subprocess
from collections import OrderedDict

import lxml.html

from odoo import api, models

from odoo.addons.base.models.ir_actions_report import _get_wkhtmltopdf_bin

_logger = logging.getLogger(__name__)

# Top and bottom page margin (mm) once the header and footer are part of the page: the margin
# Odoo's report styles leave on the sides ($o-default-report-margins).
PLAIN_MARGIN = 11
HAS_CLASS = "contains(concat(' ', normalize-space(@class), ' '), ' {} ')"


@functools.cache
def wkhtmltopdf_has_patched_qt():
    """Whether the installed wkhtmltopdf prints separate headers and footers: only a build "with
    patched qt" (as its ``--version`` says) does. Asked once per process, as Odoo asks the version."""
    try:
        version = subprocess.run([_get_wkhtmltopdf_bin(), "--version"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return True  # no usable wkhtmltopdf: Odoo says so itself, and there is nothing to adapt
    if "patched qt" in version.lower():
        return True
    _logger.info("%s has no patched Qt: report headers and footers are printed in the page body",
                 version.strip() or "wkhtmltopdf")
    return False


def _parts(html, container_id):
    """The headers (or footers) of the documents, in the element ``container_id`` of ``html``."""
    return lxml.html.document_fromstring(html).xpath(f"//*[@id='{container_id}']/*") if html else []


def _nth(elements, index):
    return elements[index] if index < len(elements) else None


def _with_header_and_footer(body, header, footer):
    """The HTML document ``body`` with the ``header`` element at its top and ``footer`` at its end,
    without the footer's page numbers (only a patched wkhtmltopdf fills them in)."""
    document = lxml.html.document_fromstring(body)
    page = document.find("body")
    if header is not None:
        # The page's top margin stands for the header's own (.o_css_margins .header), as on Odoo's page.
        header.set("style", "; ".join(filter(None, [header.get("style"), "padding-top: 0"])))
        page.insert(0, header)
    if footer is not None:
        numbers = footer.xpath(f".//span[{HAS_CLASS.format('page')} or {HAS_CLASS.format('topage')}]")
        for line in {number.getparent() for number in numbers} - {footer}:  # "Page 1 / 2"
            line.drop_tree()
        if footer.text_content().strip():  # the company's footer (phone, email, VAT number...), if any
            page.append(footer)
    doctype = document.getroottree().docinfo.doctype  # without it, wkhtmltopdf lays the page out in quirks mode
    return lxml.html.tostring(document, encoding="unicode", doctype=doctype or None)


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    @api.model
    def _render_qweb_pdf_prepare_streams(self, report_ref, data, res_ids=None):
        """Render several documents one per wkhtmltopdf call when the installed build cannot do more.

        Odoo renders a batch (the list's sending: 20 invoices per run of the send job) in one call and
        splits the result by its outline; a build without patched Qt refuses more than one input
        document and writes no outline, so each document gets its own call, with the same result.
        """
        ids = list(res_ids or [])
        if len(set(ids)) < 2 or len(set(ids)) != len(ids) or wkhtmltopdf_has_patched_qt():
            return super()._render_qweb_pdf_prepare_streams(report_ref, data, res_ids=res_ids)
        streams = OrderedDict()
        for res_id in ids:
            streams.update(super()._render_qweb_pdf_prepare_streams(report_ref, dict(data or {}), res_ids=[res_id]))
        return streams

    @api.model
    def _run_wkhtmltopdf(self, bodies, report_ref=False, header=None, footer=None, landscape=False,
                         specific_paperformat_args=None, set_viewport_size=False):
        """Print the header and footer with a wkhtmltopdf whose Qt is not patched (Debian's, Ubuntu's).

        Odoo gives wkhtmltopdf each document's header and footer apart (``--header-html``,
        ``--footer-html``), printed in the page's top and bottom margins; only a build with patched Qt
        prints them, others ignore them ("not support using unpatched qt"), and the invoice loses the
        practice's name, address and VAT number, which a French invoice must show. With such a build,
        each document's header is put at the top of its body and its footer at its end (without page
        numbers, which it cannot print), and the margins kept for them shrink to a plain margin.
        With a patched build, nothing changes.
        """
        if (header or footer) and not wkhtmltopdf_has_patched_qt():
            # one header and one footer per body, in the order of the bodies (see web.minimal_layout)
            headers = _parts(header, "minimal_layout_report_headers")
            footers = _parts(footer, "minimal_layout_report_footers")
            bodies = [
                _with_header_and_footer(body, _nth(headers, index), _nth(footers, index))
                for index, body in enumerate(bodies)
            ]
            header = footer = None
            specific_paperformat_args = self._mcl_plain_margins(report_ref, specific_paperformat_args)
        return super()._run_wkhtmltopdf(
            bodies, report_ref=report_ref, header=header, footer=footer, landscape=landscape,
            specific_paperformat_args=specific_paperformat_args, set_viewport_size=set_viewport_size,
        )

    @api.model
    def _mcl_plain_margins(self, report_ref, specific_paperformat_args):
        """``specific_paperformat_args`` with top and bottom margins of at most ``PLAIN_MARGIN``."""
        paperformat = (self._get_report(report_ref) if report_ref else self).get_paperformat()
        args = dict(specific_paperformat_args or {})
        for side in ("top", "bottom"):
            key = f"data-report-margin-{side}"
            margin = float(args.get(key) or (paperformat[f"margin_{side}"] if paperformat else PLAIN_MARGIN))
            args[key] = f"{min(margin, PLAIN_MARGIN):g}"
        return args
