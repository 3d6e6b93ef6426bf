"""NHANES 1999-2008 with NCHS mortality to 2019: the spine of the analysis.

source (codebook items, readers) -> measures -> schema -> clean (analysis table, flow, dictionary) ->
models (Cox, GLM, multilevel; records) -> metrics (headline numbers) -> report (tables, figures).
"""

#: The study's pipeline steps, ``python -m analysis nhanes <step>``: step -> module of this folder whose
#: ``stage()`` runs it (see analysis.cli). The modules are imported only when their step runs.
STEPS = {"fetch": "source", "clean": "clean", "models": "models", "impute": "imputation", "exposures": "exposures",
         "sensitivity": "sensitivity", "specifications": "specifications", "report": "report",
         # issue 22: cognition and dementia, and who is left out (their own stages; the analysis table is unchanged)
         "fetch-cognition": "cognition_source", "clean-cognition": "cognition_clean", "cognition": "cognition",
         "reach": "reach"}
