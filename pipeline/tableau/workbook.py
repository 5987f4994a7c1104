"""The seed's dashboard as a Tableau workbook (.twb): a data source per mart it reads, a worksheet
per chart, and one dashboard laying them out.

The worksheets are the charts declared in dbt_project/models/dashboard.yml (pipeline/charts.py) that Tableau
draws from their fields: the seed project's dashboard (activity and revenue over the period and by day of
week, purchases by hour, top brands and top customers), then weekly cohort retention (a heat map), buyers by
RFM segment, and the served lists' daily hit rate against the popular list's.
Field references follow Tableau's column-instance grammar, `[derivation:column:type-key]`
(`[sum:revenue:qk]` is SUM(revenue) on a continuous axis); every instance on a shelf is declared in its
worksheet's datasource-dependencies, and every worksheet has a window and a dashboard viewpoint,
which Tableau needs to load the file.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pipeline.charts import TOP_N, Chart
from pipeline.tableau.datasource import (
    Column,
    Connection,
    column_attributes,
    datasource_element,
    tableau_field,
    write_atomically,
)

log = logging.getLogger(__name__)

DASHBOARD = "Recolake: revenue and activity"
# Tableau's Desktop build the file format is written for; Tableau requires the attribute.
SOURCE_BUILD = "2024.1.0 (20241.24.0215.0753)"
_PREFIX = {"None": "none", "Sum": "sum", "Day-Trunc": "tdy", "MDY": "mdy"}
_TYPE_KEY = {"nominal": "nk", "ordinal": "ok", "quantitative": "qk"}


# Tableau's mark class for each declared drawing.
MARKS = {"line": "Line", "bar": "Bar", "hbar": "Bar", "heat": "Square"}


class MissingColumn(ValueError):
    """A chart names a column its mart does not have (the chart list and the dbt model disagree)."""


@dataclass(frozen=True)
class _Instance:
    column: Column
    derivation: str
    kind: str  # nominal, ordinal or quantitative

    @property
    def name(self) -> str:
        return f"[{_PREFIX[self.derivation]}:{self.column.name}:{_TYPE_KEY[self.kind]}]"

    def attributes(self) -> dict[str, str]:
        return {"column": f"[{self.column.name}]", "derivation": self.derivation, "name": self.name,
                "pivot": "key", "type": self.kind}


def datasource_name(table: str) -> str:
    return f"federated.recolake_{table}"


def workbook_sheets(charts: tuple[Chart, ...]) -> tuple[Chart, ...]:
    """The declared charts the workbook draws, in page order."""
    return tuple(c for c in charts if c.in_workbook)


def required_tables(sheets: tuple[Chart, ...]) -> list[str]:
    return sorted({s.table for s in sheets})


def _column(columns: list[Column], name: str, sheet: Chart) -> Column:
    for column in columns:
        if column.name == name:
            return column
    raise MissingColumn(f"worksheet {sheet.title!r} needs {sheet.table}.{name}, which the mart does not have")


def _category_instance(column: Column) -> _Instance:
    if column.datatype in ("date", "datetime"):
        return _Instance(column, "Day-Trunc", "quantitative")  # a continuous time axis
    return _Instance(column, "None", tableau_field(column)[2])


def _discrete(column: Column) -> _Instance:
    """A column as headers, one per value: an exact date, or the value itself (a number too)."""
    if column.datatype in ("date", "datetime"):
        return _Instance(column, "MDY", "ordinal")
    return _Instance(column, "None", "nominal" if tableau_field(column)[2] == "nominal" else "ordinal")


@dataclass(frozen=True)
class _Shelves:
    category: _Instance
    measure: _Instance
    rows: _Instance
    cols: _Instance
    color: _Instance | None = None
    helper: _Instance | None = None  # the rank filtered on, or the sort key
    kept: tuple[_Instance, ...] = ()  # the columns whose one value each is kept

    def instances(self) -> list[_Instance]:
        found = [self.rows, self.cols, self.color, self.helper, *self.kept]
        return list({i.name: i for i in found if i is not None}.values())


def _shelves(sheet: Chart, columns: list[Column]) -> _Shelves:
    def column(name: str) -> Column:
        return _column(columns, name, sheet)

    measure = _Instance(column(sheet.measure), "Sum", "quantitative")
    helper_column = sheet.top or sheet.order_by
    # The rank is filtered as a continuous range; the sort key is summed (one row per category).
    helper = _Instance(column(helper_column), "None" if sheet.top else "Sum",
                       "quantitative") if helper_column else None
    kept = tuple(_discrete(column(name)) for name, _ in sheet.keep)
    if sheet.heat_rows:
        category = _discrete(column(sheet.category))
        return _Shelves(category, measure, _discrete(column(sheet.heat_rows)), category, measure, helper, kept)
    category = _category_instance(column(sheet.category))
    color = _Instance(column(sheet.color), "None", "nominal") if sheet.color else None
    horizontal = sheet.draw == "hbar"
    rows, cols = (category, measure) if horizontal else (measure, category)
    return _Shelves(category, measure, rows, cols, color, helper, kept)


def _view(sheet: Chart, ds: str, shelves: _Shelves) -> ET.Element:
    view = ET.Element("view")
    ET.SubElement(ET.SubElement(view, "datasources"), "datasource", {"caption": sheet.table, "name": ds})
    deps = ET.SubElement(view, "datasource-dependencies", {"datasource": ds})
    instances = shelves.instances()
    for column in {i.column.name: i.column for i in instances}.values():
        ET.SubElement(deps, "column", column_attributes(column))
    for instance in instances:
        ET.SubElement(deps, "column-instance", instance.attributes())
    shelf, helper, sliced = f"[{ds}].{shelves.category.name}", shelves.helper, []
    for instance, (_, value) in zip(shelves.kept, sheet.keep, strict=True):
        kept = f"[{ds}].{instance.name}"
        member = ET.SubElement(view, "filter", {"class": "categorical", "column": kept})
        ET.SubElement(member, "groupfilter", {
            "function": "member", "level": instance.name, "member": f'"{value}"',
            "user:ui-domain": "database", "user:ui-enumeration": "inclusive", "user:ui-marker": "enumerate"})
        sliced.append(kept)
    if sheet.top and helper:
        rank = f"[{ds}].{helper.name}"
        limit = ET.SubElement(view, "filter", {"class": "quantitative", "column": rank,
                                               "included-values": "in-range"})
        ET.SubElement(limit, "min").text = "1"
        ET.SubElement(limit, "max").text = str(TOP_N)
        ET.SubElement(view, "computed-sort", {"column": shelf, "direction": "DESC",
                                              "using": f"[{ds}].{shelves.measure.name}"})
        sliced.append(rank)
    elif helper:
        ET.SubElement(view, "computed-sort", {"column": shelf, "direction": "ASC", "using": f"[{ds}].{helper.name}"})
    if sliced:
        slices = ET.SubElement(view, "slices")
        for column in sliced:
            ET.SubElement(slices, "column").text = column
    ET.SubElement(view, "aggregation", {"value": "true"})
    return view


def worksheet(sheet: Chart, columns: list[Column]) -> ET.Element:
    ds = datasource_name(sheet.table)
    shelves = _shelves(sheet, columns)
    element = ET.Element("worksheet", {"name": sheet.title})
    title = ET.SubElement(ET.SubElement(ET.SubElement(element, "layout-options"), "title"), "formatted-text")
    ET.SubElement(title, "run", {"bold": "true"}).text = sheet.title
    table = ET.SubElement(element, "table")
    table.append(_view(sheet, ds, shelves))
    ET.SubElement(table, "style")
    pane = ET.SubElement(ET.SubElement(table, "panes"), "pane",
                         {"selection-relaxation-option": "selection-relaxation-allow"})
    ET.SubElement(ET.SubElement(pane, "view"), "breakdown", {"value": "auto"})
    ET.SubElement(pane, "mark", {"class": MARKS[sheet.draw]})
    if shelves.color is not None:
        ET.SubElement(ET.SubElement(pane, "encodings"), "color", {"column": f"[{ds}].{shelves.color.name}"})
    ET.SubElement(table, "rows").text = f"[{ds}].{shelves.rows.name}"
    ET.SubElement(table, "cols").text = f"[{ds}].{shelves.cols.name}"
    return element


def _zone(zone_id: int, x: int, y: int, w: int, h: int, **extra: str) -> ET.Element:
    return ET.Element("zone", {"h": str(h), "id": str(zone_id), "w": str(w), "x": str(x), "y": str(y), **extra})


def dashboard(sheets: tuple[Chart, ...], columns_across: int = 2) -> ET.Element:
    """The worksheets in a grid under a title, in Tableau's 0-100000 zone coordinates."""
    element = ET.Element("dashboard", {"name": DASHBOARD})
    ET.SubElement(element, "style")
    ET.SubElement(element, "size", {"maxheight": "1600", "maxwidth": "1400", "minheight": "1600",
                                    "minwidth": "1400", "sizing-mode": "fixed"})
    root = _zone(1, 0, 0, 100000, 100000, param="vert", **{"type-v2": "layout-flow"})
    title_height = 4000
    heading = _zone(2, 0, 0, 100000, title_height, **{"type-v2": "text"})
    ET.SubElement(ET.SubElement(heading, "formatted-text"), "run", {"bold": "true", "fontsize": "18"}).text = DASHBOARD
    root.append(heading)
    rows = -(-len(sheets) // columns_across)
    width, height = 100000 // columns_across, (100000 - title_height) // rows
    for i, sheet in enumerate(sheets):
        row, col = divmod(i, columns_across)
        root.append(_zone(3 + i, col * width, title_height + row * height, width, height, name=sheet.title))
    ET.SubElement(element, "zones").append(root)
    return element


def _windows(sheets: tuple[Chart, ...]) -> ET.Element:
    windows = ET.Element("windows")
    for sheet in sheets:
        window = ET.SubElement(windows, "window", {"class": "worksheet", "hidden": "true", "name": sheet.title})
        cards = ET.SubElement(window, "cards")
        left = ET.SubElement(ET.SubElement(cards, "edge", {"name": "left"}), "strip", {"size": "160"})
        for card in ("pages", "filters", "marks"):
            ET.SubElement(left, "card", {"type": card})
        top = ET.SubElement(cards, "edge", {"name": "top"})
        for card in ("columns", "rows"):
            ET.SubElement(ET.SubElement(top, "strip", {"size": "2147483647"}), "card", {"type": card})
        ET.SubElement(ET.SubElement(window, "viewpoint"), "zoom", {"type": "entire-view"})
    window = ET.SubElement(windows, "window", {"class": "dashboard", "maximized": "true", "name": DASHBOARD})
    viewpoints = ET.SubElement(window, "viewpoints")
    for sheet in sheets:
        ET.SubElement(ET.SubElement(viewpoints, "viewpoint", {"name": sheet.title}), "zoom", {"type": "entire-view"})
    ET.SubElement(window, "active", {"id": "-1"})
    return windows


def workbook_document(columns: dict[str, list[Column]], connection: Connection,
                      charts: tuple[Chart, ...]) -> ET.ElementTree:
    """The workbook over ``connection``; ``columns`` holds each mart's columns as Tableau will find them."""
    sheets = workbook_sheets(charts)
    root = ET.Element("workbook", {"original-version": "18.1", "source-build": SOURCE_BUILD, "version": "18.1",
                                   "xmlns:user": "http://www.tableausoftware.com/xml/user"})
    ET.SubElement(root, "preferences")
    datasources = ET.SubElement(root, "datasources")
    for table in required_tables(sheets):
        datasources.append(datasource_element(table, columns[table], connection, datasource_name(table)))
    worksheets = ET.SubElement(root, "worksheets")
    for sheet in sheets:
        worksheets.append(worksheet(sheet, columns[sheet.table]))
    ET.SubElement(root, "dashboards").append(dashboard(sheets))
    root.append(_windows(sheets))
    ET.indent(root)
    return ET.ElementTree(root)


def write_workbook(columns: dict[str, list[Column]], connection: Connection, path: Path,
                   charts: tuple[Chart, ...]) -> Path | None:
    """The dashboard workbook, when every mart it charts is there (else a warning and no file)."""
    missing = [t for t in required_tables(workbook_sheets(charts)) if t not in columns]
    if missing:
        log.warning("no dashboard workbook: %s not there yet (run `make sync`)", ", ".join(missing))
        return None
    log.info("dashboard workbook %s", path)
    return write_atomically(workbook_document(columns, connection, charts), path)
