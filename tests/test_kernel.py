"""(d) Continuous time: one input spike, integrated exactly, gives epsilon(t) of Eq. (1)."""
import brian2 as b2
import numpy as np
import pytest

from brian_decolle import NetworkConfig, build_network

pytestmark = pytest.mark.quick   # (the working subset: -m quick)


def epsilon(t, tau_mem, tau_syn):
    t = np.asarray(t)
    return np.where(t >= 0, (np.exp(-t / tau_mem) - np.exp(-t / tau_syn)) / (1 - tau_syn / tau_mem), 0.0)


def test_one_spike_gives_the_closed_form_kernel():
    n_steps, spike_step, dt = 300, 20, 0.5
    tau_mem, tau_syn = 25.0, 6.0
    spikes = np.zeros((n_steps, 1))
    spikes[spike_step, 0] = 1
    cfg = NetworkConfig(n_inputs=1, layer_sizes=(2,), readout_sizes=1, dynamics="continuous", dt_ms=dt,
                        tau_mem_ms=tau_mem, tau_syn_ms=tau_syn, lr=0.0)
    dn = build_network(cfg, spikes, [np.zeros((n_steps, 1))], record_state=("p",))
    # the monitors sit at the end of a step, when the ODEs have already advanced by dt;
    # the spike of step k enters q at the reset of step k, i.e. at time (k + 1) dt
    dn.run()
    p = dn.state(0, "p")[:, 0]
    t_state = (np.arange(n_steps) + 1) * dt
    expected = epsilon(t_state - (spike_step + 1) * dt, tau_mem, tau_syn)
    assert np.max(expected) > 0.5
    assert np.max(np.abs(p - expected)) <= 1e-9


def test_random_time_constants_lie_in_the_papers_range():
    cfg = NetworkConfig(n_inputs=50, layer_sizes=(200,), readout_sizes=1, dynamics="continuous", random_tau=True)
    dn = build_network(cfg, np.zeros((2, 50)), [np.zeros((2, 1))])
    dn.run()
    for group in (dn.inputs, dn.layers[0].neurons):
        for var in ("tau_mem", "tau_syn"):
            taus = np.asarray(getattr(group, var)[:] / b2.ms)
            assert taus.min() >= 10 and taus.max() <= 35 and taus.std() > 5
