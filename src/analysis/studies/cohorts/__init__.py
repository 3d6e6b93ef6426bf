"""The harmonised ageing cohorts (HRS, ELSA, SHARE, CHARLS; restricted, users bring their files) and
the SYNTHETIC cohort of known truth that the project ships.
"""

#: The study's pipeline steps, ``python -m analysis cohorts <step>``: step -> module of this folder whose
#: ``stage()`` runs it (see analysis.cli). The modules are imported only when their step runs.
STEPS = {"simulate": "synthetic", "clean": "clean", "models": "models", "report": "report"}
