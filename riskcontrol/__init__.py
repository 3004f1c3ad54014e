"""riskcontrol: the gate, the lowest app layer; it knows no business model and imports no
other Quanyi app. `core/` (errors, actors, request context, text checks, audit and the
actor-stamped abstract models), `http/` (the partner API's plumbing: problem details,
schema helpers, pagination, the PartnerApi base view, middleware, parsers,
authentication, throttles, health), `partners/` (partner clients, keys, scopes,
idempotency), `console/` (confirmed admin actions, roles, the admin pages, the sealed
upload store), `console_site.py` (the admin site: its sections, its own 404 page),
`rules/` (guessing limits, counters, the Redis fallback; the risk engine grows here) and
`crypto.py` (key ring, AES-GCM, blind index, key-rotation steps). Upper apps declare
their roles, re-encryption steps and console sections in their AppConfig; riskcontrol
collects them. Nothing is re-exported here: settings load parts of this package before models exist.
"""
