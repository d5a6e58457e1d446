"""Names the infrastructure and the runtime must agree on, each defined once.

Standard library only: the constructs import this package (and no other runtime module) to wire the
functions, alarms and event rules; the handlers import it to read their settings and to publish.

- :mod:`.settings`: every function's environment variables, as typed settings (``env()`` for the
  constructs, ``from_env()`` for the handlers);
- :mod:`.events`: event sources and detail-types;
- :mod:`.metrics`: the metric namespace, each metric's dimensions and publisher, the handlers;
- :mod:`.layout`: the configuration bucket's layout, backup ids, report keys, the validator's user;
- :mod:`.checks`: the integrity-check schema, shared by the policy (synth) and the validator (run).
"""
