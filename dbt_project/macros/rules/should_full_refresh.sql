{#- dbt's own rule (--full-refresh or the full_refresh config), plus one of ours: an incremental
    table that records the rules its rows were decided with (macros/rules/rules_stamp.sql) is
    rebuilt in full when those rules have changed since, so a new quarantine bound re-decides
    every row instead of leaving the old verdicts next to the new ones. Overrides the global
    macro of the same name, which is_incremental() and the incremental materialization call. -#}
{% macro should_full_refresh() %}
    {#- `dbt show --select <incremental model>` previews what the table holds (the full query), not the
        rows a run would merge: those are none when nothing new arrived. -#}
    {%- if flags.WHICH == 'show' -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set forced = config.get('full_refresh') -%}
    {%- if forced is none -%}
        {%- set forced = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if forced -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(rules_changed_since_build()) }}
{% endmacro %}


{% macro rules_changed_since_build() %}
    {%- set wanted = wanted_rules_stamp() -%}
    {%- if not execute or wanted is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set built_with = built_with_rules(this) -%}
    {%- if built_with != wanted -%}
        {%- if not model.get('_rules_change_logged') -%}
            {%- do model.update({'_rules_change_logged': true}) -%}
            {{ log(this ~ ": rules changed (built with '" ~ built_with ~ "', now '" ~ wanted ~ "'): rebuilding it in full", info=true) }}
        {%- endif -%}
        {{ return(true) }}
    {%- endif -%}
    {{ return(false) }}
{% endmacro %}


{#- The rules an existing table was built with (its recolake.rules table property). -#}
{% macro built_with_rules(relation) %}
    {{ return(run_query("show tblproperties " ~ relation ~ " ('recolake.rules')").columns[-1].values()[0]) }}
{% endmacro %}
