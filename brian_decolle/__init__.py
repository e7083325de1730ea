"""Deep Continuous Local Learning (DECOLLE) as Brian2 equations."""
from importlib import metadata as _metadata

from .checks import ConfigError
from .config import ConvLayer, LayerSpec, NetworkConfig
from .network import DecolleNetwork, build_network

try:
    __version__ = _metadata.version("brian-decolle")
except _metadata.PackageNotFoundError:   # a source tree that was not installed
    __version__ = "unknown"

__all__ = ["ConfigError", "ConvLayer", "LayerSpec", "NetworkConfig", "DecolleNetwork", "build_network",
           "__version__"]
