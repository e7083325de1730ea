{# Brian2's 'synapses' template (a pathway: on_pre, on_post, on a spike or a custom event) for synapses
   of a declared Blocks layout (brian_decolle/codegen.py): instead of the synapse indices a spike queue
   delivers, each event of this step (read from the source's eventspace) runs over its own synapses,
   whose indices the loop computes: a presynaptic unit b*n_pre + i over j (contiguous synapses), a
   postsynaptic unit b*n_post + j over i. Events in the eventspace's order, and each event's synapses
   in index order: Brian2's queue order. #}
{# USES_VARIABLES { N } #}
{% extends 'common_group.cpp' %}
{% import 'blocked_common.cpp' as blocked with context %}

{% block maincode %}
    {{ blocked.check_layout(owner, variables, layout, checks, get_array_name, constant_or_scalar) }}
    {{ blocked.open_event_loop(owner, variables, layout, get_array_name, constant_or_scalar, eventspace_name,
                               n_source, scalar_code) }}
        {% if side == 'pre' %}
        const int _b = _unit / {{layout.n_pre}}, _i = _unit % {{layout.n_pre}};
        {% if inner_independent %}
        #pragma GCC ivdep
        {% endif %}
        for(int _j=0; _j<{{layout.n_post}}; _j++)
        {% else %}
        const int _b = _unit / {{layout.n_post}}, _j = _unit % {{layout.n_post}};
        {% if inner_independent_i %}
        #pragma GCC ivdep
        {% endif %}
        for(int _i=0; _i<{{layout.n_pre}}; _i++)
        {% endif %}
        {
            const int _idx = (_b*{{layout.n_pre}} + _i)*{{layout.n_post}} + _j;
            const size_t _vectorisation_idx = _idx;
            // vector code
            {{vector_code|autoindent}}
        }
    }
{% endblock %}
