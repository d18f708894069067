"""Offline checks of Kubernetes and Istio manifests, as `kubectl apply` and `istioctl analyze` make them."""

from localmesh.analyze.engine import analyze
from localmesh.analyze.messages import CODES, ERROR, INFO, WARNING, Message

__all__ = ["analyze", "CODES", "ERROR", "INFO", "WARNING", "Message"]
