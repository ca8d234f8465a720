"""Provisioning hello: reads the deployment's snapshot on stdin and says what it would set up, line by line."""

import json
import os
import sys
import time

snapshot = json.load(sys.stdin)
instance = snapshot["instance"]
print(f"provisioning hello v{snapshot['version']} for {instance['name']} ({instance['project']}/{instance['environment']})")
time.sleep(0.2)
print(f"params: {json.dumps(snapshot['params'], sort_keys=True)}")
time.sleep(0.2)
# Names only: a secret's value is in the environment, and never printed.
present = [name for name, variable in snapshot["secrets"].items() if variable in os.environ]
print(f"secrets available: {', '.join(present) or 'none'}")
time.sleep(0.2)
print("provisioned")
