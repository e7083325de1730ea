{# Brian2's 'synapses' template (a pathway) for the forward synapses of a declared Convolution
   (brian_decolle/codegen.py): each event of this step (read from the source's eventspace) runs over
   the connections of its unit, computing every index: an input unit (on_pre) over the outputs and
   kernel entries its taps reach, an output unit (on_post, e.g. a learning event) over its taps in the
   order of their input units (Brian2's queue order). #}
{# USES_VARIABLES { N } #}
{% extends 'common_group.cpp' %}
{% import 'blocked_common.cpp' as blocked with context %}

{% block maincode %}
{% set c_in, h_in, w_in = layout.input_shape %}
{% set c_out, h_out, w_out = layout.output_shape %}
{% set k, s, pad = layout.size, layout.stride, layout.padding %}
    {{ blocked.check_convolution(owner, variables, layout, get_array_name, constant_or_scalar) }}
    {{ blocked.open_event_loop(owner, variables, layout, get_array_name, constant_or_scalar, eventspace_name,
                               n_source, scalar_code) }}
        {% if side == 'pre' %}
        const int _b = _unit / {{c_in * h_in * w_in}}, _ci = (_unit / {{h_in * w_in}}) % {{c_in}};
        const int _iy = (_unit / {{w_in}}) % {{h_in}}, _ix = _unit % {{w_in}};
        for(int _co=0; _co<{{c_out}}; _co++)
        for(int _dy={{k - 1}}; _dy>=0; _dy--)
        {
            const int _row = _iy + {{pad}} - _dy;   // = _y*stride
            if (_row < 0 || _row % {{s}} != 0 || _row / {{s}} >= {{h_out}})
                continue;
            const int _y = _row / {{s}};
            for(int _dx={{k - 1}}; _dx>=0; _dx--)
            {
                const int _column = _ix + {{pad}} - _dx;
                if (_column < 0 || _column % {{s}} != 0 || _column / {{s}} >= {{w_out}})
                    continue;
                const int _x = _column / {{s}};
        {% else %}
        const int _b = _unit / {{c_out * h_out * w_out}}, _co = (_unit / {{h_out * w_out}}) % {{c_out}};
        const int _y = (_unit / {{w_out}}) % {{h_out}}, _x = _unit % {{w_out}};
        for(int _ci=0; _ci<{{c_in}}; _ci++)
        for(int _dy=0; _dy<{{k}}; _dy++)
        {
            const int _iy = _y*{{s}} + _dy - {{pad}};
            if (_iy < 0 || _iy >= {{h_in}})
                continue;
            for(int _dx=0; _dx<{{k}}; _dx++)
            {
                const int _ix = _x*{{s}} + _dx - {{pad}};
                if (_ix < 0 || _ix >= {{w_in}})
                    continue;
        {% endif %}
                const size_t _vectorisation_idx = _unit;
                // vector code
                {{vector_code|autoindent}}
            }
        }
    }
{% endblock %}
