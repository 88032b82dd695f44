"""CSV customer imports: header checks at upload, row conversion in the job.

Rules (the vendor's): the first line is the header; the standard columns are ``Id, Name,
Email, Phone, Birthdate, Source_id, Address_line_1, Address_line_2, Address_Postal_Code,
Address_City, Address_State, Address_Country, Description`` (matched case-insensitively);
every other column becomes a metadata key; column names may not contain spaces.

A header that cannot be used (empty file, not UTF-8, an empty or spaced or duplicate
column name) rejects the upload. A bad row (wrong number of cells, invalid email or
birthdate) only fails that row. Empty cells mean "leave unchanged". Metadata cells stay
strings except ``true``/``false`` (booleans) and plain integers or decimals (numbers).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from ._time import is_valid_date
from ._validation import is_valid_email

__all__ = ["CsvDocument", "CsvUploadHeaderError", "RowChange", "RowError", "parse_csv"]

_STANDARD: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "name": ("name",),
    "email": ("email",),
    "phone": ("phone",),
    "birthdate": ("birthdate",),
    "source_id": ("source_id",),
    "address_line_1": ("address", "line_1"),
    "address_line_2": ("address", "line_2"),
    "address_postal_code": ("address", "postal_code"),
    "address_city": ("address", "city"),
    "address_state": ("address", "state"),
    "address_country": ("address", "country"),
    "description": ("description",),
}
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


class CsvUploadHeaderError(ValueError):
    """The header line cannot be used; the message names the column."""


class RowError(ValueError):
    """One data row cannot be imported; the message is the failure reason."""


@dataclass
class RowChange:
    """What one CSV row asks for.

    ``fields`` holds plain customer fields; ``address`` and ``metadata`` hold only the
    parts the row sets (merged into the customer's current values when it is updated).
    """

    row: int
    customer_id: str | None = None
    source_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    address: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class CsvDocument:
    """A parsed upload: the column names and the data rows with their 1-based numbers.

    ``broken`` is set when the CSV syntax breaks down mid-file: rows from that number on
    are reported as failed.
    """

    columns: list[str]
    rows: list[tuple[int, list[str]]]
    broken: tuple[int, str] | None = None

    def convert(self, number: int, cells: list[str]) -> RowChange:
        """Turn one data row into a ``RowChange``; raises ``RowError``."""
        if len(cells) != len(self.columns):
            raise RowError(
                f"row has {len(cells)} cell(s), the header has {len(self.columns)} column(s)"
            )
        change = RowChange(row=number)
        for column, raw in zip(self.columns, cells, strict=True):
            value = raw.strip()
            if not value:
                continue
            target = _STANDARD.get(column.lower())
            if target is None:
                change.metadata[column] = _metadata_value(value)
            elif target[0] == "id":
                change.customer_id = value
            elif target[0] == "source_id":
                change.source_id = value
            elif target[0] == "address":
                change.address[target[1]] = value
            else:
                if target[0] == "email" and not is_valid_email(value):
                    raise RowError(
                        f"{column}: must be a valid email address (actual value is {value!r})"
                    )
                if target[0] == "birthdate" and not is_valid_date(value):
                    raise RowError(
                        f"{column}: must be a date in the YYYY-MM-DD format "
                        f"(actual value is {value!r})"
                    )
                change.fields[target[0]] = value
        return change


def parse_csv(data: bytes) -> CsvDocument:
    """Parse an upload and check its header. Raises ``CsvUploadHeaderError``.

    Example: ``parse_csv(b"Source_id,Name\\nbob,Bob\\n").rows`` -> ``[(1, ["bob", "Bob"])]``.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvUploadHeaderError("the file is not valid UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvUploadHeaderError(f"the header line is not valid CSV: {exc}") from None
    if header is None or not any(name.strip() for name in header):
        raise CsvUploadHeaderError("the file is empty: the first line must name the columns")
    seen: dict[str, str] = {}
    for position, name in enumerate(header, start=1):
        if not name:
            raise CsvUploadHeaderError(f"column {position} has no name")
        if any(char.isspace() for char in name):
            raise CsvUploadHeaderError(f"column {name!r}: spaces are not allowed in column names")
        folded = name.lower()
        if folded in seen:
            raise CsvUploadHeaderError(f"column {name!r}: duplicates column {seen[folded]!r}")
        seen[folded] = name
    rows: list[tuple[int, list[str]]] = []
    number = 0
    broken: tuple[int, str] | None = None
    try:
        for cells in reader:
            number += 1
            if cells:  # A blank line keeps its number but is not a customer.
                rows.append((number, cells))
    except csv.Error as exc:
        broken = (number + 1, f"the row is not valid CSV: {exc}")
    return CsvDocument(columns=list(header), rows=rows, broken=broken)


def _metadata_value(value: str) -> Any:
    if value == "true":
        return True
    if value == "false":
        return False
    if _INTEGER.match(value):
        return int(value)
    if _DECIMAL.match(value):
        return float(value)
    return value
