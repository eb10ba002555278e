"""python3 -m qq_gateway_relay_client: the relay-subscriber command."""
import sys

from .cli import main

sys.exit(main())
