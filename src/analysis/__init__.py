"""connected-health: social connection, depression, cardiovascular disease and mortality.

The package reads like the pipeline (see ``dvc.yaml``):

``fetch`` (download or mirror, verify, record provenance) ->
``sources`` (read the publisher's files into tidy frames) ->
``measures`` (derived variables, each citing its codebook items) ->
``clean`` (one validated analysis table per study, with its cohort flow and data dictionary) ->
``models`` (fit from specs in ``params.yaml``, return tidy result records) ->
``report`` (tables, figures, manuscript).
"""

__version__ = "0.1.0"
