{# Brian2's 'stateupdate' template (run_regularly code of a Synapses object) for synapses of a declared
   layout (brian_decolle/codegen.py, blocked_common.cpp): each synapse's indices are computed, not
   loaded. inner_independent / rows_independent: whether the code's writes leave the synapses of a row
   / the rows independent (BlockedCodeGenerator). #}
{# USES_VARIABLES { N } #}
{# ALLOWS_SCALAR_WRITE #}
{% extends 'common_group.cpp' %}
{% import 'blocked_common.cpp' as blocked with context %}

{% block maincode %}
    {{ blocked.check_layout(owner, variables, layout, checks, get_array_name, constant_or_scalar) }}
    //// MAIN CODE ////////////
    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {{ blocked.open_loops(layout, rows_independent, inner_independent) }}
            // vector code
            {{vector_code|autoindent}}
        }
    }
{% endblock %}
