"""Deep Continuous Local Learning (DECOLLE) as Brian2 equations."""
from .config import ConfigError, ConvLayer, LayerSpec, NetworkConfig
from .network import DecolleNetwork, build_network

__all__ = ["ConfigError", "ConvLayer", "LayerSpec", "NetworkConfig", "DecolleNetwork", "build_network"]
