"""Schemathesis hooks of .ci/contract (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

# The bulk import reads NDJSON (one JSON object a line) as text: generated bodies go on the wire
# as text, as they do for text/csv.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
