{# Brian2's 'summed_variable' template for synapses of a declared layout (brian_decolle/codegen.py,
   blocked_common.cpp): each synapse's indices are computed, not loaded. target_index: the summed
   target's index as C++ of the loop counters; target_varies: whether it differs between the synapses
   of a row (then the inner loop vectorises). Each target sums its synapses in Brian2's order. #}
{# USES_VARIABLES { N } #}
{% extends 'common_group.cpp' %}
{% import 'blocked_common.cpp' as blocked with context %}

{% block maincode %}
    {% set _target_var_array = get_array_name(_target_var) %}
    {{ blocked.check_layout(owner, variables, layout, checks, get_array_name, constant_or_scalar) }}
    //// MAIN CODE ////////////
    const int _target_size = {{constant_or_scalar(_target_size_name, variables[_target_size_name])}};

    // Set all the target variable values to zero
    {{ openmp_pragma('parallel-static') }}
    for (int _target_idx=0; _target_idx<_target_size; _target_idx++)
    {
        {{_target_var_array}}[_target_idx] = 0;
    }

    // scalar code
    const size_t _vectorisation_idx = -1;
    {{scalar_code|autoindent}}

    {{ blocked.open_loops(layout, False, target_varies) }}
            // vector code
            {{vector_code|autoindent}}
            {{_target_var_array}}[{{target_index}}] += _synaptic_var;
        }
    }
{% endblock %}
