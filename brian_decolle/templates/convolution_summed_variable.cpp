{# Brian2's 'summed_variable' template for the synapses of a convolution (brian_decolle/codegen.py,
   Convolution): the loops run over the sum's targets (output units, role 'forward'; kernel entries,
   role 'kernel') and the taps that reach them, computing every index; the innermost loop runs along
   a row of output positions. Each target sums its synapses in Brian2's order (by presynaptic unit). #}
{# USES_VARIABLES { N } #}
{% extends 'common_group.cpp' %}
{% import 'blocked_common.cpp' as blocked with context %}

{% block extra_headers %}
#include<algorithm>
#include<vector>
{% endblock %}

{% block maincode %}
{% set c_in, h_in, w_in = layout.input_shape %}
{% set c_out, h_out, w_out = layout.output_shape %}
{% set k, s, pad = layout.size, layout.stride, layout.padding %}
    {% set _target_var_array = get_array_name(_target_var) %}
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
        {{ blocked.stop_unless_layout_holds(owner, layout, layout_failure_file) }}
    }

    //// MAIN CODE ////////////
    const int _target_size = {{constant_or_scalar(_target_size_name, variables[_target_size_name])}};
    for (int _target_idx=0; _target_idx<_target_size; _target_idx++)
    {
        {{_target_var_array}}[_target_idx] = 0;
    }

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {% if layout.role == 'forward' %}
    // every output unit, from its taps in the order of their presynaptic units (_ci, _iy, _ix), a row of
    // outputs at a time, summed in a local row (which the compiler knows no other array shares)
    for(int _b=0; _b<{{layout.blocks}}; _b++)
    for(int _co=0; _co<{{c_out}}; _co++)
    for(int _y=0; _y<{{h_out}}; _y++)
    {
        {{c_data_type(_target_var.dtype)}} _row[{{w_out}}] = {0};
        for(int _ci=0; _ci<{{c_in}}; _ci++)
        for(int _dy=0; _dy<{{k}}; _dy++)
        {
            const int _iy = _y*{{s}} + _dy - {{pad}};
            if (_iy < 0 || _iy >= {{h_in}})
                continue;
            // one loop per kernel column, over the output columns it reaches (constant bounds)
            {% for first, stop in layout.column_ranges() %}
            {
                const int _dx = {{loop.index0}};
                #pragma GCC ivdep
                for(int _x={{first}}; _x<{{stop}}; _x++)
                {
                    const int _ix = _x*{{s}} + _dx - {{pad}};
                    const size_t _vectorisation_idx = ((_b*{{c_out}} + _co)*{{h_out}} + _y)*{{w_out}} + _x;
                    // vector code
                    {{vector_code|autoindent}}
                    _row[_x] += _synaptic_var;
                }
            }
            {% endfor %}
        }
        for(int _x=0; _x<{{w_out}}; _x++)
            {{_target_var_array}}[{{target_index}}] += _row[_x];
    }
    {% else %}
    // every kernel entry, from its connections in the order of their presynaptic units (_b, _iy, _ix),
    // summed in a local variable (a sum in the target array would be stored and loaded at every step);
    // kernel column dx reaches the output columns [_first_column[dx], _stop_column[dx])
    {% set ranges = layout.column_ranges() %}
    static const int _first_column[{{k}}] = { {{ ranges|map('first')|join(', ') }} };
    static const int _stop_column[{{k}}] = { {{ ranges|map('last')|join(', ') }} };
    for(int _ci=0; _ci<{{c_in}}; _ci++)
    for(int _co=0; _co<{{c_out}}; _co++)
    for(int _dy=0; _dy<{{k}}; _dy++)
    for(int _dx=0; _dx<{{k}}; _dx++)
    {
        // (bounds read from a table: with constant bounds GCC unrolls this short reduction and runs slower)
        const int _x_first = _first_column[_dx], _x_stop = _stop_column[_dx];
        {{c_data_type(_target_var.dtype)}} _sum = 0;
        for(int _b=0; _b<{{layout.blocks}}; _b++)
        for(int _y=0; _y<{{h_out}}; _y++)
        {
            const int _iy = _y*{{s}} + _dy - {{pad}};
            if (_iy < 0 || _iy >= {{h_in}})
                continue;
            for(int _x=_x_first; _x<_x_stop; _x++)
            {
                const int _ix = _x*{{s}} + _dx - {{pad}};
                const size_t _vectorisation_idx = ((_b*{{c_out}} + _co)*{{h_out}} + _y)*{{w_out}} + _x;
                // vector code
                {{vector_code|autoindent}}
                _sum += _synaptic_var;
            }
        }
        {{_target_var_array}}[{{target_index}}] += _sum;
    }
    {% endif %}
{% endblock %}
