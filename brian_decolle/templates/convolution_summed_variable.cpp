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
    {{ blocked.check_convolution(owner, variables, layout, get_array_name, constant_or_scalar) }}

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
