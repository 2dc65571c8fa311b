"""MLflow integration: the `modelcatalog://host:port` registry URI scheme.

Installing this package registers, through MLflow's entry points,

- a model registry store for `modelcatalog://` URIs, speaking the Unity Catalog model-registry
  dialect of the catalog server (`ModelCatalogRegistryStore`), and
- an artifact repository for the `modelcatalog://host:port/models/<c.s.m>/versions/<n>` URIs that
  store hands out when MLflow resolves `models:/` URIs (`ModelCatalogArtifactRepository`).

`modelcatalog://host:port` is plain HTTP; `modelcatalog://host:port?tls=true` (or
`modelcatalog+https://host:port`, where that scheme is registered) is HTTPS. The token comes from
`MODELCATALOG_TOKEN`, else from the file `modelcatalog login` writes.
"""
