"""Pure builders: the typed mesh model plus a Topology -> Envoy v3 configuration dicts.

API used by the runtime (localmesh/runtime) and by `localmesh render`:

    build_resources(mesh, topology, config_dir=None) -> EnvoyResources
        listeners, clusters, route_configs (Envoy v3 dicts) and warnings (one string each,
        naming resource, field path and file:line). With config_dir, every listener reads its
        routes by RDS from <config_dir>/<rds file>; without, routes are inline in the listener.
    build_bootstrap(topology, config_dir) -> dict
        node, admin and dynamic_resources reading LDS and CDS from <config_dir>/lds.json and
        <config_dir>/cds.json (path_config_source + watched_directory: replace files by atomic
        rename and Envoy reloads them without a restart).
    discovery_files(resources, config_dir=None) -> {file name: DiscoveryResponse dict}
        lds.json, cds.json and one rds_<name>.json per route configuration. config_dir (here or
        given to build_resources) makes listeners use those RDS files, so a route change never
        touches a listener (no drain, no failed request in flight).
    build_static_config(mesh, topology) -> dict
        one self-contained static bootstrap (what `localmesh render` prints).
"""

from localmesh.envoy.bootstrap import build_bootstrap, build_static_config, discovery_files
from localmesh.envoy.resources import EnvoyResources, build_resources

__all__ = [
    "EnvoyResources",
    "build_bootstrap",
    "build_resources",
    "build_static_config",
    "discovery_files",
]
