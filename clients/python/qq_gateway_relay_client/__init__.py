"""A qq-gateway-relay subscriber that never misses a message: it notices relay_seq gaps and fills them from the
relay's replay endpoint, and it resumes where it stopped after a restart (docs/subscribing.md is the contract)."""
from .cluster import ClusterJournal, ClusterSubscriber, RecentIds
from .shapes import CurveKeys, Message, Meta, Sink
from .subscriber import Journal, Subscriber

# The relay's version (project(... VERSION) in its CMakeLists.txt); tests/integration/test_client_packages.py
# checks that the two agree, and with clients/node/package.json.
__version__ = "0.2.0"

__all__ = ["ClusterJournal", "ClusterSubscriber", "CurveKeys", "Journal", "Message", "Meta", "RecentIds", "Sink",
           "Subscriber", "__version__"]
