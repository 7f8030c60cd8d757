"""The FHIR R4 read API at /fhir: `router` (HTTP, access, audit) over `resources` (the mapping, pure)."""
