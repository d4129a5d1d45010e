"""Reports as PDF (processes.base.pdf_from_html)."""

import ssl

from processes import base


def test_reports_load_the_ca_certificates_once_a_process(monkeypatch):
    # WeasyPrint's default URL fetcher makes a TLS context, loading the CA
    # certificates, for the page and again for its style sheet: some 35 ms each
    import weasyprint  # noqa: F401 - its own style sheets, made once at import, are not counted

    base.pdf_from_html("<p>warm</p>")
    loads = []
    original = ssl.SSLContext.load_default_certs
    monkeypatch.setattr(ssl.SSLContext, "load_default_certs",
                        lambda self, *a, **k: loads.append(1) or original(self, *a, **k))
    pages = [base.pdf_from_html(f"<html><body><h1>检测报告 {n}</h1><p>Report {n}</p></body></html>")
             for n in range(3)]
    assert all(page.startswith(b"%PDF") for page in pages)
    assert loads == []
