"""Deep Continuous Local Learning (DECOLLE) as Brian2 equations."""
from .config import ConfigError, ConvLayer, NetworkConfig
from .network import DecolleNetwork, build_network

__all__ = ["ConfigError", "ConvLayer", "NetworkConfig", "DecolleNetwork", "build_network"]
