"""The A/B measurement of the ads canary: storage, statistics, assignment and the report.

Modules (import the one you need; nothing is imported here):
  store      - SQLAlchemy Core tables, engine from DATABASE_URL, counts per segment, reset
  writer     - EventWriter: background batching of impressions and clicks, never blocks a page
  stats      - Wilson interval, two-proportion z-test, SRM check, sample size, verdict
  report     - build_report(): the /experiment.json document
  chart      - ctr_chart_svg(): CTR per version with interval bars, as SVG
  assignment - sticky per-customer arm from a hash of the customer id (AB_SHARE)
  settings   - ExperimentSettings: DATABASE_URL, AB_MODE, AB_SHARE, EXPERIMENT_*, read and checked once
  wiring     - init_app(): attaches all of it to the storefront; extension (what an app holds),
               schema (creating the schema off the request thread), customer (the customer cookie
               and sticky arm), recording (impressions and clicks), views (click route, report pages)

Reset an experiment (deletes all impressions and clicks, keeps the schema), from services/frontend:
  python -m storefront.experiment reset --yes
"""
