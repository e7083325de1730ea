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

{% macro check_convolution(owner, variables, layout, get_array_name, constant_or_scalar) %}
{% set c_in, h_in, w_in = layout.input_shape %}
{% set c_out, h_out, w_out = layout.output_shape %}
{% set k, s, pad = layout.size, layout.stride, layout.padding %}
    {% set pre_array = get_array_name(variables['_synaptic_pre']) %}
    {% set post_array = get_array_name(variables['_synaptic_post']) %}
    // the declared convolution, checked once per run against the index arrays Brian2 built: every
    // synapse one of its connections, each connection once, all of them
    static bool _layout_checked = false;
    if (!_layout_checked)
    {
        const int _n_synapses = {{constant_or_scalar('N', variables['N'])}};
        bool _layout_holds = _n_synapses == {{layout.n_synapses}};
        std::vector<bool> _seen(_layout_holds ? {{layout.blocks * c_out * h_out * w_out * c_in * k * k}} : 0, false);
        for(int _idx=0; _layout_holds && _idx<_n_synapses; _idx++)
        {
            const int _pre = {{pre_array}}[_idx];
            const int _b = _pre / {{c_in * h_in * w_in}}, _ci = (_pre / {{h_in * w_in}}) % {{c_in}};
            const int _iy = (_pre / {{w_in}}) % {{h_in}}, _ix = _pre % {{w_in}};
            {% if layout.role == 'forward' %}
            const int _out = {{post_array}}[_idx];
            const int _entry = {{get_array_name(variables['kidx'])}}[_idx];
            {% else %}
            const int _out = {{get_array_name(variables['oidx'])}}[_idx];
            const int _entry = {{post_array}}[_idx];
            {% endif %}
            const int _co = (_out / {{h_out * w_out}}) % {{c_out}}, _y = (_out / {{w_out}}) % {{h_out}};
            const int _x = _out % {{w_out}};
            const int _dy = _iy - _y*{{s}} + {{pad}}, _dx = _ix - _x*{{s}} + {{pad}};
            _layout_holds = _out / {{c_out * h_out * w_out}} == _b && _dy >= 0 && _dy < {{k}} && _dx >= 0
                            && _dx < {{k}} && _entry == ((_ci*{{c_out}} + _co)*{{k}} + _dy)*{{k}} + _dx;
            if (_layout_holds)
            {
                const size_t _slot = ((size_t)_out*{{c_in}} + _ci)*{{k * k}} + _dy*{{k}} + _dx;
                _layout_holds = !_seen[_slot];
                _seen[_slot] = true;
            }
        }
        {{ stop_unless_layout_holds(owner, layout, layout_failure_file) }}
    }

{% endmacro %}

{% macro check_no_delays(owner, variables, layout, get_array_name, constant_or_scalar) %}
    // a pathway without a queue delivers every event in its own step: every delay must be 0
    static bool _delays_checked = false;
    if (!_delays_checked)
    {
        bool _layout_holds = true;
        const int _n_synapses = {{constant_or_scalar('N', variables['N'])}};
        for(int _idx=0; _layout_holds && _idx<_n_synapses; _idx++)
            _layout_holds = {{get_array_name(variables['delay'])}}[_idx] == 0;
        {{ stop_unless_layout_holds(owner, layout ~ " with delays 0", layout_failure_file) }}
        _delays_checked = true;
    }
{% endmacro %}

{% macro open_event_loop(owner, variables, layout, get_array_name, constant_or_scalar, eventspace_name, n_source,
                          scalar_code) %}
    {# a pathway's scalar code, then a loop over this step's events of its source (the unit of each is
       _unit); the template closes the loop #}
    {{ check_no_delays(owner, variables, layout, get_array_name, constant_or_scalar) }}
    {% set _events = get_array_name(variables[eventspace_name]) %}
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    const int _n_events = {{_events}}[{{n_source}}];
    for(int _event=0; _event<_n_events; _event++)
    {
        const int _unit = {{_events}}[_event];
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
