"""Decommissioning hello: nothing was created outside its runtime instances, so it only says so."""

import json
import sys

snapshot = json.load(sys.stdin)
print(f"decommissioning hello v{snapshot['version']} of {snapshot['instance']['name']}: nothing to remove")
