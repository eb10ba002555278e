# Shard leases: the Redis scripts as data, their key names and the pure LeaseKeeper state machine.
target_sources(relay_cluster PRIVATE lease_keeper.cpp lease_keys.cpp lease_scripts.cpp)
