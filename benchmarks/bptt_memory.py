"""Peak memory of a backpropagation-through-time baseline of the same 100 -> 3 x 512 network.

The discrete DECOLLE dynamics in JAX (float64), the summed readout losses of all steps
differentiated by jax.grad through lax.scan: memory grows with the sequence length T because
every step's state is kept for the backward pass. Compare with `benchmarks/dense.py memory`.

    python benchmarks/bptt_memory.py T      # prints the peak RSS of this process
"""
import resource
import sys

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

N_INPUTS, NEURONS = 100, 512


def loss(params, spikes, target):
    def step(state, inputs):
        s_in, y_hat = inputs
        new, total, x = [], 0.0, s_in
        for (w, b, g), (p, q, r, s) in zip(params, state):
            p = 0.97 * p + 0.03 * q
            q = 0.92 * q + 0.08 * x
            r = 0.65 * r - 0.35 * s
            u = p @ w + b + r
            sig = jax.nn.sigmoid(u)
            s = jax.lax.stop_gradient((u > 0).astype(u.dtype) - sig) + sig
            total = total + jnp.mean((s @ g - y_hat) ** 2)
            new.append((p, q, r, s))
            x = s
        return new, total

    sizes = [N_INPUTS, NEURONS, NEURONS]
    state = [(jnp.zeros(n), jnp.zeros(n), jnp.zeros(NEURONS), jnp.zeros(NEURONS)) for n in sizes]
    _, losses = jax.lax.scan(step, state, (spikes, target))
    return losses.sum()


def main():
    steps = int(sys.argv[1])
    keys = jax.random.split(jax.random.PRNGKey(0), 8)
    sizes = [N_INPUTS, NEURONS, NEURONS, NEURONS]
    params = [(jax.random.normal(keys[k], (sizes[k], sizes[k + 1])) / jnp.sqrt(sizes[k]), jnp.zeros(sizes[k + 1]),
               jax.random.normal(keys[k + 4], (NEURONS, 1)) / jnp.sqrt(NEURONS)) for k in range(3)]
    spikes = (jax.random.uniform(keys[7], (steps, N_INPUTS)) < 0.05).astype(jnp.float64)
    target = jnp.sin(jnp.arange(steps) * 2 * jnp.pi / 500)[:, None]
    grads = jax.jit(jax.grad(loss))(params, spikes, target)
    jax.block_until_ready(grads)
    print(f"BPTT (JAX, float64) T={steps}: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MB")


if __name__ == "__main__":
    main()
