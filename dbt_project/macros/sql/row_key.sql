{#
    A 128-bit key of a list of typed expressions, as 32 lower-case hex characters: two 64-bit
    xxhash64 values, one seeded by the tag alone and one by the tag and a second constant. It hashes
    the typed values themselves (no cast to text and no concatenation, which cost most of the keys'
    time at the seed's month), and a bit mask of the null inputs, because xxhash64 skips nulls:
    without it (null, 'x') and ('x', null) would share a key. The tag keeps keys of different
    kinds apart. 128 bits keep an accidental collision out of reach (about 1e-23 at 64M rows).
#}
{% macro row_key(tag, expressions) %}
    {%- set hashed -%}
        ({% for e in expressions %}if({{ e }} is null, {{ 2 ** loop.index0 }}, 0){{ " + " if not loop.last }}{% endfor %}), {{ expressions | join(', ') }}
    {%- endset -%}
    lower(concat(
        lpad(hex(xxhash64('{{ tag }}', {{ hashed }})), 16, '0'),
        lpad(hex(xxhash64('{{ tag }}', 'second half', {{ hashed }})), 16, '0')
    ))
{%- endmacro %}
