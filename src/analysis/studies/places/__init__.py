"""US counties within states: PLACES 2024 and County Health Rankings (ecological).
"""

#: The study's pipeline steps, ``python -m analysis places <step>``: step -> module of this folder whose
#: ``stage()`` runs it (see analysis.cli). The modules are imported only when their step runs.
STEPS = {"fetch": "source", "clean": "clean", "models": "models", "report": "report",
         "fetch-infrastructure": "fetch_infrastructure", "infrastructure": "infrastructure"}
