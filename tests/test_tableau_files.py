"""Tableau data sources read back with Tableau's own Document API (pure: no server needed)."""

from __future__ import annotations

from tableaudocumentapi import Datasource

from pipeline.tableau.datasource import Column, LiveConnection, live_datasource, tableau_field, write_atomically

COLUMNS = [Column.from_mysql(*c) for c in (
    ("event_date", "date", "date"), ("revenue", "decimal", "decimal(28,2)"), ("purchases", "bigint", "bigint"),
    ("user_id", "bigint", "bigint"), ("spend_rank", "int", "int"), ("brand", "varchar", "varchar(40)"),
    ("is_known_brand", "tinyint", "tinyint(1)"), ("last_ingested_at", "datetime", "datetime(6)"),
    ("avg_items_per_basket", "double", "double"))]


def test_columns_get_tableau_types_and_roles():
    got = {c.name: tableau_field(c) for c in COLUMNS}
    assert got == {
        "event_date": ("date", "dimension", "ordinal"),
        "revenue": ("real", "measure", "quantitative"),
        "purchases": ("integer", "measure", "quantitative"),
        "user_id": ("integer", "dimension", "ordinal"),  # an id is not something to sum
        "spend_rank": ("integer", "dimension", "ordinal"),
        "brand": ("string", "dimension", "nominal"),
        "is_known_brand": ("boolean", "dimension", "nominal"),
        "last_ingested_at": ("datetime", "dimension", "ordinal"),
        "avg_items_per_basket": ("real", "measure", "quantitative"),
    }


def test_a_data_source_reads_back_with_its_connection_table_and_every_column(tmp_path):
    path = write_atomically(live_datasource("daily_revenue", COLUMNS, LiveConnection("db.example", 3306,
                                                                                       "lakehouse_marts", "tableau")),
                            tmp_path / "daily_revenue.tds")
    assert [p.name for p in tmp_path.iterdir()] == ["daily_revenue.tds"]  # no partial file left behind
    source = Datasource.from_file(str(path))
    assert source.name == "daily_revenue"
    (connection,) = source.connections
    assert (connection.dbclass, connection.server, connection.port, connection.dbname, connection.username) == (
        "mysql", "db.example", "3306", "lakehouse_marts", "tableau")
    fields = {name.strip("[]"): field for name, field in source.fields.items()}
    assert set(fields) == {c.name for c in COLUMNS}
    for column in COLUMNS:
        datatype, role, kind = tableau_field(column)
        assert (fields[column.name].datatype, fields[column.name].role, fields[column.name].type) == (
            datatype, role, kind), column.name
    relation = source._datasourceXML.find(".//relation")  # the table Tableau opens
    assert (relation.get("table"), relation.get("connection")) == ("[daily_revenue]", "mysql.recolake")
