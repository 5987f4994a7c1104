{#- Tests that scale with the change. In an incremental `dbt build`:
    - the generic tests of a date-keyed model (config test_scope: changed_dates) check only the
      event dates this run rebuilt: the dates of its rows ingested after the newest row it held
      when the run started;
    - those of a staging model (test_scope: new_batches) check only the rows of batches ingested
      after the newest one cleaned_events held;
    - those of a model merged by key (test_scope: changed_rows) check the rows this run wrote: those
      loaded after the newest load time it held when the run started (a merge on the key updates a
      stored key in place, so a key twice would be two written rows);
    - those of the lists (test_scope: newest_run) check the rows of the newest run: a daily update's
      changed users, everyone after a refit;
    - those of the served lists (test_scope: newest_list) check only the newest list date;
    - those of a table rewritten only now and then (test_scope: when_written) run when this run wrote it.
    on-run-start records those watermarks per model (record_test_watermarks); a model that is new,
    empty or about to be rebuilt in full (a rules change) gets none, and a test without a
    watermark checks every row. `dbt test` (make check) and --full-refresh check everything. -#}

{#- The table is declared as source dbt_state.dbt_test_watermarks (models/staging/dbt_state/). -#}
{% macro test_watermark_relation() -%}
    {%- set declared = graph.sources['source.recolake.dbt_state.dbt_test_watermarks'] -%}
    {{ return(api.Relation.create(schema=declared.schema, identifier=declared.identifier)) }}
{%- endmacro %}


{#- The models of this invocation whose tests are scoped by a watermark (a model the run does not build
    needs none: the recommendation marts' build would otherwise look up every date-keyed model's). -#}
{% macro scoped_test_models() -%}
    {%- set nodes = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.config.get('test_scope') in ('changed_dates', 'changed_rows')
                and node.unique_id in selected_resources -%}
            {%- do nodes.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(nodes) }}
{%- endmacro %}


{#- on-run-start: one row (model, watermark) per date-keyed model whose tests may be scoped. A model's
    watermark only grows while rows are added, so the previous run's (still in the table) bounds the
    max() from below: data skipping then reads only the files written since, instead of every file's
    load time (the month: 15 s at the start of every build, when nothing else runs). A model whose rows
    at its old watermark are gone (a rebuild dropped them) finds nothing there and is scanned whole. -#}
{% macro record_test_watermarks() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set watermarks = test_watermark_relation() -%}
    {%- set stored = adapter.get_relation(database=none, schema=watermarks.schema,
                                          identifier=watermarks.identifier) -%}
    {%- set tables = {} -%}
    {%- if flags.WHICH == 'build' and not flags.FULL_REFRESH -%}
        {%- for node in scoped_test_models() -%}
            {%- set existing = adapter.get_relation(database=node.database, schema=node.schema,
                                                    identifier=node.alias) -%}
            {%- set wanted = wanted_rules_stamp(node.config) -%}
            {%- if existing is not none and (wanted is none or wanted == built_with_rules(existing)) -%}
                {%- do tables.update({node.unique_id: existing}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {#- Only a build that records watermarks reads the previous ones (not `dbt run`, `dbt test`). -#}
    {%- set previous = {} -%}
    {%- if tables and stored is not none -%}
        {%- for row in run_query("select node, cast(watermark as string) from " ~ watermarks).rows -%}
            {%- do previous.update({row[0]: row[1]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set found = newest_load_times(tables, previous) -%}
    {%- set rescan = {} -%}
    {%- for node, newest in found.items() if newest is none and node in previous -%}
        {%- do rescan.update({node: tables[node]}) -%}
    {%- endfor -%}
    {%- do found.update(newest_load_times(rescan, {})) -%}
    {%- set rows = [] -%}
    {%- for node, newest in found.items() | sort if newest is not none -%}
        {%- do rows.append("('" ~ node ~ "', timestamp'" ~ newest ~ "')") -%}
    {%- endfor -%}
    {%- if rows -%}
        {%- do run_query("create schema if not exists " ~ watermarks.schema) -%}
        {%- do run_query("create or replace table " ~ watermarks ~ " using delta as select * from values "
                         ~ rows | join(", ") ~ " as t(node, watermark)") -%}
        {#- The tests look it up in dbt's relation cache, filled before this hook ran. -#}
        {%- do adapter.cache_added(watermarks.incorporate(type='table')) -%}
    {%- elif stored is not none -%}
        {%- do run_query("drop table " ~ watermarks) -%}
        {%- do adapter.cache_dropped(watermarks) -%}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}


{#- {node: newest last_ingested_at as text, or none} for {node: relation}, in one query; a node with a
    previous watermark reads only the rows at or after it. -#}
{% macro newest_load_times(tables, previous) -%}
    {%- set selects = [] -%}
    {%- for node, relation in tables.items() | sort -%}
        {%- set since = previous.get(node) -%}
        {%- do selects.append("select '" ~ node ~ "' as node, cast(max(last_ingested_at) as string) as watermark"
                              ~ " from " ~ relation
                              ~ (" where last_ingested_at >= timestamp'" ~ since ~ "'" if since else "")) -%}
    {%- endfor -%}
    {%- set found = {} -%}
    {%- if selects -%}
        {%- for row in run_query(selects | join(" union all ")).rows -%}
            {%- do found.update({row[0]: row[1]}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}


{#- The predicate limiting a test of the node under test to what this run changed (by its test_scope), or none. -#}
{% macro test_scope_predicate(relation) -%}
    {%- set attached = model.get('attached_node') if execute else none -%}
    {%- set scope = graph.nodes[attached].config.get('test_scope') if attached else none -%}
    {%- if scope not in ('changed_dates', 'changed_rows', 'new_batches', 'newest_list', 'newest_run', 'when_written')
            or flags.WHICH != 'build' or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if scope == 'newest_list' -%}
        {{ return(newest_value_predicate(relation, 'list_date', 'date')) }}
    {%- endif -%}
    {%- if scope == 'newest_run' -%}
        {{ return(newest_value_predicate(newest_run_relation(graph.nodes[attached], relation), 'run_id')) }}
    {%- endif -%}
    {%- if scope == 'when_written' -%}
        {{ return(written_this_run_predicate(relation)) }}
    {%- endif -%}
    {%- set watermarks = test_watermark_relation() -%}
    {%- if adapter.get_relation(database=none, schema=watermarks.schema, identifier=watermarks.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set owner = 'model.recolake.cleaned_events' if scope == 'new_batches' else attached -%}
    {%- set rows = run_query("select cast(watermark as string) from " ~ watermarks
                             ~ " where node = '" ~ owner ~ "'").columns[0].values() -%}
    {%- if rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if scope == 'new_batches' -%}
        {{ return("ingested_at > timestamp'" ~ rows[0] ~ "'") }}
    {%- endif -%}
    {%- if scope == 'changed_rows' -%}
        {{ return("last_ingested_at > timestamp'" ~ rows[0] ~ "'") }}
    {%- endif -%}
    {%- set dates = run_query("select distinct cast(event_date as string) from " ~ relation
                              ~ " where last_ingested_at > timestamp'" ~ rows[0] ~ "'").columns[0].values() -%}
    {{ return(dates_predicate('event_date', dates) | trim) }}
{%- endmacro %}


{#- test_scope newest_list (the served lists, ml.served_recommendations, one partition per list date:
    the history grows by a day's changed lists each day and was checked when written) and newest_run (the
    lists, one run_id per user's list: a daily update's changed users, everyone after a refit): the rows
    of the column's newest value, `column = <literal>'<newest>'`; none when the table is empty. Run ids
    start with the run's start time (ml/run.py), so the newest is the greatest. A row test of the newest
    run's rows reads the table once; scoping to its users (every row of theirs) read it twice and took
    longer at 10M events than the unscoped test. -#}
{% macro newest_value_predicate(relation, column, literal='') -%}
    {#- max() of the string, not of a date: see macros/sql/served_lists.sql. -#}
    {%- set newest = run_query('select max(cast(' ~ column ~ ' as string)) from ' ~ relation)
                              .columns[0].values() -%}
    {%- if newest | length == 0 or newest[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(column ~ " = " ~ literal ~ "'" ~ newest[0] ~ "'") }}
{%- endmacro %}


{#- Where a model's newest run is read: the model, or for a view the relation that holds the same run_ids
    one row per list (the view would explode every list to find the greatest): the one relation it reads
    (stg_ml__recommendations reads stg_ml__recommendation_lists), or the model named by its config
    newest_run_from (user_recommendations reads the lists and the products' attributes). -#}
{% macro newest_run_relation(node, relation) -%}
    {%- set parents = node.depends_on.nodes -%}
    {%- set named = node.config.get('newest_run_from') -%}
    {%- if named -%}
        {%- set parents = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                          | selectattr('name', 'equalto', named) | map(attribute='unique_id') | list -%}
    {%- endif -%}
    {%- if node.config.materialized != 'view' or parents | length != 1 -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set parent = graph.nodes.get(parents[0]) or graph.sources.get(parents[0]) -%}
    {%- set found = adapter.get_relation(database=none, schema=parent.schema,
                                         identifier=parent.alias or parent.identifier) -%}
    {#- absent (a source before the first ML run): the view, empty, answers -#}
    {{ return(found if found is not none else relation) }}
{%- endmacro %}


{#- test_scope: when_written (tables rewritten only now and then: similar_products, at refits): an
    incremental build tests them when this run wrote them, `false` otherwise (their rows were tested
    when written). -#}
{% macro written_this_run_predicate(relation) -%}
    {%- set last = run_query('describe history ' ~ relation ~ ' limit 1').columns['timestamp'].values() -%}
    {%- if last | length == 0 or last[0].strftime('%Y-%m-%d %H:%M:%S.%f')
            >= run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return('false') }}
{%- endmacro %}
