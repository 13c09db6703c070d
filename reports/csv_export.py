"""CSV the project writes, safe to open in a spreadsheet: no cell runs as a formula.

Text cells come from clients and operators (model names, key and account names), so a cell
starting with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with a single quote
(OWASP's advice against CSV injection): the spreadsheet shows the text and evaluates nothing.
Numbers the code itself produces stay numbers: ints, floats and Decimals as they are, and text
in a column the caller declares numeric when it is a plain decimal literal (money the reports
render as a string, e.g. a refund's "-1.5"). Anything else in such a column is treated as text.
"""

import csv
import io
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"
# A number as `core.money.format_money` and str(int) write it; nothing a formula needs.
_DECIMAL_LITERAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def safe_cell(value: Any, *, numeric: bool = False) -> Any:
    """A value as a CSV cell: None as empty, numbers unchanged, text that a spreadsheet would
    evaluate prefixed with a single quote (text of a `numeric` column kept if a plain number)."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if numeric and _DECIMAL_LITERAL.fullmatch(text):
        return text
    return NEUTRALISER + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(
    columns: tuple[str, ...],
    rows: Iterable[Mapping[str, Any]],
    *,
    numeric: Iterable[str] = (),
) -> str:
    """Rows as CSV with a header line, every cell through `safe_cell` (columns not in `columns`
    are left out; a missing one is empty). `numeric` names the columns of numbers."""
    numbers = frozenset(numeric)
    buffer = io.StringIO()
    # CRLF line ends (RFC 4180) also make the writer quote a cell holding a lone CR, which a
    # reader could otherwise take for the start of a new row.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(column) for column in columns])
    writer.writerows(
        [safe_cell(row.get(column), numeric=column in numbers) for column in columns]
        for row in rows
    )
    return buffer.getvalue()
