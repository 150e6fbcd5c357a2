"""The alert rules as pure domain: no store, no publisher, no clock of their own.

:mod:`core.alerting.policy` decides the next state of one alert fingerprint from its previous
state and the level a check measured; the alert use case (:mod:`jobs.alerts`) loads and saves
the rows and says what the decision implies.
"""
