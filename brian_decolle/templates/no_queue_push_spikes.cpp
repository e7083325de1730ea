{# Brian2's 'synapses_push_spikes' template for a pathway of synapses of a declared layout
   (brian_decolle/codegen.py): nothing to push, since the pathway's own code reads this step's events
   from the source's eventspace and reaches their synapses through the layout (no spike queue, and
   no per-source synapse lists built for it). Only for pathways without delays. #}
{% extends 'common_group.cpp' %}

{% block maincode %}
    // (no spike queue: {{owner.name}} reads the events of this step itself)
{% endblock %}
