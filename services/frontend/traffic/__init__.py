"""Simulated shop customers for the ads A/B experiment (Locust, headless).

Run from services/frontend:  python -m traffic --host http://127.0.0.1:8080 --rate 5 --duration 60
Modules: config (validated arguments), shop (parsing the shop's HTML), customer (the Locust
user), run (the headless runner with progress lines). Importing this package loads no Locust:
Locust monkey-patches the standard library through gevent when imported.
"""
