"""Run the shop's Kubernetes and Istio manifests on one machine through a real Envoy.

Data flows one way: manifest files (loader) -> typed model (model) -> checks (analyze)
-> Envoy configuration (pure builders) -> running processes (runtime).
"""
