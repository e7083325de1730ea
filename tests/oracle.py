"""Autograd oracle (JAX, float64): the layer-local DECOLLE loss of one step as a
function of (W, b), with every trace detached, differentiated by jax.grad.

The surrogates are written here as plain sigma(u); jax differentiates them, so
the library's hand-written sigma'(u) is checked, not copied.
"""
import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

SIGMA = {
    "sigmoid": lambda u: 1 / (1 + jnp.exp(-u)),
    "fast_sigmoid": lambda u: 0.5 + u / (1 + 10 * jnp.abs(u)),
    "box": lambda u: jnp.clip(u + 0.5, 0.0, 1.0),
}


#: costs without a hand-written rule (loss='custom'), written independently of the derivation, by loss_expr
SOFTMAX_CROSS_ENTROPY = "-yhat*log(exp(y)/sum(exp(y)))"
CHARBONNIER = "(sqrt(1 + (y - yhat)**2) - 1)/n_out"
CUSTOM = {SOFTMAX_CROSS_ENTROPY: lambda y, yhat: -jnp.sum(yhat * jax.nn.log_softmax(y)),
          CHARBONNIER: lambda y, yhat: jnp.mean(jnp.sqrt(1 + (y - yhat) ** 2) - 1)}


def _loss(y, yhat, cfg):
    if cfg.loss == "custom":
        return CUSTOM[cfg.loss_expr](y, yhat)
    d = y - yhat
    if cfg.loss == "mse":
        return jnp.mean(d ** 2)
    ad = jnp.abs(d)
    return jnp.mean(jnp.where(ad < 1, 0.5 * d ** 2, ad - 0.5))


def readout_loss(u, mask, own_p, g, c, yhat, cfg):
    """The local readout's loss and the regularisers, as functions of the membrane potential u."""
    sigma = SIGMA[cfg.surrogate]
    sg = jax.lax.stop_gradient
    if cfg.readout_input == "sigmoid":
        a = sigma(u)
    elif cfg.readout_input == "spike":
        a = sg((u > 0).astype(u.dtype)) + sigma(u) - sg(sigma(u))
    else:  # the neuron's own filtered spikes, with sigma'(u) as straight-through gradient
        a = sg(own_p) + sigma(u) - sg(sigma(u))
    y = (mask * a) @ g + c
    loss = _loss(y, yhat, cfg)
    loss += cfg.reg_u * jnp.mean(jax.nn.relu(u + cfg.u_offset))
    loss += cfg.reg_rate * jax.nn.relu(jnp.mean(cfg.rate_target - 1 / (1 + jnp.exp(-u))))
    return loss


def layer_loss(params, p_pre, r, mask, own_p, g, c, yhat, cfg):
    """L(W, b) of one dense layer at one step; the forward spike is the step, its gradient the surrogate's."""
    w, b = params
    return readout_loss(p_pre @ w + b + r, mask, own_p, g, c, yhat, cfg)


def conv_layer_loss(params, p_pre, r, mask, own_p, g, c, yhat, cfg, layer=0):
    """L(K, b) of one convolutional layer (stride, zero padding, then max-pool of u).

    p_pre: (C_in, H, W) traces; r: (C_out, H', W') refractory states; K: torch's
    (out, in, row, column); the pool passes the first maximum of each window, as
    torch's max_pool2d, so only that member gets the gradient.
    """
    kernel, b = params
    conv = cfg.conv_layers[layer]
    u = jax.lax.conv_general_dilated(p_pre[None], kernel, (conv.stride, conv.stride),
                                     [(conv.padding, conv.padding)] * 2,
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))[0]
    u = u + b[:, None, None] + r
    k = conv.pool
    ch, h, w = u.shape
    ph, pw = h // k, w // k
    windows = u[:, :ph * k, :pw * k].reshape(ch, ph, k, pw, k).transpose(0, 1, 3, 2, 4).reshape(ch, ph, pw, k * k)
    first = jax.lax.stop_gradient(jnp.argmax(windows, axis=-1))
    pooled = jnp.take_along_axis(windows, first[..., None], axis=-1)[..., 0]
    return readout_loss(pooled.ravel(), mask, own_p, g, c, yhat, cfg)


grad = jax.jit(jax.grad(layer_loss), static_argnums=(8,))
conv_grad = jax.jit(jax.grad(conv_layer_loss), static_argnums=(8, 9))
