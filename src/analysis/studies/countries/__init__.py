"""A country-year panel: World Happiness Report x GBD (ecological).
"""

#: The study's pipeline steps, ``python -m analysis countries <step>``: step -> module of this folder whose
#: ``stage()`` runs it (see analysis.cli). The modules are imported only when their step runs.
STEPS = {"fetch": "source", "clean": "clean", "models": "models", "report": "report"}
