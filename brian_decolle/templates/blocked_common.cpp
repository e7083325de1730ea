{# Macros of the blocked templates (brian_decolle/codegen.py): synapses (b, i, j) stored at
   (b*n_pre + i)*n_post + j, looped over i, then b, then j innermost (contiguous synapses; a row of a
   shared kernel is read once for all blocks). #}

{% macro stop_unless_layout_holds(owner, layout, layout_failure_file) %}
        if (!_layout_holds)
        {
            // (Brian2 reports a failed run without its output: the message also goes to a file, which
            // DecolleStandaloneDevice.run reads)
            const char* _message = "{{owner.name}}: the synapses are not the declared layout {{layout}} "
                                   "(brian_decolle.codegen); build with loops='generic'";
            std::cout << _message << std::endl;
            std::ofstream("{{layout_failure_file}}") << _message << std::endl;
            exit(1);
        }
        _layout_checked = true;
{% endmacro %}

{% macro check_layout(owner, variables, layout, checks, get_array_name, constant_or_scalar) %}
    // the declared layout, checked once per run against the index arrays Brian2 built
    static bool _layout_checked = false;
    if (!_layout_checked)
    {
        const int _n_synapses = {{constant_or_scalar('N', variables['N'])}};
        bool _layout_holds = _n_synapses == {{layout.n_synapses}};
        for(int _b=0; _layout_holds && _b<{{layout.blocks}}; _b++)
            for(int _i=0; _i<{{layout.n_pre}}; _i++)
                for(int _j=0; _j<{{layout.n_post}}; _j++)
                {
                    const int _idx = (_b*{{layout.n_pre}} + _i)*{{layout.n_post}} + _j;
                    {% for array, expression in checks %}
                    _layout_holds = _layout_holds && {{get_array_name(variables[array])}}[_idx] == {{expression}};
                    {% endfor %}
                }
        {{ stop_unless_layout_holds(owner, layout, layout_failure_file) }}
    }
{% endmacro %}

{% macro open_loops(layout, parallel_rows, independent) %}
    {% if parallel_rows %}
    {{openmp_pragma('parallel-static')}}
    {% endif %}
    for(int _i=0; _i<{{layout.n_pre}}; _i++)
    for(int _b=0; _b<{{layout.blocks}}; _b++)
    {
        {% if independent %}
        #pragma GCC ivdep
        {% endif %}
        for(int _j=0; _j<{{layout.n_post}}; _j++)
        {
            const int _idx = (_b*{{layout.n_pre}} + _i)*{{layout.n_post}} + _j;
            const size_t _vectorisation_idx = _idx;
{% endmacro %}
