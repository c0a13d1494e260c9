"""workshop: hands-on labs on extending Envoy and Istio with WebAssembly, checked live."""

__version__ = "0.1.0"
