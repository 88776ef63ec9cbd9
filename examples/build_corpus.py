"""(Re)create the binary-format documents of the example corpus.

The example corpus describes Velmarra Thermics B.V., a fictional company; every name, number
and date in it is invented. The plain-text documents (.md, .txt, .html, .csv, .json, .jsonl)
are written by hand and live directly under examples/corpus/. This script generates the rest
from the text defined below:

    reports/annual-report-2023.pdf                      (fpdf2, multi-page, table as text rows)
    products/kestrune-kt40-firmware-3.2-release-notes.pdf
    policies/employee-handbook-2022.docx                (python-docx, Heading styles)
    products/qp-07-final-test-procedure.docx            (python-docx, with a table)
    presentations/roadmap-2025.pptx                     (python-pptx, with a table)
    data/price-list-2024.xlsx                           (openpyxl, header row)
    mail/2024-05-20-kt40-price-update.eml               (text body + price-changes.csv)
    archive/legacy-docs.zip                             (legacy/ov10-quickstart.txt,
                                                         legacy/warranty-terms-2019.md)

Output is deterministic: fixed dates and metadata, fixed MIME boundary, and every zip-based
file (docx/pptx/xlsx/zip) rewritten with fixed member timestamps, so re-running produces
byte-identical files.

Run from the repository root:  .venv/bin/python examples/build_corpus.py
"""

from __future__ import annotations

import io
import re
import sys
import textwrap
import zipfile
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
FIXED_ZIP_TIME = (2024, 11, 29, 12, 0, 0)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _normalise_zip(path: Path, core_modified: str | None = None) -> None:
    """Rewrite a zip-based file with fixed timestamps (and a fixed dcterms:modified)."""
    with zipfile.ZipFile(path) as zin:
        members = [(info, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info, data in members:
            if core_modified and info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + core_modified.encode() + rb"\g<2>",
                    data,
                )
            new = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            zout.writestr(new, data)
    path.write_bytes(buf.getvalue())


def _out(rel: str) -> Path:
    p = CORPUS / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


# --------------------------------------------------------------------------------------------
# PDF: annual report 2023 (multi-page, tables drawn as text rows)
# PDF core fonts are Latin-1 only: keep this text ASCII/Latin-1 (no euro sign, no dashes).
# --------------------------------------------------------------------------------------------

ANNUAL_REPORT = [
    ("title", "Velmarra Thermics B.V. - Annual Report 2023"),
    ("p", "Published 18 March 2024. Registered office: 22 Lantern Quay, Dunsholt."),
    ("h", "Letter from the CEO"),
    ("p", "Dear colleagues, customers and partners, 2023 was the strongest year in the history "
          "of Velmarra Thermics. Revenue grew by 10 percent to EUR 71.4 million, up from "
          "EUR 64.9 million in 2022, and order intake reached EUR 75.8 million. We entered 2024 "
          "with an order backlog of EUR 19.2 million, which gives our plants a solid start to "
          "the new year."),
    ("p", "Our Kestrune chillers were again the main driver of growth. We shipped 5,310 "
          "Kestrune chillers in 2023, and the KT-40 has become the best-selling product in our "
          "history. Orvaline controllers grew steadily thanks to the OV-12-X with its built-in "
          "data logger. Tamsel revenue declined slightly because the last TB-6 units were sold "
          "in 2022 and the new TB-8 and TB-14 circulators needed a few months to reach full "
          "volume."),
    ("p", "I thank all 418 colleagues for their work in a year of supply-chain pressure and "
          "rapid growth. - Ansgar Villepreux, Chief Executive Officer"),
    ("h", "Key figures"),
    ("table", [
        ("Key figure", "2022", "2023"),
        ("Revenue (EUR million)", "64.9", "71.4"),
        ("Order intake (EUR million)", "66.3", "75.8"),
        ("R&D spend (EUR million)", "6.1", "6.9"),
        ("Employees at year end", "391", "418"),
        ("Export share of revenue", "55%", "58%"),
        ("On-time delivery rate", "91.8%", "94.2%"),
    ]),
    ("page", None),
    ("h", "Revenue by product line"),
    ("p", "The table below shows revenue per product line in EUR million. Service and parts "
          "include spare parts, repairs, calibration and Thermwatch subscriptions."),
    ("table", [
        ("Product line", "2022", "2023"),
        ("Kestrune chillers", "38.2", "43.6"),
        ("Orvaline controllers", "15.1", "16.3"),
        ("Tamsel circulators", "7.4", "7.0"),
        ("Service and parts", "4.2", "4.5"),
        ("Total", "64.9", "71.4"),
    ]),
    ("h", "Technology"),
    ("p", "Report by Maren Olthuys, Chief Technology Officer. We invested EUR 6.9 million in "
          "research and development in 2023, or 9.7 percent of revenue. The most important "
          "project is the Kestrune KT-60, a 6 kW chiller with a natural refrigerant, whose "
          "development started in April 2023. Firmware 3.1 for the KT-40, released in "
          "January 2024, adds a configurable night setback. At year end 2,840 units were "
          "connected to the Thermwatch remote-diagnostics portal, compared with 1,960 a year "
          "earlier."),
    ("h", "Operations"),
    ("p", "The Kelsbrück plant ran two shifts on both assembly lines for most of the year. A "
          "proposal for a third assembly line will be presented to the management team in "
          "2024. Average lead time for a KT-40 fell from seven weeks to four weeks between "
          "January and December. The Port Ardlow service centre refurbished 212 returned "
          "chillers, which were resold with a full warranty."),
    ("page", None),
    ("h", "People"),
    ("p", "At 31 December 2023 Velmarra employed 418 people, 27 more than a year earlier. Most "
          "new colleagues joined the Kelsbrück plant and the Valdrenne sales office. Voluntary "
          "staff turnover was 6.4 percent. Every employee completed at least one training course "
          "during the year."),
    ("h", "Outlook 2024"),
    ("p", "For 2024 we expect revenue between EUR 75 million and EUR 79 million, driven by the "
          "KT-40 and by continued growth in service. Investments will focus on production "
          "capacity at Kelsbrück and on the KT-60 pilot build."),
    ("h", "Auditor"),
    ("p", "The financial statements for 2023 were audited by Brakkenfeld & Rosse Accountants, "
          "who issued an unqualified opinion dated 4 March 2024."),
]

FIRMWARE_NOTES = [
    ("title", "Kestrune KT-40 Firmware 3.2.0 - Release Notes"),
    ("p", "Release date: 9 September 2024. Released by: Controls Firmware team, Velmarra "
          "Thermics. Applies to: Kestrune KT-40-230 and KT-40-400."),
    ("p", "Image file: KT40_FW_3.2.0.bin (published in the Thermwatch portal under Downloads)."),
    ("h", "Before you update"),
    ("p", "Firmware 3.2.0 can only be installed on units running firmware 3.0.4 or later. Units "
          "with older firmware must first be updated to 3.0.4. Copy the image file to a "
          "FAT32-formatted USB stick, insert it in the service port and confirm the update on "
          "the display. The update takes about 6 minutes. Do not switch the unit off while the "
          "update is running; the pump and compressor stay off during the update."),
    ("h", "New features"),
    ("p", "1. Higher maximum flow setpoint. The maximum flow setpoint is raised to 22 L/min. "
          "This replaces the limit of 18 L/min that applied in firmware 3.0 and 3.1 and that "
          "is stated in operating manual revision 4. The minimum flow stays at 4 L/min."),
    ("p", "2. Pump dry-run protection. New error code E23: the pump stops when no flow is "
          "measured within 20 seconds after the pump starts, for example when the reservoir "
          "was not filled. Acknowledge E23 on the display after filling."),
    ("p", "3. Eco mode. When the cooling load stays low, the compressor runs at reduced speed. "
          "This reduces idle power consumption by up to 31 percent. Eco mode is off by default "
          "and can be switched on in the Settings menu."),
    ("p", "4. Thermwatch reporting interval. The interval at which a connected unit reports to "
          "Thermwatch can now be set between 10 seconds and 5 minutes."),
    ("h", "Fixes"),
    ("p", "- E12 no longer appears falsely during compressor start at ambient temperatures "
          "above 30 C.\n- The display no longer freezes after more than 40 days of continuous "
          "operation.\n- Modbus TCP register 40112 (flow setpoint) now accepts values up to "
          "22.0."),
    ("h", "Known issues"),
    ("p", "Eco mode is switched off automatically while the flow setpoint is above 20 L/min."),
    ("h", "Version history"),
    ("table", [
        ("Version", "Release date", "Main change"),
        ("3.0.0", "28 November 2022", "New user interface"),
        ("3.0.4", "15 May 2023", "Bootloader update"),
        ("3.1.0", "22 January 2024", "Night setback"),
        ("3.2.0", "9 September 2024", "Flow limit 22 L/min, E23"),
    ]),
]


def _build_pdf(rel: str, blocks, title: str, subject: str, created: datetime) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_author("Velmarra Thermics B.V.")
    pdf.set_subject(subject)
    pdf.set_creator("examples/build_corpus.py")
    pdf.set_producer("fpdf2")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for kind, content in blocks:
        if kind == "title":
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(width, 8, content, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        elif kind == "h":
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(width, 7, content, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "p":
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(width, 6, content, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "table":
            first = width * 0.5
            rest = (width - first) / (len(content[0]) - 1)
            for i, row in enumerate(content):
                pdf.set_font("Helvetica", "B" if i == 0 else "", 11)
                for j, cell in enumerate(row):
                    pdf.cell(first if j == 0 else rest, 7, cell,
                             new_x="RIGHT", new_y="TOP")
                pdf.ln(7)
            pdf.ln(3)
        elif kind == "page":
            pdf.add_page()
    pdf.output(str(_out(rel)))


# --------------------------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------------------------

HANDBOOK = [
    ("title", "Employee Handbook — 2022 edition"),
    ("p", "Issued 10 January 2022 by Perpetua Lindqvane, HR Director. This handbook applies to "
          "all employees of Velmarra Thermics B.V. Where an employment contract or a later "
          "management decision says something different, that document prevails."),
    ("h1", "1. Welcome"),
    ("p", "Welcome to Velmarra. This handbook explains the practical rules of working with us: "
          "working time, remote work, leave, sickness, learning and the use of company "
          "information. Ask your manager or HR whenever something is unclear."),
    ("h1", "2. Working time"),
    ("p", "A full-time working week is 38 hours. Office staff can choose their start and end "
          "times, but everyone is available during the core hours from 10:00 to 15:00. "
          "Production and service staff work in the shift patterns agreed for their site."),
    ("h1", "3. Remote work"),
    ("p", "Employees whose role allows it may work remotely for up to two days per week, as "
          "agreed with their manager. Production, service-centre and laboratory roles are "
          "excluded because the work has to be done on site. Remote days are planned at least "
          "one week in advance in the team calendar."),
    ("h2", "3.1 Equipment"),
    ("p", "Every office employee receives a laptop and a headset. For furnishing a home "
          "workplace, employees who work remotely on a regular basis receive a one-off "
          "home-office allowance of EUR 350."),
    ("h1", "4. Leave"),
    ("p", "Full-time employees are entitled to 27 days of paid annual leave per calendar year "
          "in addition to public holidays; part-time employees pro rata. Up to 5 unused days "
          "may be carried over to the next year and must be taken before 1 April. Requests for "
          "leave longer than three consecutive days are submitted in the HR portal at least two "
          "weeks in advance."),
    ("h1", "5. Sickness"),
    ("p", "If you are ill, call your manager before 09:30 on the first day of absence; an "
          "e-mail or text message is not enough. Report your recovery to your manager and in "
          "the HR portal."),
    ("h1", "6. Probation"),
    ("p", "New employees with a contract of more than six months have a probation period of "
          "2 months. During probation both sides can end the contract with immediate effect."),
    ("h1", "7. Learning and development"),
    ("p", "Each employee has a learning budget of EUR 1,200 per year for courses, conferences "
          "and books related to their work. Unused budget does not carry over. Language "
          "courses are paid in full for employees who work with foreign customers."),
    ("h1", "8. Confidentiality and IT"),
    ("p", "Customer data, drawings and firmware source code are confidential. Do not store "
          "them on private devices or in private cloud accounts. Passwords for company systems "
          "must have at least 14 characters. Report suspicious e-mails with the Report button "
          "in the mail client."),
    ("h1", "9. Bicycle scheme"),
    ("p", "Employees can lease a bicycle through the company. The lease is deducted from the "
          "gross salary over 36 months, and the company pays the insurance."),
]

QP07_INTRO = [
    ("title", "QP-07 Final Test and Calibration of Kestrune Chillers"),
    ("p", "Quality procedure QP-07, revision C, issued 22 April 2024. Procedure owner: Dagny "
          "Costerwald, Head of Quality. This revision replaces revision B (June 2021)."),
    ("h1", "1. Purpose and scope"),
    ("p", "This procedure describes the final test and calibration that every Kestrune KT-25 "
          "and KT-40 chiller passes at the Kelsbrück plant before it is packed. No unit may "
          "leave the plant without a completed and signed test record."),
    ("h1", "2. Test equipment"),
    ("p", "Tests are performed on test stand TS-3 with the reference probe PT-REF-9. The "
          "reference probe is calibrated once a year by an accredited external laboratory; a "
          "unit may only be calibrated against a probe with a valid calibration label."),
    ("h1", "3. Test sequence"),
    ("p", "Perform the steps in the order of the table. A unit that fails a step is not "
          "tested further."),
]

QP07_TABLE = [
    ("Step", "Test", "Acceptance criterion", "Duration"),
    ("1", "Visual inspection", "No transport damage; type plate and warning labels present",
     "10 minutes"),
    ("2", "Electrical safety", "Insulation resistance at least 2 MOhm at 500 V DC; earth bond "
                               "below 0.1 Ohm", "15 minutes"),
    ("3", "Refrigerant leak test", "Helium sniffer; leak rate below 3 g per year", "20 minutes"),
    ("4", "Run-in soak", "Continuous operation at 20 °C setpoint without any alarm", "8 hours"),
    ("5", "Temperature stability", "Within ±0.05 °C over 60 minutes", "60 minutes"),
    ("6", "Pump check", "Pressure reaches at least 3.0 bar with outlet closed", "5 minutes"),
    ("7", "Calibration", "Sensor offset adjusted to within ±0.02 °C of PT-REF-9", "30 minutes"),
]

QP07_OUTRO = [
    ("h1", "4. Records"),
    ("p", "The test record is stored in the manufacturing execution system under the unit's "
          "serial number and retained for 10 years. The calibration certificate is printed "
          "from the record and must show the identifier of the reference probe used."),
    ("h1", "5. Nonconforming units"),
    ("p", "A unit that fails any step gets a red tag and is moved to quarantine area Q2. The "
          "test operator opens a nonconformity report within 24 hours."),
    ("h1", "6. Revision history"),
    ("p", "Revision A (March 2019): first issue. Revision B (June 2021): helium leak test "
          "added. Revision C (22 April 2024): run-in soak extended from 4 hours to 8 hours; "
          "calibration certificate must show the reference probe identifier."),
]


def _fix_docx_props(doc, title: str, created: datetime) -> None:
    cp = doc.core_properties
    cp.author = "Velmarra Thermics B.V."
    cp.last_modified_by = "Velmarra Thermics B.V."
    cp.title = title
    cp.created = created
    cp.modified = created
    cp.last_printed = created
    cp.revision = 1


def _add_docx_blocks(doc, blocks) -> None:
    for kind, text in blocks:
        if kind == "title":
            doc.add_heading(text, level=0)
        elif kind == "h1":
            doc.add_heading(text, level=1)
        elif kind == "h2":
            doc.add_heading(text, level=2)
        else:
            doc.add_paragraph(text)


def _build_handbook() -> None:
    import docx

    doc = docx.Document()
    created = datetime(2022, 1, 10, 9, 0, 0)
    _fix_docx_props(doc, "Employee Handbook 2022", created)
    _add_docx_blocks(doc, HANDBOOK)
    path = _out("policies/employee-handbook-2022.docx")
    doc.save(str(path))
    _normalise_zip(path)


def _build_qp07() -> None:
    import docx

    doc = docx.Document()
    created = datetime(2024, 4, 22, 9, 0, 0)
    _fix_docx_props(doc, "QP-07 Final Test and Calibration", created)
    _add_docx_blocks(doc, QP07_INTRO)
    table = doc.add_table(rows=len(QP07_TABLE), cols=len(QP07_TABLE[0]))
    table.style = "Table Grid"
    for r, row in enumerate(QP07_TABLE):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    _add_docx_blocks(doc, QP07_OUTRO)
    path = _out("products/qp-07-final-test-procedure.docx")
    doc.save(str(path))
    _normalise_zip(path)


# --------------------------------------------------------------------------------------------
# PPTX
# --------------------------------------------------------------------------------------------

ROADMAP_SLIDES = [
    ("Leadership update", [
        "Tobiah Wrenfield succeeded Maren Olthuys as Chief Technology Officer on 1 October 2024.",
        "Maren Olthuys retired after 19 years at Velmarra and remains an adviser to the R&D "
        "board until June 2025.",
        "Tobiah previously led Kestrune engineering; Isolde Varnkamp now leads that team.",
    ]),
    ("Kestrune KT-60", [
        "Cooling capacity 6.0 kW at 20 °C, the largest chiller in our range.",
        "Natural refrigerant R-290 with a charge below 150 g.",
        "400 V three-phase only; built on the new Kelsbrück line 3.",
        "Pilot units in field tests at two customer sites since October 2024.",
        "Market launch planned for Q3 2025.",
    ]),
    ("Orvaline OV-16 (concept)", [
        "16 control channels in the OV-12 housing footprint.",
        "Reuses the OV-12 input cards, so spare parts stay common.",
        "Go / no-go decision gate in March 2025.",
    ]),
    ("Thermwatch 2.0", [
        "New cloud dashboard with a fleet view for customers with many units.",
        "Alarm forwarding by e-mail and text message.",
        "Launch in Q1 2025; existing subscriptions migrate at no extra cost.",
    ]),
]

ROADMAP_OWNERS = [
    ("Workstream", "Team", "Lead"),
    ("KT-60 hardware", "Kestrune Engineering", "Isolde Varnkamp"),
    ("Controller firmware (KT-40, KT-60)", "Controls Firmware team", "Lucan Reyvaert"),
    ("Thermwatch 2.0", "Digital Services", "Fenna Rooswijk"),
    ("OV-16 concept", "Orvaline Engineering", "Pieter-Jan Holsaert"),
]

ROADMAP_MILESTONES = [
    "January 2025: Thermwatch 2.0 beta with ten pilot customers.",
    "March 2025: OV-16 decision gate.",
    "Q3 2025: KT-60 market launch.",
    "Throughout 2025: quarterly roadmap review with Sales and Service.",
]


def _build_roadmap() -> None:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    created = datetime(2024, 11, 14, 9, 0, 0)
    cp = prs.core_properties
    cp.author = "Velmarra Thermics B.V."
    cp.last_modified_by = "Velmarra Thermics B.V."
    cp.title = "Product and Technology Roadmap 2025"
    cp.created = created
    cp.modified = created
    cp.last_printed = created
    cp.revision = 1

    title_layout, content_layout, title_only = prs.slide_layouts[0], prs.slide_layouts[1], \
        prs.slide_layouts[5]

    s = prs.slides.add_slide(title_layout)
    s.shapes.title.text = "Product and Technology Roadmap 2025"
    s.placeholders[1].text = ("Tobiah Wrenfield, Chief Technology Officer\n"
                              "Management offsite, 14 November 2024")

    for title, bullets in ROADMAP_SLIDES:
        s = prs.slides.add_slide(content_layout)
        s.shapes.title.text = title
        body = s.placeholders[1].text_frame
        body.text = bullets[0]
        for b in bullets[1:]:
            body.add_paragraph().text = b

    s = prs.slides.add_slide(title_only)
    s.shapes.title.text = "Who owns what in 2025"
    rows, cols = len(ROADMAP_OWNERS), len(ROADMAP_OWNERS[0])
    table = s.shapes.add_table(rows, cols, Inches(0.5), Inches(1.6), Inches(9.0),
                               Inches(0.4) * rows).table
    for r, row in enumerate(ROADMAP_OWNERS):
        for c, value in enumerate(row):
            table.cell(r, c).text = value

    s = prs.slides.add_slide(content_layout)
    s.shapes.title.text = "2025 milestones"
    body = s.placeholders[1].text_frame
    body.text = ROADMAP_MILESTONES[0]
    for b in ROADMAP_MILESTONES[1:]:
        body.add_paragraph().text = b

    path = _out("presentations/roadmap-2025.pptx")
    prs.save(str(path))
    _normalise_zip(path)


# --------------------------------------------------------------------------------------------
# XLSX price list
# --------------------------------------------------------------------------------------------

PRICE_HEADER = ("Item code", "Description", "Family", "List price (EUR)", "Lead time")
PRICE_ROWS = [
    ("KT-25-230", "Kestrune KT-25 recirculating chiller, 2.5 kW, 230 V", "Kestrune", 6480,
     "3 weeks"),
    ("KT-40-230", "Kestrune KT-40 recirculating chiller, 4.0 kW, 230 V single-phase",
     "Kestrune", 8950, "4 weeks"),
    ("KT-40-400", "Kestrune KT-40 recirculating chiller, 4.0 kW, 400 V three-phase",
     "Kestrune", 9420, "4 weeks"),
    ("OV-12-S", "Orvaline OV-12 controller, 12 channels, Pt100 inputs", "Orvaline", 3175,
     "2 weeks"),
    ("OV-12-T", "Orvaline OV-12 controller, 12 channels, thermocouple type K inputs",
     "Orvaline", 3340, "2 weeks"),
    ("OV-12-X", "Orvaline OV-12 controller, 12 channels, Pt100 inputs, 16 GB data logger",
     "Orvaline", 3890, "3 weeks"),
    ("OV-BC-1", "Bench case for Orvaline OV-12", "Orvaline", 265, "1 week"),
    ("TB-8", "Tamsel TB-8 heated bath circulator, 8 litres, 1.2 kW", "Tamsel", 2260, "2 weeks"),
    ("TB-14", "Tamsel TB-14 heated bath circulator, 14 litres, 2.0 kW", "Tamsel", 2940,
     "2 weeks"),
    ("VC-30-10", "Velmarra coolant VC-30, 10 litre container", "Consumables", 118, "1 week"),
    ("VT-K-0002", "Annual service kit for KT-40", "Service", 89, "1 week"),
    ("TW-SUB-1", "Thermwatch remote diagnostics, annual subscription per unit", "Services", 420,
     "immediate"),
    ("CAL-1", "Calibration with certificate at a service centre, per unit", "Services", 185,
     "1 week"),
]
PRICE_NOTES = [
    ("Velmarra Thermics B.V. list prices, effective 15 January 2024.",),
    ("All prices in EUR, excluding VAT, ex works.",),
    ("Prices remain valid until replaced by a new price list or a written price notice "
     "from Sales.",),
    ("Distributors receive their agreed discount on these list prices.",),
]


def _build_price_list() -> None:
    import openpyxl
    from openpyxl.styles import Font

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Price list"
    ws.append(PRICE_HEADER)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in PRICE_ROWS:
        ws.append(row)
    for row in range(2, len(PRICE_ROWS) + 2):
        ws.cell(row=row, column=4).number_format = "#,##0"
    for col, width in zip("ABCDE", (12, 70, 14, 16, 12)):
        ws.column_dimensions[col].width = width
    ws.freeze_panes = "A2"
    notes = wb.create_sheet("Notes")
    for row in PRICE_NOTES:
        notes.append(row)
    created = datetime(2024, 1, 15, 8, 0, 0)
    wb.properties.creator = "Velmarra Thermics B.V."
    wb.properties.lastModifiedBy = "Velmarra Thermics B.V."
    wb.properties.title = "List prices 2024"
    wb.properties.created = created
    path = _out("data/price-list-2024.xlsx")
    wb.save(str(path))
    _normalise_zip(path, core_modified="2024-01-15T08:00:00Z")


# --------------------------------------------------------------------------------------------
# EML with a CSV attachment
# --------------------------------------------------------------------------------------------

EML_BODY = """\
Hello all,

As agreed in the management meeting of 14 March, we are raising the list prices of the
Kestrune KT-40 chillers and of the VC-30 coolant. The new prices take effect on 1 June 2024.
For the items listed in the attached file price-changes.csv they replace the prices in the
January 2024 price list (effective 15 January 2024). All other list prices remain unchanged.

Quotes sent to customers before 1 June 2024 stay valid at the old prices for 30 days from
their issue date. Orders received from 1 June onwards must be priced with the new list.
Please update your quote templates and inform your distributors this week; the standard
distributor discount of 18% stays the same.

The reason for the increase is the sharp rise in compressor and copper costs since last
autumn. Even after the increase the KT-40 remains below the list price of comparable
chillers from our two main competitors, so please present it with confidence.

If a customer has a large order in preparation, talk to me before the end of May so that we
can agree how to handle it.

Questions: ask me, or Henrike's team in Finance for anything about invoicing.

Best regards,
Ottilie Fenwarde
Velmarra Thermics B.V.
"""

EML_ATTACHMENT = """\
item_code,description,old_list_price_eur,new_list_price_eur,effective_from
KT-40-230,"Kestrune KT-40 chiller, 230 V single-phase",8950,9380,2024-06-01
KT-40-400,"Kestrune KT-40 chiller, 400 V three-phase",9420,9860,2024-06-01
VC-30-10,"Velmarra coolant VC-30, 10 litre container",118,129,2024-06-01
"""


def _build_eml() -> None:
    msg = EmailMessage()
    msg["From"] = "Ottilie Fenwarde <o.fenwarde@velmarra-thermics.example>"
    msg["To"] = "sales-team@velmarra-thermics.example"
    msg["Date"] = "Mon, 20 May 2024 09:14:00 +0200"
    msg["Subject"] = "New KT-40 and VC-30 list prices from 1 June 2024"
    msg["Message-ID"] = "<20240520091400.4471@velmarra-thermics.example>"
    msg["MIME-Version"] = "1.0"
    # keep lines under 78 characters so the ASCII body goes out as readable 7bit text
    body = "\n\n".join(textwrap.fill(par, 72) if not par.startswith("Best regards") else par
                       for par in EML_BODY.split("\n\n"))
    msg.set_content(body, cte="7bit")
    msg.add_attachment(EML_ATTACHMENT.encode("utf-8"), maintype="text", subtype="csv",
                       filename="price-changes.csv")
    msg.set_boundary("==============velmarra-20240520==")
    _out("mail/2024-05-20-kt40-price-update.eml").write_bytes(msg.as_bytes(policy=SMTP))


# --------------------------------------------------------------------------------------------
# ZIP archive with a subfolder
# --------------------------------------------------------------------------------------------

OV10_QUICKSTART = """\
ORVALINE OV-10 - QUICK START GUIDE
Edition 2, 2013. Velmarra Thermics B.V., Dunsholt.

1. What is in the box
   - OV-10 controller (8 channels)
   - Panel mounting clamps (2)
   - Plug-in terminal blocks for sensors and outputs
   - This guide and the calibration certificate

2. Power
   The OV-10 runs on 24 V DC. Connect the supply to terminals 1 (+) and 2 (-). The green
   POWER lamp lights and the display shows the channel overview after about 5 seconds.

3. Sensors
   Each of the 8 channels accepts a Pt100 sensor in 2-wire connection. Unused channels
   must be switched off in the menu, otherwise they show a sensor-break alarm.

4. Network
   The OV-10 communicates with Modbus RTU over RS-485. Factory settings: 9600 baud,
   8 data bits, no parity, 1 stop bit (8N1). The default Modbus address is 17. Change the
   address in menu 7.2 when several controllers share one bus.

5. First control loop
   Select a channel, set the setpoint with the arrow keys, and start auto-tuning with the
   TUNE key. Auto-tuning takes 10 to 40 minutes depending on the process.

6. Factory reset
   Hold the F1 and F4 keys together for 10 seconds while switching on. All settings,
   including the Modbus address, return to the factory values.

7. Support
   Contact Velmarra support with the serial number from the label on the side of the unit.
"""

WARRANTY_2019 = """\
# Velmarra Warranty Terms

*Effective 1 January 2019. Applies to products delivered from that date.*

## Warranty periods

| Product family | Standard warranty |
| --- | --- |
| Kestrune chillers | 24 months from delivery |
| Orvaline controllers | 24 months from delivery |
| Tamsel bath circulators | 12 months from delivery |

## Conditions

The warranty covers defects in materials and workmanship that appear under normal use.
Products must be registered with Velmarra support within 30 days of delivery. Repairs are
carried out at a Velmarra service centre; the customer pays shipping to the centre and
Velmarra pays return shipping.

## CareExtra

CareExtra extends the standard warranty by 12 months. It costs 6% of the list price and must
be ordered together with the product.

## Exclusions

The warranty does not cover damage caused by unsuitable coolants, frost, incorrect mains
voltage, or repairs by third parties. Consumables such as filter mats and gaskets are
excluded.
"""

ZIP_MEMBERS = [
    ("legacy/ov10-quickstart.txt", OV10_QUICKSTART),
    ("legacy/warranty-terms-2019.md", WARRANTY_2019),
]


def _build_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in ZIP_MEMBERS:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text.encode("utf-8"))
    _out("archive/legacy-docs.zip").write_bytes(buf.getvalue())


# --------------------------------------------------------------------------------------------

def main() -> int:
    _build_pdf("reports/annual-report-2023.pdf", ANNUAL_REPORT, "Annual Report 2023",
               "Velmarra Thermics annual report 2023",
               datetime(2024, 3, 18, 9, 0, 0, tzinfo=timezone.utc))
    _build_pdf("products/kestrune-kt40-firmware-3.2-release-notes.pdf", FIRMWARE_NOTES,
               "KT-40 Firmware 3.2.0 Release Notes", "Kestrune KT-40 firmware release notes",
               datetime(2024, 9, 9, 9, 0, 0, tzinfo=timezone.utc))
    _build_handbook()
    _build_qp07()
    _build_roadmap()
    _build_price_list()
    _build_eml()
    _build_zip()
    for rel in ("reports/annual-report-2023.pdf",
                "products/kestrune-kt40-firmware-3.2-release-notes.pdf",
                "policies/employee-handbook-2022.docx",
                "products/qp-07-final-test-procedure.docx",
                "presentations/roadmap-2025.pptx",
                "data/price-list-2024.xlsx",
                "mail/2024-05-20-kt40-price-update.eml",
                "archive/legacy-docs.zip"):
        print(f"wrote {rel} ({(CORPUS / rel).stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
