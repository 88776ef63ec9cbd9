"""The parser contract (tests.contracts.ParserContract) on a real file of every built-in format."""

from __future__ import annotations

from tests.contracts import ParserContract

C = "examples/corpus/"


class TestText(ParserContract):
    source, phrase, garbage = C + "notes/support-faq.txt", "Updated 15 August 2024.", None


class TestMarkdown(ParserContract):
    source, phrase, garbage = C + "products/kestrune-kt40-manual.md", "Manual revision 4, issued 6 February 2023.", None


class TestHtml(ParserContract):
    source, phrase = C + "web/warranty.html", "Standard warranty"


class TestPdf(ParserContract):
    source, phrase = C + "reports/annual-report-2023.pdf", "Registered office: 22 Lantern Quay"


class TestDocx(ParserContract):
    source, phrase = C + "products/qp-07-final-test-procedure.docx", "procedure QP-07, revision C"


class TestPptx(ParserContract):
    source, phrase = C + "presentations/roadmap-2025.pptx", "Management offsite, 14 November"


class TestXlsx(ParserContract):
    source, phrase = C + "data/price-list-2024.xlsx", "KT-25-230"


class TestCsv(ParserContract):
    source, phrase = C + "data/spare-parts.csv", "VT-F-1120"


class TestJson(ParserContract):
    source, phrase = C + "data/product-catalog.json", "generated: 2024-07-01"


class TestJsonLines(ParserContract):
    source, phrase = C + "data/support-tickets.jsonl", "product: KT-40-230"


class TestEmail(ParserContract):
    source, phrase = C + "mail/2024-05-20-kt40-price-update.eml", "sales-team@velmarra-thermics.example"


class TestZip(ParserContract):
    source, phrase = C + "archive/legacy-docs.zip", "Thermics B.V., Dunsholt."
