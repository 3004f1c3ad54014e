"""Spreadsheets built byte by byte, the way a hostile or broken exporter writes them
(openpyxl would write a correct dimension, sane strings and sane columns)."""

import io
import zipfile

PACKAGE = "http://schemas.openxmlformats.org/package/2006"
RELATION = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET_ML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<Types xmlns="{PACKAGE}/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{SHEET_ML}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_ML}.worksheet+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHEET_ML}.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATION}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    f' xmlns:r="{RELATION}">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<Relationships xmlns="{PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{RELATION}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATION}/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_xml(rows: str, dimension: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{dim}'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )


def inline_row(number: int, *values: str) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{value}</t></is></c>'
        for i, value in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def shared_row(number: int, *indexes: int) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="s"><v>{index}</v></c>' for i, index in enumerate(indexes)
    )
    return f'<row r="{number}">{cells}</row>'


def xlsx(sheet: str, shared_strings: str | None = None) -> bytes:
    """A workbook of one sheet (`sheet_xml(...)`) and optional sharedStrings.xml text."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr(
            "xl/sharedStrings.xml",
            shared_strings or f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}"/>',
        )
    return buffer.getvalue()


def shared_strings_xml(*parts: str) -> str:
    """sharedStrings.xml from ready `<si>` parts (strings may be generated lazily)."""
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{"".join(parts)}</sst>'


def stale_dimension_workbook(codes: list[str]) -> bytes:
    """A header and every code, under a stored dimension that claims two rows."""
    rows = inline_row(1, "code") + "".join(
        inline_row(i, code) for i, code in enumerate(codes, start=2)
    )
    return xlsx(sheet_xml(rows, dimension="A1:A2"))


def huge_string_workbook(codes: list[str], size: int) -> bytes:
    """Good rows, and one row whose code is a shared string of `size` characters."""
    strings = shared_strings_xml(
        "<si><t>code</t></si>",
        *(f"<si><t>{code}</t></si>" for code in codes),
        "<si><t>" + "A" * size + "</t></si>",
    )
    rows = "".join(shared_row(i + 1, i) for i in range(len(codes) + 2))
    return xlsx(sheet_xml(rows, dimension=f"A1:A{len(codes) + 2}"), strings)


def wide_row_workbook(cells: int) -> bytes:
    """A header, a good row, then a row of `cells` cells each holding a value."""
    rows = (
        inline_row(1, "code")
        + inline_row(2, "WIDE-00001")
        + '<row r="3">'
        + "<c><v>1</v></c>" * cells
        + "</row>"
    )
    return xlsx(sheet_xml(rows))


def value_in_column(column: str) -> bytes:
    rows = (
        inline_row(1, "code")
        + inline_row(2, "COL-00001")
        + f'<row r="3"><c r="A3" t="inlineStr"><is><t>COL-00002</t></is></c>'
        f'<c r="{column}3" t="inlineStr"><is><t>note</t></is></c></row>'
    )
    return xlsx(sheet_xml(rows))


def many_shared_strings_workbook(count: int) -> bytes:
    strings = shared_strings_xml("<si><t>code</t></si>", *(["<si><t>x</t></si>"] * count))
    return xlsx(sheet_xml(shared_row(1, 0) + shared_row(2, 1)), strings)
