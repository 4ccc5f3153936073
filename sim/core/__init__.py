"""The model: a validated scenario and one simulated trial of it.

Scenario schema and loading, distributions, random streams, referral, per-patient draws,
the patient record, the resource stations and the pathway's SimPy processes. The lowest
layer: it imports nothing else of the package.
"""
