"""The GSS panels (2006-2014 and 2016-2020): within-person change in social contact and health.
"""

#: The study's pipeline steps, ``python -m analysis gss <step>``: step -> module of this folder whose
#: ``stage()`` runs it (see analysis.cli). The modules are imported only when their step runs.
STEPS = {"fetch": "source", "clean": "clean", "models": "models", "report": "report", "reach": "reach"}
