"""Deep Continuous Local Learning (DECOLLE) as Brian2 equations."""
from .config import ConfigError, NetworkConfig
from .network import DecolleNetwork, build_network

__all__ = ["ConfigError", "NetworkConfig", "DecolleNetwork", "build_network"]
